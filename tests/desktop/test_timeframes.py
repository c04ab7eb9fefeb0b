"""Timeframes: every source offers weeks and months (and 2h/4h where it has hours) by
resampling; the screening column and the chart work on them; the interval boxes list and
mark them, follow a source change and look disabled when there is nothing to choose.

Expected weekly bars are grouped here per ISO week of each stored daily bar's local date,
independently of ``core.data.resample``.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from PySide6 import QtCore, QtGui

import tests.desktop.test_analysis as analysis_tests
from atc_desktop.app_settings import AppSettings
from atc_desktop.settings.panel import SettingsPanel
from core.atc import compute_reference
from core.data import BarStore, Bars
from core.data.intervals import available_intervals
from core.windows import history_start
from tests.desktop.test_refresh import expected_row, same

BUNDLED_CHOICES = available_intervals(("1d",))


def weekly_closes(daily: Bars) -> tuple[np.ndarray, np.ndarray]:
    """(last timestamp, last close) of each ISO week of ``daily``'s local dates."""
    zone = ZoneInfo(daily.tz)
    weeks = [dt.datetime.fromtimestamp(int(t) / 1e9, zone).isocalendar()[:2] for t in daily.timestamps]
    last = [i for i in range(len(weeks)) if i + 1 == len(weeks) or weeks[i + 1] != weeks[i]]
    return daily.timestamps[last], daily.close[last]


def stored_daily(session: Any, symbol: str) -> Bars | None:
    store = BarStore(session.paths.bar_store)
    try:
        return store.load(symbol, "1d")
    finally:
        store.close()


def use_interval(qtbot: Any, session: Any, interval: str) -> Any:
    qtbot.waitUntil(lambda: not session.refresh.busy, timeout=60_000)
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000) as blocker:
        session.apply_settings(session.settings.replace(interval=interval))
    return blocker.args[0]


def check_weekly_screening(session: Any) -> int:
    checked = 0
    cfg, hb = session.settings.config, session.settings.history_bars
    for sym in session.model.symbols():
        row = session.model.state_of(sym)
        daily = stored_daily(session, sym)
        if daily is None:
            assert row.error or row.note          # FB: no bars yet (a note, no error)
            continue
        _, close = weekly_closes(daily)
        want = expected_row(close[history_start(close.size, hb):], cfg)
        assert row.interval == "1wk" and row.last == float(close[-1])
        assert row.bars == close.size - history_start(close.size, hb)
        assert same(row.signal, want["signal"]) and same(row.direction, want["direction"])
        assert (row.last_event, row.bars_since) == (want["last_event"], want["bars_since"])
        checked += 1
    return checked


# -- data: screening and chart on a resampled interval -------------------------------------------
def test_the_screening_column_works_on_weekly_bars_of_the_bundled_data(
        qtbot: Any, make_session: Any, refreshed: Any) -> None:
    session = make_session()                      # bundled data, replay: daily bars only
    out = use_interval(qtbot, session, "1wk")
    assert not out.error
    assert check_weekly_screening(session) == 4
    assert session.data.store.info("AAPL", "1wk") is None    # resampled on read, never stored
    daily_before = stored_daily(session, "AAPL")
    refreshed(qtbot, session)                     # the replay reveals one more day
    assert len(stored_daily(session, "AAPL")) == len(daily_before) + 1
    assert check_weekly_screening(session) == 4
    # A resample is as fresh as its base: just fetched, not "never fetched".
    assert session.data.staleness(["AAPL", "MSFT"], "1wk") == {}


def test_the_chart_works_on_weekly_bars(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    session = window.session
    use_interval(qtbot, session, "1wk")
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("MSFT")
    chart = window.chart_pane.chart()
    assert chart.data.bars.interval == "1wk"
    ts, close = weekly_closes(stored_daily(session, "MSFT"))
    start = history_start(close.size, session.settings.history_bars)
    shown = chart.data.bars
    np.testing.assert_array_equal(shown.close, close[start:])
    # Each weekly bar is stamped on its week's Monday, at or before its last daily bar.
    assert np.all(shown.timestamps <= ts[start:]) and np.all(ts[start:] - shown.timestamps < 7 * 86_400e9)
    ref = compute_reference(np.ascontiguousarray(close[start:]), session.settings.config, detail=True)
    analysis_tests.assert_chart_matches(chart, shown, ref)
    qtbot.waitUntil(lambda: "resampled from 1d" in window.chart_pane.status.text(), timeout=10_000)
    assert "the last one is complete" in window.chart_pane.status.text()   # 2013's weeks are over


def test_a_forming_resampled_bar_is_flagged_on_the_chart(qtbot: Any, make_window: Any, scripted: Any) -> None:
    class RecentProvider(scripted):               # daily bars up to today
        def bars(self, symbol: str, interval: str = "1d") -> Bars:
            b = super().bars(symbol, interval)
            today = int(time.time() // 86_400) * 86_400 * 10**9
            shift = today - int(b.timestamps[-1])
            return Bars(b.symbol, b.interval, b.timestamps + shift, b.open, b.high, b.low, b.close,
                        b.volume, source=b.source)

    window = make_window(provider=RecentProvider(["AAA"], bars=300))
    session = window.session
    use_interval(qtbot, session, "1wk")
    qtbot.waitUntil(lambda: window.settings_panel.interval.findData("1mo") >= 0, timeout=10_000)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("AAA")
    chart = window.chart_pane.chart()
    assert chart.data.bars.interval == "1wk"
    assert chart.toolbar.forming.isVisibleTo(chart)
    assert "the last one is still forming" in window.chart_pane.status.text()
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.chart_pane.interval_requested.emit("1d")
    assert not chart.toolbar.forming.isVisibleTo(chart)
    assert "the last bar is the last closed bar" in window.chart_pane.status.text()


# -- the interval boxes ------------------------------------------------------------------------------
def items(combo: Any) -> list[tuple[str, str, bool]]:
    """(shown text, interval, italic) per item."""
    out = []
    for i in range(combo.count()):
        font = combo.itemData(i, QtCore.Qt.ItemDataRole.FontRole)
        out.append((combo.itemText(i), combo.itemData(i), bool(font is not None and font.italic())))
    return out


def test_the_settings_box_lists_and_marks_resampled_intervals(qtbot: Any) -> None:
    panel = SettingsPanel(AppSettings(), ["numpy"], BUNDLED_CHOICES)
    qtbot.addWidget(panel)
    box = panel.interval
    assert items(box) == [("1d", "1d", False), ("1wk · from 1d", "1wk", True),
                          ("1mo · from 1d", "1mo", True)]
    assert "resampled" in box.itemData(1, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert box.isEnabled() and "resampled" in box.toolTip()
    with qtbot.waitSignal(panel.settings_changed, timeout=2000) as changed:
        box.setCurrentIndex(1)
        panel.apply_now()
    assert changed.args[0].interval == "1wk"         # the bare name, not the label
    panel.set_intervals(available_intervals(("1d", "1h")))
    assert panel.chosen_interval() == "1wk"
    assert [d for _, d, _ in items(box)] == ["1h", "2h", "4h", "1d", "1wk", "1mo"]   # shortest first


def test_the_settings_box_keeps_a_chosen_interval_the_source_lacks(qtbot: Any) -> None:
    panel = SettingsPanel(AppSettings(interval="4h"), ["numpy"], BUNDLED_CHOICES)
    qtbot.addWidget(panel)
    assert panel.interval.currentText() == "4h · not offered by this source"
    assert panel.chosen_interval() == "4h" and panel.interval.count() == 4


def test_a_box_with_nothing_to_choose_is_disabled_and_says_why(qtbot: Any) -> None:
    panel = SettingsPanel(AppSettings(), ["numpy"], ["1d"])
    qtbot.addWidget(panel)
    assert not panel.interval.isEnabled()
    assert "only interval" in panel.interval.toolTip() and "disabled" in panel.interval.toolTip()


def test_the_chart_box_marks_resampled_intervals_and_emits_bare_names(qtbot: Any) -> None:
    from atc_desktop.chart.toolbar import ChartToolbar

    bar = ChartToolbar()
    qtbot.addWidget(bar)
    bar.set_intervals(list(BUNDLED_CHOICES), "1d")
    assert items(bar.interval)[1] == ("1wk · from 1d", "1wk", True)
    assert bar.interval.isEnabled()
    bar.interval.setFocus()
    with qtbot.waitSignal(bar.interval_requested, timeout=2000) as blocker:
        qtbot.keyClick(bar.interval, QtCore.Qt.Key.Key_Down)
    assert blocker.args == ["1wk"]
    bar.set_current_interval("1mo")
    assert bar.interval.currentData() == "1mo"


def pixels(widget: Any) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    bits = img.constBits()
    return np.frombuffer(bits, np.uint32, img.width() * img.height()).copy() & 0xFFFFFF


def test_the_disabled_chart_box_looks_disabled(qtbot: Any) -> None:
    from atc_desktop.chart.theme import DARK
    from atc_desktop.chart.toolbar import ChartToolbar

    bar = ChartToolbar()
    qtbot.addWidget(bar)
    bar.resize(900, 40)
    bar.show()
    qtbot.waitExposed(bar)
    bar.set_current_interval("1d")                   # before the app offered any
    assert not bar.interval.isEnabled() and "only interval" in bar.interval.toolTip()
    foreground = QtGui.QColor(DARK.foreground).rgb() & 0xFFFFFF
    disabled = pixels(bar.interval)
    bar.interval.setEnabled(True)
    enabled = pixels(bar.interval)
    assert np.count_nonzero(enabled == foreground) > 0       # live text in the foreground colour
    assert np.count_nonzero(disabled == foreground) == 0     # disabled text is muted
    assert not np.array_equal(disabled, enabled)


def test_a_source_change_refreshes_both_interval_boxes(qtbot: Any, make_window: Any) -> None:
    window = make_window()                           # bundled; nobody probed yet
    session = window.session
    panel = window.settings_panel
    assert [d for _, d, _ in items(panel.interval)] == ["1d"]
    qtbot.waitUntil(lambda: not session.refresh.busy, timeout=60_000)
    session.apply_settings(session.settings.replace(source="synthetic"))
    qtbot.waitUntil(lambda: panel.interval.findData("4h") >= 0, timeout=30_000)
    assert [d for _, d, _ in items(panel.interval)] == [
        "1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1wk", "1mo"]
    assert panel.interval.isEnabled()
    toolbar = window.chart_pane.chart().toolbar
    assert ("4h · from 1h", "4h", True) in items(toolbar.interval) and toolbar.interval.isEnabled()
    assert toolbar.interval.currentData() == "1d"
    qtbot.waitUntil(lambda: not session.refresh.busy, timeout=60_000)
    session.apply_settings(session.settings.replace(source="bundled"))
    qtbot.waitUntil(lambda: panel.interval.findData("4h") < 0, timeout=30_000)
    assert [d for _, d, _ in items(panel.interval)] == ["1d", "1wk", "1mo"]
