"""Sorting and filtering the watchlist: text on the symbol, and a signal filter."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from atc_desktop.watchlist.model import SORT_ROLE, WatchlistModel

#: Signal filter choices: label → predicate name used by ``filterAcceptsRow``.
SIGNAL_FILTERS: dict[str, str] = {
    "All signals": "all",
    "Only bullish": "bull",
    "Only bearish": "bear",
    "Only neutral": "neutral",
    "Long direction": "long",
    "Short direction": "short",
    "Errors or stale": "problem",
}


class WatchlistProxy(QSortFilterProxyModel):
    """Sorts by each column's sort key (numbers as numbers, missing values first) and keeps
    the order right while values update (dynamic sort re-places only the changed rows).

    ``lessThan`` is Qt's own on purpose: the sort keys are plain numbers or strings, and a
    Python override would double the cost of every comparison on a 500-row update.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._text = ""
        self._signal = "all"

    def set_text_filter(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().upper()))

    def set_signal_filter(self, kind: str) -> None:
        if kind not in SIGNAL_FILTERS.values():
            raise ValueError(f"unknown signal filter {kind!r}")
        self._refilter(lambda: setattr(self, "_signal", kind))

    def _refilter(self, change: Callable[[], None]) -> None:
        # Qt 6.10 replaced invalidateRowsFilter() by begin/endFilterChange(); support both.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    @property
    def signal_filter(self) -> str:
        return self._signal

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, WatchlistModel)
        st = model.state(source_row)
        if self._text and self._text not in st.symbol:
            return False
        kind = self._signal
        if kind == "all":
            return True
        if kind in ("bull", "bear", "neutral"):
            return st.trend == kind
        if kind == "long":
            return st.direction > 0
        if kind == "short":
            return st.direction < 0
        return bool(st.error) or st.stale

    def source_symbol(self, proxy_row: int) -> str | None:
        idx = self.mapToSource(self.index(proxy_row, 0))
        if not idx.isValid():
            return None
        model = self.sourceModel()
        assert isinstance(model, WatchlistModel)
        return model.state(idx.row()).symbol
