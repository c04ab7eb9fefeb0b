"""Undo and redo of watchlist edits (add, remove, move) on a QUndoStack.

Every edit of the active list goes through :class:`WatchlistUndo`, which pushes a command
that performs it. Undoing a removal puts the rows back where they were with the values
they showed, so nothing waits for a refresh. Switching lists clears the history: the
commands act on the model, which then holds another list.
"""
from __future__ import annotations

from typing import Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QWidget

from atc_desktop.watchlist.model import WatchlistModel
from atc_desktop.watchlist.row import RowState

Taken = list[tuple[int, RowState]]


def _names(symbols: list[str], most: int = 3) -> str:
    shown = ", ".join(symbols[:most])
    return shown + (f" and {len(symbols) - most} more" if len(symbols) > most else "")


class WatchlistUndo(QObject):
    """Performs watchlist edits as undoable commands.

    ``removed`` fires with the symbols any edit (or its undo) took out of the list;
    ``restored`` with those an undo or redo put back with their old values (the owner
    rescreens them).
    """

    removed = Signal(list)
    restored = Signal(list)

    def __init__(self, model: WatchlistModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.stack = QUndoStack(self)

    # -- edits --------------------------------------------------------------------------------
    def add(self, symbols: Iterable[str]) -> list[str]:
        """Append the symbols not in the list yet; returns them."""
        new = [s for s in dict.fromkeys(symbols) if self.model.row_of(s) < 0]
        if new:
            self.stack.push(_Add(self, new))
        return new

    def remove(self, symbols: Iterable[str]) -> list[str]:
        """Remove the symbols that are in the list; returns them in list order."""
        present = sorted({s for s in symbols if self.model.row_of(s) >= 0}, key=self.model.row_of)
        if present:
            self.stack.push(_Remove(self, present))
        return present

    def move(self, symbol: str, to: int) -> bool:
        """Move ``symbol`` to row ``to`` (list order); False when nothing moves."""
        row = self.model.row_of(symbol)
        if row < 0 or row == to or not 0 <= to < self.model.rowCount():
            return False
        self.stack.push(_Move(self, symbol, row, to))
        return True

    def clear(self) -> None:
        self.stack.clear()

    def actions(self, window: QWidget) -> tuple[QAction, QAction]:
        """Undo (Ctrl+Z) and redo (Ctrl+Shift+Z, Ctrl+Y) actions, named after the edit they
        undo, shortcuts live in the whole ``window``. A focused text field keeps its own
        Ctrl+Z."""
        undo = self.stack.createUndoAction(window, "&Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = self.stack.createRedoAction(window, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for act in (undo, redo):
            act.setStatusTip("undo the last watchlist edit" if act is undo else "redo the edit just undone")
            window.addAction(act)
        return undo, redo

    # -- what the commands do -----------------------------------------------------------------
    def _take(self, symbols: list[str]) -> Taken:
        """Remove ``symbols``, returning each one's row and values for putting them back."""
        taken = [(self.model.row_of(s), st) for s in symbols
                 if (st := self.model.state_of(s)) is not None]
        removed = self.model.remove_symbols([st.symbol for _, st in taken])
        if removed:
            self.removed.emit(removed)
        return taken

    def _put(self, taken: Taken) -> None:
        back = self.model.insert_states(taken)
        if back:
            self.restored.emit(back)


class _Add(QUndoCommand):
    def __init__(self, owner: WatchlistUndo, symbols: list[str]) -> None:
        super().__init__(f"add {_names(symbols)}")
        self._owner, self._symbols = owner, symbols
        self._taken: Taken | None = None

    def redo(self) -> None:
        if self._taken is None:                       # the first time: a plain add
            self._owner.model.add_symbols(self._symbols)
        else:
            self._owner._put(self._taken)

    def undo(self) -> None:
        self._taken = self._owner._take(self._symbols)


class _Remove(QUndoCommand):
    def __init__(self, owner: WatchlistUndo, symbols: list[str]) -> None:
        super().__init__(f"remove {_names(symbols)}")
        self._owner, self._symbols = owner, symbols
        self._taken: Taken = []

    def redo(self) -> None:
        self._taken = self._owner._take(self._symbols)

    def undo(self) -> None:
        self._owner._put(self._taken)


class _Move(QUndoCommand):
    MERGE_ID = 1

    def __init__(self, owner: WatchlistUndo, symbol: str, row: int, to: int) -> None:
        super().__init__(f"move {symbol}")
        self._owner, self.symbol, self.start, self.to = owner, symbol, row, to

    def _place(self, row: int) -> None:
        model = self._owner.model
        model.move_row(model.row_of(self.symbol), row)

    def redo(self) -> None:
        self._place(self.to)

    def undo(self) -> None:
        self._place(self.start)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        """Steps of one symbol in a row (Alt+Down, Alt+Down) undo as one move."""
        if not isinstance(other, _Move) or other.symbol != self.symbol:
            return False
        self.to = other.to
        self.setObsolete(self.to == self.start)
        return True
