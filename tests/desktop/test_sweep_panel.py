"""The Sweep panel: a watchlist sweep runs off the GUI thread and fills a sortable table
and the heatmap; "Apply to chart" hands over the selected set; a bad grid or an
unreachable scheduler is said in the panel; its choices are kept."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("distributed")

from PySide6.QtCore import Qt  # noqa: E402

from atc_desktop.app_settings import AppSettings  # noqa: E402
from atc_desktop.sweep_panel import ALL_SYMBOLS, SweepPanel  # noqa: E402
from core.data import BarStore  # noqa: E402
from core.data.providers.synthetic import SyntheticProvider  # noqa: E402

GRID = """[grid]
ema_len = [20, 28]
La = [0.01, 0.02, 0.03]
[backtest]
cost_bps = 5
"""
SYMBOLS = ["SYN0001", "SYN0002", "SYN0003"]


@pytest.fixture
def panel(qtbot: Any, tmp_path: Path) -> tuple[SweepPanel, list[dict]]:
    store = tmp_path / "bars.sqlite3"
    fetched = SyntheticProvider(count=3, bars=400, seed=5).fetch(SYMBOLS, "1d")
    with BarStore(store) as s:
        s.upsert_many(fetched.bars.values())
    applied: list[dict] = []
    widget = SweepPanel(symbols=lambda: list(SYMBOLS), settings=lambda: AppSettings(),
                        apply=applied.append, store=store, work_dir=tmp_path / "cache",
                        state_file=tmp_path / "config" / "sweep.json")
    qtbot.addWidget(widget)
    widget.grid_text.setPlainText(GRID)
    return widget, applied


def test_a_watchlist_sweep_fills_the_table_and_heatmap_and_applies_a_set(qtbot, panel):
    widget, applied = panel
    with qtbot.waitSignal(widget.ran, timeout=120_000) as done:
        widget.run_button.click()
        assert not widget.run_button.isEnabled() and widget.cancel_button.isEnabled()
    outcome = done.args[0]
    assert len(outcome.frame) == 3 * 6 and outcome.failures == []
    assert widget.table.rowCount() == 6 and widget.run_button.isEnabled()
    header = [widget.table.horizontalHeaderItem(c).text() for c in range(widget.table.columnCount())]
    assert header[:3] == ["set", "ema_len", "La"] and "sharpe" in header
    assert widget.symbol_choice.currentText() == ALL_SYMBOLS
    assert widget.heatmap.values.shape == (2, 3)                  # ema_len × La
    medians = outcome.frame.groupby(["ema_len", "La"])["sharpe"].median()
    assert widget.heatmap.values[1, 2] == medians[(28, 0.03)]
    col = header.index("sharpe")
    widget.table.sortItems(col, Qt.SortOrder.DescendingOrder)
    shown = [widget.table.item(r, col).data(Qt.ItemDataRole.DisplayRole) for r in range(6)]
    assert shown == sorted(shown, reverse=True)
    widget.table.selectRow(0)
    widget.apply_button.click()
    best = outcome.frame.groupby("set")["sharpe"].median().idxmax()
    assert applied == [{"ema_len": outcome.configs[best].ema_len, "La": outcome.configs[best].La}]
    widget.symbol_choice.setCurrentText("SYN0002")
    assert widget.table.rowCount() == 6
    assert np.isfinite(widget.heatmap.values).all()


def test_a_bad_grid_and_an_unreachable_scheduler_are_said_in_the_panel(qtbot, panel):
    widget, _ = panel
    widget.grid_text.setPlainText("[grid]\nspeed = [1]")
    widget.run_button.click()
    qtbot.waitUntil(lambda: widget.run_button.isEnabled(), timeout=30_000)
    assert "Sweep stopped: unknown parameter 'speed'" in widget.status.text()
    widget.grid_text.setPlainText(GRID)
    widget.where.setCurrentIndex(2)
    widget.address.setText("127.0.0.1:9")
    widget.connect_timeout = 1
    widget.run_button.click()
    qtbot.waitUntil(lambda: widget.run_button.isEnabled(), timeout=60_000)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in widget.status.text()


def test_the_panel_keeps_its_choices(qtbot, panel, tmp_path):
    widget, _ = panel
    widget.where.setCurrentIndex(2)
    widget.address.setText("tcp://sched:8786")
    widget.folder.setText(str(tmp_path / "u"))
    widget.from_folder.setChecked(True)
    widget._save_state()
    again = SweepPanel(symbols=list, settings=AppSettings, apply=print, store=tmp_path / "x",
                       work_dir=tmp_path, state_file=tmp_path / "config" / "sweep.json")
    qtbot.addWidget(again)
    assert again.cluster_spec() == "tcp://sched:8786" and again.from_folder.isChecked()
    assert again.grid_text.toPlainText() == GRID and again.folder.text() == str(tmp_path / "u")


def test_chart_menu_opens_the_sweep_window_whose_apply_sets_the_charts_parameters(qtbot, make_window):
    window = make_window(symbols=["AAPL"])
    assert window.sweep_window is None                       # made on first use only
    chart_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Chart")
    assert window.act_sweep in chart_menu.actions()
    window.act_sweep.trigger()
    panel = window.sweep_window
    qtbot.waitUntil(panel.isVisible, timeout=5000)
    assert panel.isWindow() and panel.windowTitle() == "Parameter sweep — ATC Desktop"
    window.act_sweep.trigger()
    assert window.sweep_window is panel                      # one window, raised again
    session = window.session
    panel._apply({"ema_len": 21, "La": 0.03})
    assert (session.settings.config.ema_len, session.settings.config.La) == (21, 0.03)
    assert panel.request().symbols == ["AAPL"]
