"""The watchlist table model: rows of :class:`RowState`, cells formatted once per update,
and only the cells whose text, tone or tooltip changed announced to the views."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from atc_desktop.watchlist.columns import COLUMN_INDEX, COLUMNS, ORDER_KEY, Cell, cells_of
from atc_desktop.watchlist.row import RowState

Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
TONE_ROLE = int(Qt.ItemDataRole.UserRole) + 2
_ORDER_COL = COLUMN_INDEX[ORDER_KEY]
_ALIGN = {
    "left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
    "right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
    "center": Qt.AlignmentFlag.AlignCenter,
}
_CHANGED_ROLES = [int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ForegroundRole),
                  int(Qt.ItemDataRole.ToolTipRole), SORT_ROLE, TONE_ROLE]


class WatchlistModel(QAbstractTableModel):
    """Symbols in list order with their latest values.

    ``symbols_edited`` fires after an add, remove or move (the owner persists the list).
    """

    symbols_edited = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._states: list[RowState] = []
        self._cells: list[tuple[Cell, ...]] = []
        self._rows: dict[str, int] = {}
        self._colors: dict[str, QColor] = {}
        #: The screened family the headers name: that of the rows last applied.
        self.family = "EMA"

    # -- reading ------------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        return [s.symbol for s in self._states]

    def row_of(self, symbol: str) -> int:
        return self._rows.get(symbol, -1)

    def state(self, row: int) -> RowState:
        return self._states[row]

    def state_of(self, symbol: str) -> RowState | None:
        row = self._rows.get(symbol)
        return None if row is None else self._states[row]

    def states(self) -> list[RowState]:
        return list(self._states)

    # -- editing the list ---------------------------------------------------------------------
    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Replace every row (a watchlist switch); values start empty."""
        self.beginResetModel()
        self._states = [RowState(s) for s in dict.fromkeys(symbols)]
        self._cells = [cells_of(s) for s in self._states]
        self._reindex()
        self.endResetModel()

    def add_symbol(self, symbol: str) -> bool:
        return bool(self.add_symbols([symbol]))

    def add_symbols(self, symbols: Iterable[str]) -> list[str]:
        """Append the symbols not in the list yet (one insertion, one save); returns them."""
        new = [s for s in dict.fromkeys(symbols) if s not in self._rows]
        if new:
            first = len(self._states)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._states.extend(RowState(s) for s in new)
            self._cells.extend(cells_of(self._states[i]) for i in range(first, len(self._states)))
            self._reindex()
            self.endInsertRows()
            self.symbols_edited.emit()
        return new

    def insert_states(self, items: Iterable[tuple[int, RowState]]) -> list[str]:
        """Put rows back where they were, with their values (undoing a removal): ``items``
        are (row, state) pairs; a row past the end appends and a symbol already in the
        list is skipped. Returns the symbols inserted."""
        inserted = []
        for row, st in sorted(items, key=lambda item: item[0]):   # ascending: rows land as before
            if st.symbol in self._rows:
                continue
            row = min(max(row, 0), len(self._states))
            self.beginInsertRows(QModelIndex(), row, row)
            self._states.insert(row, st)
            self._cells.insert(row, cells_of(st))
            self._reindex()
            self.endInsertRows()
            self._announce_order(row + 1, len(self._states) - 1)
            inserted.append(st.symbol)
        if inserted:
            self.symbols_edited.emit()
        return inserted

    def remove_symbols(self, symbols: Iterable[str]) -> list[str]:
        rows = sorted({self._rows[s] for s in symbols if s in self._rows}, reverse=True)
        removed = []
        for row in rows:                     # bottom-up so the indices stay valid
            self.beginRemoveRows(QModelIndex(), row, row)
            removed.append(self._states.pop(row).symbol)
            del self._cells[row]
            self._reindex()
            self.endRemoveRows()
        if removed:
            self._announce_order(min(rows), len(self._states) - 1)
            self.symbols_edited.emit()
        return removed

    def move_row(self, row: int, to: int) -> bool:
        """Move ``row`` to position ``to`` (both in list order)."""
        n = len(self._states)
        if not (0 <= row < n and 0 <= to < n) or row == to:
            return False
        # Qt's destination is the row the item lands in front of, before the removal.
        dest = to + 1 if to > row else to
        if not self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest):
            return False
        self._states.insert(to, self._states.pop(row))
        self._cells.insert(to, self._cells.pop(row))
        self._reindex()
        self.endMoveRows()
        self._announce_order(min(row, to), max(row, to))
        self.symbols_edited.emit()
        return True

    # -- values -------------------------------------------------------------------------------
    def apply(self, states: Iterable[RowState],
              cells: Sequence[tuple[Cell, ...]] | None = None) -> int:
        """Take new values; announce only the changed cells. Unknown symbols (removed since
        the request was made) are ignored. Returns the number of changed cells.

        ``cells`` are the rows' formatted cells when the caller made them already (the
        refresh job does, off the GUI thread).

        Rows are stored and announced one contiguous run of rows at a time: a sorting proxy
        re-places the announced rows by binary search among the others, so no row outside
        the run being announced may already hold its new value.
        """
        pending: dict[int, tuple[RowState, tuple[Cell, ...]]] = {}
        states = list(states)
        if states and states[-1].family != self.family:
            self.family = states[-1].family
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        for i, st in enumerate(states):
            row = self._rows.get(st.symbol)
            if row is not None:
                pending[row] = (st, cells[i] if cells is not None else cells_of(st))
        total = 0
        for first, last in _runs(sorted(pending)) if pending else ():
            span: dict[int, list[int]] = {}          # column → [first, last] changed row
            for row in range(first, last + 1):
                st, new = pending[row]
                old = self._cells[row]
                self._states[row] = st
                self._cells[row] = new
                for col, (a, b) in enumerate(zip(old, new)):
                    if a != b:             # sort keys are never NaN, so != is exact
                        total += 1
                        lo_hi = span.setdefault(col, [row, row])
                        lo_hi[1] = row
            for col, (lo, hi) in span.items():
                self.dataChanged.emit(self.index(lo, col), self.index(hi, col), _CHANGED_ROLES)
        return total

    def set_tone_colors(self, colors: dict[str, QColor]) -> None:
        self._colors = dict(colors)
        if self._states:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._states) - 1, len(COLUMNS) - 1),
                                  [int(Qt.ItemDataRole.ForegroundRole)])

    # -- Qt model interface -------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._states)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, col = index.row(), index.column()
        if not index.isValid() or row >= len(self._cells):
            return None
        if col == _ORDER_COL and role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            return str(row + 1) if role == Qt.ItemDataRole.DisplayRole else float(row)
        cell = self._cells[row][col]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == SORT_ROLE:
            return cell.sort
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colors.get(cell.tone) if cell.tone else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tip or None
        if role == TONE_ROLE:
            return cell.tone
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN[COLUMNS[col].align]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title_for(self.family)
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].header_tip_for(self.family) or None
        return None

    # -- internals ----------------------------------------------------------------------------
    def _reindex(self) -> None:
        self._rows = {s.symbol: i for i, s in enumerate(self._states)}

    def _announce_order(self, first: int, last: int) -> None:
        if 0 <= first <= last < len(self._states):
            self.dataChanged.emit(self.index(first, _ORDER_COL), self.index(last, _ORDER_COL),
                                  [int(Qt.ItemDataRole.DisplayRole), SORT_ROLE])


def _runs(rows: list[int]) -> Iterable[tuple[int, int]]:
    """Contiguous runs of sorted row numbers: [1, 2, 3, 7] → (1, 3), (7, 7)."""
    start = prev = rows[0]
    for r in rows[1:]:
        if r != prev + 1:
            yield start, prev
            start = r
        prev = r
    yield start, prev
