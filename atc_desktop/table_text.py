"""The text of QTableWidget cells as the user sees it (Qt hands back None for a cell that
holds no item)."""
from __future__ import annotations

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem


def cell_text(item: QTableWidgetItem | None) -> str:
    return "" if item is None else item.text()


def table_rows(table: QTableWidget) -> list[list[str]]:
    """Every row's cell texts, top to bottom."""
    return [[cell_text(table.item(r, c)) for c in range(table.columnCount())]
            for r in range(table.rowCount())]
