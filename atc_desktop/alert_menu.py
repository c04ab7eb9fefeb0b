"""Context menus that set a symbol's alerts: on/off and the source (screening signal, full
ATC, both), on the watchlist table and on the alerts table."""
from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QTableView

from atc_desktop.alerts import CHOICE_LABELS, AlertCenter


def fill_alert_menu(menu: QMenu, center: AlertCenter, symbols: list[str]) -> None:
    """Append the alert entries for ``symbols`` to ``menu``; a check mark shows a setting
    every one of them has."""
    rules = [center.rule(s) for s in symbols]
    shown = ", ".join(symbols[:3]) + (f" +{len(symbols) - 3}" if len(symbols) > 3 else "")
    menu.addSection(f"Alerts for {shown}")
    on = QAction("Alerts on", menu, checkable=True)
    on.setChecked(all(r.enabled for r in rules))
    on.toggled.connect(lambda checked: center.set_rule(symbols, enabled=checked))
    menu.addAction(on)
    group = QActionGroup(menu)
    for choice, label in CHOICE_LABELS.items():
        act = QAction(f"Alert on {label}", menu, checkable=True)
        act.setObjectName(f"alertSource_{choice}")
        act.setChecked(all(r.source == choice for r in rules))
        act.triggered.connect(lambda _c=False, c=choice: center.set_rule(symbols, source=c))
        group.addAction(act)
        menu.addAction(act)


class AlertMenu(QObject):
    """A table's context menu: ``extra`` actions, then the alert entries for the symbols
    under the pointer (all selected rows when the clicked one is selected)."""

    def __init__(self, table: QTableView, center: AlertCenter, symbol_of_row: Callable[[int], str | None],
                 extra: Sequence[QAction] = ()) -> None:
        super().__init__(table)
        self.table, self.center = table, center
        self._symbol_of_row = symbol_of_row
        self._extra = list(extra)
        self.last: QMenu | None = None          # the menu shown last (tests look inside)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self.show_at)

    def symbols_at(self, pos: QPoint) -> list[str]:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return []
        selection = self.table.selectionModel()
        rows = ([i.row() for i in selection.selectedRows()] if selection.isRowSelected(index.row())
                else [index.row()])
        symbols = (self._symbol_of_row(r) for r in sorted(rows))
        return list(dict.fromkeys(s for s in symbols if s))

    def menu_for(self, symbols: list[str]) -> QMenu:
        menu = QMenu(self.table)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for act in self._extra:
            menu.addAction(act)
        if symbols:
            fill_alert_menu(menu, self.center, symbols)
        return menu

    def show_at(self, pos: QPoint) -> None:
        symbols = self.symbols_at(pos)
        if not symbols and not self._extra:
            return
        self.last = self.menu_for(symbols)
        self.last.popup(self.table.viewport().mapToGlobal(pos))
