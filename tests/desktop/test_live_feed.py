"""Forming bars in the app: the offline replay's tick walk, Yahoo's quote stream (a real
WebSocket server on 127.0.0.1), and many incremental refreshes against a restart."""
from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from atc_desktop.data_service import DataService
from atc_desktop.live_feed import LiveFeed
from atc_desktop.screen_states import ScreenStates
from core.backends.registry import Registry
from core.data import BarStore
from core.data.live import QuoteStream
from core.jit.backend import NumbaBackend
from core.windows import history_start
from tests.data.test_live_stream import StreamServer, pricing_frame, server  # noqa: F401


def settings(**kw: Any) -> SimpleNamespace:
    base = dict(source="bundled", replay=True, interval="1d", refresh_seconds=1)
    return SimpleNamespace(**(base | kw))


def collect(qtbot: Any, feed: LiveFeed, until: Any, timeout: int = 5000) -> dict:
    seen: dict = {}
    feed.forming.connect(seen.update)
    qtbot.waitUntil(lambda: until(seen), timeout=timeout)
    return seen


def test_replay_walks_the_next_bar_tick_by_tick(qtbot: Any, tmp_path: Any) -> None:
    data = DataService(tmp_path / "bars.sqlite", "bundled", replay=True)
    symbols = ["AAPL", "MSFT"]
    upcoming = data.provider.upcoming(symbols)
    feed = LiveFeed(lambda: data, lambda: symbols, settings)
    states: list[str] = []
    feed.state_changed.connect(states.append)
    visible = data.provider.fetch(symbols, advance=False).bars
    feed.restart()
    for x in symbols:                          # the history's closed bars (as a refresh does)
        feed.closed(x, int(visible[x].timestamps[-1]), visible[x].tz)
    assert feed.state == "replay" and states == ["replay"]
    # Updates arrive throttled while the bar forms; when the walk ends the forming bar is
    # the bar the next refresh reveals, open to close.
    seen = collect(qtbot, feed, lambda s: all(
        s.get(x) is not None and s[x].close == upcoming[x][4] and s[x].ticks >= 10 for x in symbols))
    for x in symbols:
        ts, o, h, lo, c, _ = upcoming[x]
        bar = seen[x]
        assert (bar.start, bar.open, bar.high, bar.low, bar.close) == (ts, o, h, lo, c)
    feed.stop()
    assert feed.state == "off"
    data.close()


def test_quotes_from_the_stream_form_the_bar(qtbot: Any, server: StreamServer) -> None:  # noqa: F811
    feed = LiveFeed(lambda: None, lambda: ["AAA"], lambda: settings(source="yahoo", interval="1h"),
                    stream_factory=lambda: QuoteStream(server.url, poll_s=0.02))
    feed.restart()
    qtbot.waitUntil(lambda: feed.state == "live", timeout=5000)
    t0 = 1_700_000_000_000                       # ms; one hour bar
    server.send(*(pricing_frame("AAA", p, t0 + 1000 * k) for k, p in enumerate([10.0, 10.5, 9.8, 10.2])))
    seen = collect(qtbot, feed, lambda s: s.get("AAA") is not None and s["AAA"].ticks == 4)
    bar = seen["AAA"]
    assert (bar.open, bar.high, bar.low, bar.close) == (10.0, 10.5, 9.8, 10.2)
    server.drop()                                # the network goes: polling, then live again
    qtbot.waitUntil(lambda: feed.state == "polling", timeout=5000)
    qtbot.waitUntil(lambda: feed.state == "live", timeout=10000)
    feed.stop()


def test_forming_values_in_the_watchlist_and_chart(qtbot: Any, make_window: Any, refreshed: Any) -> None:
    window = make_window(symbols=["AAPL", "MSFT"])
    session = window.session
    session.settings = session.settings.replace(refresh_seconds=1)
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("AAPL")
    session.live.restart()
    chart = window.chart_pane.chart()
    qtbot.waitUntil(lambda: chart.data is not None and chart.toolbar.forming.isVisible(), timeout=10_000)
    store = BarStore(session.paths.bar_store)
    try:
        closed = store.load("AAPL", "1d")
    finally:
        store.close()
    shown = chart.data
    assert len(shown.bars) == len(closed) - history_start(len(closed), session.settings.history_bars) + 1
    forming_close = float(shown.bars.close[-1])
    # The chart's forming bar is the full computation over the window plus that close.
    window_close = np.append(closed.close[history_start(len(closed), session.settings.history_bars):], forming_close)
    full = Registry().get("rust").compute(window_close, session.settings.config, detail=True)
    np.testing.assert_array_equal(shown.result.signals[:, -1], full.signals[:, -1])
    np.testing.assert_array_equal(shown.result.mas[:, -1], full.mas[:, -1])
    # The watchlist row shows the same tick's EMA-only value (or a later tick's).
    row = session.model.state_of("AAPL")
    ema = NumbaBackend().compute_batch(np.append(closed.close, row.last)[None], session.settings.config,
                                       tail=1, mode="ema_only")
    if row.last != float(closed.close[-1]):
        assert row.signal == ema.signals[0, 0, -1]
    session.live.stop()


def test_two_hundred_replay_refreshes_equal_a_restart(qtbot: Any, make_window: Any, refreshed: Any) -> None:
    window = make_window(symbols=["AAPL", "IBM", "MSFT"])
    session = window.session
    refreshed(qtbot, session)
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("IBM")
    for _ in range(200):
        refreshed(qtbot, session)
    qtbot.waitUntil(lambda: session.analysis._running is None, timeout=60_000)
    assert session.analysis.live.last_path in ("incremental", "unchanged")
    store = BarStore(session.paths.bar_store)
    try:
        fresh = ScreenStates().advance(NumbaBackend(), store, ["AAPL", "IBM", "MSFT"], "1d",
                                       session.settings.config, session.settings.history_bars)
        closed = store.load("IBM", "1d")
    finally:
        store.close()
    for sym, got in fresh.items():
        row = session.model.state_of(sym)
        assert (row.signal, row.direction, row.last_event, row.bars_since) == (
            got.signal, got.direction, got.last_event, got.bars_since_event), sym
    window_close = closed.close[history_start(len(closed), session.settings.history_bars):]
    full = Registry().get("rust").compute(np.ascontiguousarray(window_close), session.settings.config, detail=True)
    got = window.chart_pane.chart().data.result
    for (name, x), (_, y) in zip(got.columns(True), full.columns(True)):
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_status_bar_tells_the_quote_state(qtbot: Any, make_window: Any) -> None:
    window = make_window(symbols=["AAPL"])
    window.session.live.restart()                       # bundled replay (the default)
    assert "forming bar replayed" in window.source_badge.text()
    window.session.live.state_changed.emit("polling")
    window.session.live.state = "polling"
    window.session.live.state_changed.emit("polling")
    assert "polling" in window.source_badge.text()
    window.session.live.stop()
    assert window.source_badge.text().startswith("Data:") and "quotes" not in window.source_badge.text()


def test_paced_call_shows_a_lone_value_at_once_and_a_burst_as_its_latest(qtbot: Any) -> None:
    from atc_desktop.live_feed import PacedCall

    from PySide6.QtCore import QCoreApplication

    calls: list[tuple[float, int]] = []
    paced = PacedCall(lambda v: calls.append((time.monotonic(), v)), per_second=10.0)
    paced.push(1)                              # after a quiet spell: the next loop turn
    QCoreApplication.processEvents()
    assert [v for _, v in calls] == [1]
    for v in range(2, 7):                      # a burst inside the period: one call, the newest
        paced.push(v)
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=2000)
    qtbot.wait(250)
    assert [v for _, v in calls] == [1, 6]
    assert calls[1][0] - calls[0][0] >= 0.1 - 0.002   # one period apart at least
