"""Selecting a row charts the full ATC (detail=True) of the stored bars; the interval
switch, live updates and new parameters recompute it off the GUI thread."""
from __future__ import annotations

from typing import Any

import numpy as np

from core.atc import compute_reference
from core.config import ATCConfig
from core.data import BarStore


def reference_for(session: Any, symbol: str, interval: str, cfg: ATCConfig) -> tuple[Any, Any]:
    store = BarStore(session.paths.bar_store)
    try:
        bars = store.load(symbol, interval).tail(session.settings.history_bars)
    finally:
        store.close()
    return bars, compute_reference(np.ascontiguousarray(bars.close), cfg, detail=True)


def assert_chart_matches(chart: Any, bars: Any, ref: Any) -> None:
    data = chart.data
    assert data is not None
    got = data.result
    assert data.bars.symbol == bars.symbol and len(data.bars) == len(bars)
    assert int(data.bars.timestamps[-1]) == int(bars.timestamps[-1])
    np.testing.assert_allclose(got.average_signal[-50:], ref.average_signal[-50:], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.family_equities[:, -1], ref.family_equities[:, -1], rtol=1e-9)
    np.testing.assert_allclose(got.mas[:, -1], ref.mas[:, -1], rtol=1e-9)
    np.testing.assert_allclose(got.equities[:, -1], ref.equities[:, -1], rtol=1e-9)
    np.testing.assert_array_equal(got.signals[:, -50:], ref.signals[:, -50:])
    np.testing.assert_array_equal(got.states[:, -1], ref.states[:, -1])
    np.testing.assert_array_equal(got.direction[-50:], ref.direction[-50:])
    np.testing.assert_array_equal(got.long, ref.long)
    np.testing.assert_array_equal(got.short, ref.short)


def test_selecting_a_row_shows_the_full_atc(qtbot: Any, make_window: Any, refreshed: Any) -> None:
    window = make_window()
    session = window.session
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("GOOG")
    bars, ref = reference_for(session, "GOOG", "1d", session.settings.config)
    assert_chart_matches(window.chart_pane.chart(), bars, ref)
    assert "GOOG" in window.chart_pane.status.text() and "warm-up" in window.chart_pane.status.text()


def test_live_refresh_updates_the_last_bar(qtbot: Any, make_window: Any, scripted: Any,
                                           refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB"], bars=900, visible=800)
    window = make_window(provider=provider)
    session = window.session
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("AAA")
    chart = window.chart_pane.chart()
    calls: list[int] = []
    real_update, real_set = chart.update_data, chart.set_data
    chart.update_data = lambda b, r: (calls.append(len(b)), real_update(b, r))
    chart.set_data = lambda *a: (_ for _ in ()).throw(AssertionError("live refresh redrew the chart"))
    provider.step()
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        refreshed(qtbot, session)
    assert calls == [801]
    chart.set_data = real_set
    bars, ref = reference_for(session, "AAA", "1d", session.settings.config)
    assert_chart_matches(chart, bars, ref)


def test_a_parameter_change_recomputes_the_chart(qtbot: Any, make_window: Any, scripted: Any,
                                                 refreshed: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=700))
    session = window.session
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("AAA")
    panel = window.settings_panel
    panel.editor("kama_len").widget.setText("14")
    panel.editor("robustness").widget.setCurrentText("Wide")
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        panel.apply_now()
    cfg = ATCConfig(kama_len=14, robustness="Wide")
    assert session.settings.config == cfg
    bars, ref = reference_for(session, "AAA", "1d", cfg)
    assert_chart_matches(window.chart_pane.chart(), bars, ref)
    assert window.chart_pane.chart().data.config == cfg


def test_interval_switch_within_the_provider_limits(qtbot: Any, make_window: Any, scripted: Any,
                                                    refreshed: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=400))
    session = window.session
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("AAA")
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.chart_pane.interval_requested.emit("1h")    # the chart's interval combo
    assert window.chart_pane.chart().data.bars.interval == "1h"
    bars, ref = reference_for(session, "AAA", "1h", session.settings.config)
    assert_chart_matches(window.chart_pane.chart(), bars, ref)
    with qtbot.waitSignal(session.analysis.analysis_failed, timeout=60_000) as failed:
        window.chart_pane.interval_requested.emit("1m")
    assert "no 1m bars" in failed.args[1]
    assert "no 1m bars" in window.chart_pane.status.text()
