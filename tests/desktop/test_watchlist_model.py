"""The table model and its proxy: only changed cells announced, sorting correct while
values update, filters by text and by signal, list order edits."""
from __future__ import annotations

import math
import random
from typing import Any

from PySide6.QtCore import Qt

from atc_desktop.watchlist.columns import COLUMN_INDEX, COLUMNS
from atc_desktop.watchlist.model import SORT_ROLE, WatchlistModel
from atc_desktop.watchlist.proxy import WatchlistProxy
from atc_desktop.watchlist.row import RowState


def state(sym: str, signal: float, **kw: Any) -> RowState:
    return RowState(sym, last=100.0, change_pct=0.5, signal=signal, direction=1.0 if signal > 0 else -1.0,
                    interval="1d", **kw)


def test_only_changed_cells_are_announced(qtbot: Any) -> None:
    model = WatchlistModel()
    model.set_symbols(["A", "B", "C"])
    model.apply([state("A", 0.5), state("B", -0.5), state("C", 0.0)])
    seen: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda tl, br, roles: seen.append((tl.row(), tl.column(), br.row(), br.column())))
    changed = model.apply([state("A", 0.5), state("B", 0.25), state("C", 0.0)])
    cols = {COLUMN_INDEX[k] for k in ("signal", "trend", "direction")}
    assert {(r0, c0) for r0, c0, r1, c1 in seen} == {(1, c) for c in cols}
    assert all(r0 == r1 and c0 == c1 for r0, c0, r1, c1 in seen)
    assert changed == len(cols)
    seen.clear()
    assert model.apply([state("A", 0.5)]) == 0 and seen == []


def test_results_for_removed_symbols_are_ignored() -> None:
    model = WatchlistModel()
    model.set_symbols(["A", "B"])
    model.remove_symbols(["B"])
    model.apply([state("B", 1.0), state("A", -1.0)])
    assert model.symbols() == ["A"] and model.state(0).signal == -1.0


def proxy_order(proxy: WatchlistProxy) -> list[str]:
    return [proxy.source_symbol(r) or "" for r in range(proxy.rowCount())]


def test_sorting_stays_correct_while_values_update(qtbot: Any) -> None:
    model = WatchlistModel()
    syms = [f"S{i:03d}" for i in range(200)]
    model.set_symbols(syms)
    proxy = WatchlistProxy()
    proxy.setSourceModel(model)
    col = COLUMN_INDEX["signal"]
    proxy.sort(col, Qt.SortOrder.DescendingOrder)
    rng = random.Random(1)
    for _ in range(8):
        batch = rng.sample(syms, 60)       # a partial update, like a refresh of some rows
        model.apply([state(s, rng.uniform(-1, 1)) for s in batch])
        keys = [proxy.index(r, col).data(SORT_ROLE) for r in range(proxy.rowCount())]
        assert keys == sorted(keys, reverse=True)
    # Missing values (never screened) sort as the lowest.
    assert math.isinf(proxy.index(proxy.rowCount() - 1, col).data(SORT_ROLE)) or all(
        model.state_of(s).has_values for s in syms)


def test_filters_by_text_and_signal() -> None:
    model = WatchlistModel()
    model.set_symbols(["AAPL", "AMD", "IBM", "MSFT"])
    model.apply([state("AAPL", 0.7), state("AMD", -0.3), state("IBM", 0.0),
                 state("MSFT", 0.2, error="fetch failed: rate limited")])
    proxy = WatchlistProxy()
    proxy.setSourceModel(model)
    proxy.set_signal_filter("bull")
    assert sorted(proxy_order(proxy)) == ["AAPL", "MSFT"]
    proxy.set_text_filter("aa")
    assert proxy_order(proxy) == ["AAPL"]
    proxy.set_text_filter("")
    proxy.set_signal_filter("bear")
    assert proxy_order(proxy) == ["AMD"]
    proxy.set_signal_filter("neutral")
    assert proxy_order(proxy) == ["IBM"]
    proxy.set_signal_filter("problem")
    assert proxy_order(proxy) == ["MSFT"]
    # A value update moves a row in or out of the filter.
    proxy.set_signal_filter("bull")
    model.apply([state("AMD", 0.9)])
    assert sorted(proxy_order(proxy)) == ["AAPL", "AMD", "MSFT"]


def test_markers_and_tooltips() -> None:
    model = WatchlistModel()
    model.set_symbols(["X", "Y"])
    model.apply([state("X", 0.1, error="X: fetch failed: HTTP 429 rate limited"),
                 state("Y", 0.1, stale=True, stale_reason="last fetched 3.0 days ago")])
    err = model.index(0, COLUMN_INDEX["error"])
    assert err.data() == "⚠" and "rate limited" in err.data(Qt.ItemDataRole.ToolTipRole)
    stale = model.index(1, COLUMN_INDEX["stale"])
    assert stale.data() == "stale" and "3.0 days" in stale.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, COLUMN_INDEX["error"]).data() == ""


def test_move_rows_keeps_the_list_order() -> None:
    model = WatchlistModel()
    model.set_symbols(["A", "B", "C", "D"])
    edits: list[int] = []
    model.symbols_edited.connect(lambda: edits.append(1))
    assert model.move_row(0, 2)
    assert model.symbols() == ["B", "C", "A", "D"]
    assert model.move_row(3, 0)
    assert model.symbols() == ["D", "B", "C", "A"]
    assert model.index(0, COLUMN_INDEX["order"]).data() == "1"
    assert len(edits) == 2
    assert len(COLUMNS) == model.columnCount()
