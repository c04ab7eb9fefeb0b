"""What the app says when the data source cannot serve: one banner and one status line
instead of an error per row, one log line instead of yfinance's dozen per refresh, bars
of another source never shown as current, and Yahoo asked at most once a minute."""
from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from PySide6.QtCore import Qt

from atc_desktop.analysis import AnalysisRequest, run_analysis
from atc_desktop.app_settings import AppSettings
from atc_desktop.chart.data import ChartData
from atc_desktop.data_service import DataService
from atc_desktop.log_dock import RepeatFilter
from atc_desktop.refresh import refresh_period
from atc_desktop.watchlist.columns import COLUMN_INDEX
from core.errors import NetworkUnavailable, RateLimited

OFFLINE = NetworkUnavailable("cannot reach Yahoo Finance (DNSError: Failed to perform, curl: (6) "
                             "Could not resolve host: query2.finance.yahoo.com)")
CACHED = re.compile(r" — showing cached data from \d\d:\d\d$")


def cell(session: Any, symbol: str, column: str, role: Any = Qt.ItemDataRole.DisplayRole) -> Any:
    return session.model.index(session.model.row_of(symbol), COLUMN_INDEX[column]).data(role)


def test_no_network_is_one_banner_and_one_log_line_not_an_error_per_row(
        qtbot: Any, make_window: Any, scripted: Any, refreshed: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=400)
    window = make_window(provider=provider)
    session = window.session
    refreshed(qtbot, session)                            # the cache the app falls back on
    assert window.problem_banner.isHidden()
    provider.error = OFFLINE
    with caplog.at_level(logging.INFO):
        outcomes = [refreshed(qtbot, session) for _ in range(3)]
    for out in outcomes:
        assert out.provider_problem.startswith("cannot reach Yahoo Finance")
        assert CACHED.search(out.provider_problem), out.provider_problem
        assert out.failures == {}
        for row in out.rows:
            assert row.has_values and not row.error
            assert row.stale and row.stale_reason.startswith(out.provider_problem)
    for sym in ("AAA", "BBB", "CCC"):
        assert cell(session, sym, "error") == ""
        assert "possibly delisted" not in cell(session, sym, "stale", Qt.ItemDataRole.ToolTipRole)
    banner = window.problem_banner
    assert not banner.isHidden() and outcomes[-1].provider_problem in banner.text()
    assert "Could not resolve host" in banner.toolTip()
    assert "cannot reach Yahoo Finance" in window.refresh_label.text()
    assert "not answering" in window.source_badge.text()
    said = [r for r in caplog.records if "cannot reach Yahoo Finance" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING       # once, not per refresh
    assert window.error_badge.text() in ("", "3 stale")

    provider.error = None
    with caplog.at_level(logging.INFO):
        out = refreshed(qtbot, session)
    assert out.provider_problem == "" and banner.isHidden()
    assert not any(r.stale for r in out.rows)
    assert "answers again" in caplog.text
    assert "not answering" not in window.source_badge.text()


def test_a_rate_limit_says_until_when(qtbot: Any, make_window: Any, scripted: Any,
                                      refreshed: Any) -> None:
    provider = scripted(["AAA"], bars=300)
    window = make_window(provider=provider)
    refreshed(qtbot, window.session)
    provider.error = RateLimited("Yahoo Finance rate limit: cooling down until 14:07 (no requests "
                                 "are sent until then)", until=0.0)
    out = refreshed(qtbot, window.session)
    assert out.provider_problem.startswith("Yahoo Finance rate limit: cooling down until 14:07 — ")
    assert not out.rows[0].error and out.rows[0].stale
    assert "cooling down until 14:07" in window.problem_banner.text()


def test_bars_of_another_source_are_never_shown_as_current(qtbot: Any, make_session: Any,
                                                           scripted: Any, refreshed: Any) -> None:
    first = scripted(["AAA", "BBB"], bars=300)
    first.name = "csv"
    session = make_session(provider=first)
    refreshed(qtbot, session)
    assert session.model.state_of("AAA").source == "csv"
    now = scripted(["AAA", "BBB"], bars=300)
    now.name = "yahoo"
    now.fail = {"AAA": "AAA: Yahoo has no data for this ticker"}
    session.data = DataService(session.paths.bar_store, "yahoo", provider=now)
    refreshed(qtbot, session)
    aaa, bbb = session.model.state_of("AAA"), session.model.state_of("BBB")
    assert aaa.error == "AAA: Yahoo has no data for this ticker"       # its own failure
    assert aaa.source == "csv" and aaa.stale
    assert "these are csv bars: the yahoo source has not delivered AAA" in aaa.stale_reason
    assert bbb.source == "yahoo" and not bbb.stale and not bbb.error
    # Offline: the csv bars stay marked as such, without an error of their own.
    now.fail = {}
    now.error = OFFLINE
    refreshed(qtbot, session)
    aaa = session.model.state_of("AAA")
    assert not aaa.error and aaa.stale and aaa.source == "csv"
    assert "cannot reach Yahoo Finance" in aaa.stale_reason and "these are csv bars" in aaa.stale_reason
    # The chart's badge names the source of the bars it draws.
    out = run_analysis(AnalysisRequest(1, "AAA", "1d", session.settings.config, 5000), session.data,
                       session.registry)
    assert ChartData.build(out.bars, out.result, out.request.config).source_label == "CSV file"


# -- the log ------------------------------------------------------------------------------------
class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_yfinance_repeats_become_one_line_with_a_count() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=600.0, clock=lambda: now[0])
    handlers = [Lines(), Lines()]                  # one filter on several handlers
    logger = logging.getLogger("yfinance")
    app_logger = logging.getLogger("atc_desktop.test_offline")
    for h in handlers:
        h.addFilter(repeats)
        logger.addHandler(h)
        app_logger.addHandler(h)
    try:
        for refresh in range(3):                   # three refreshes of five tickers each
            for sym in ("AAPL", "MSFT", "NVDA", "IBM", "GOOG"):
                logger.error("Failed to get ticker '%s' reason: Could not resolve host", sym)
            now[0] += 60.0
        app_logger.warning("the app's own line")
        app_logger.warning("the app's own line")
        assert handlers[0].lines == handlers[1].lines
        assert handlers[0].lines == ["Failed to get ticker 'AAPL' reason: Could not resolve host",
                                     "the app's own line", "the app's own line"]
        now[0] += 600.0
        logger.error("Failed to get ticker '%s' reason: Could not resolve host", "AAPL")
        assert re.fullmatch(r"Failed to get ticker 'AAPL' reason: Could not resolve host "
                            r"\(\+14 similar lines since \d\d:\d\d:\d\d\)", handlers[0].lines[-1])
        assert handlers[0].lines == handlers[1].lines
    finally:
        for h in handlers:
            logger.removeHandler(h)
            app_logger.removeHandler(h)


def test_the_app_log_setup_filters_yfinance(tmp_path: Any) -> None:
    from atc_desktop.app import setup_logging
    from atc_desktop.paths import AppPaths

    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        setup_logging(AppPaths.resolve(tmp_path).ensure())
        added = [h for h in root.handlers if h not in before]
        assert added and all(any(isinstance(f, RepeatFilter) for f in h.filters) for h in added)
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)


# -- Yahoo's refresh minimum ------------------------------------------------------------------------
def test_yahoo_is_refreshed_at_most_once_a_minute_and_the_settings_say_why(qtbot: Any) -> None:
    from atc_desktop.settings.panel import SettingsPanel

    assert refresh_period(AppSettings(source="yahoo", refresh_seconds=5)) == 60
    assert refresh_period(AppSettings(source="yahoo", refresh_seconds=300)) == 300
    assert refresh_period(AppSettings(source="bundled", refresh_seconds=5)) == 5
    panel = SettingsPanel(AppSettings(source="bundled"), ["auto", "rust"], ["1d"])
    qtbot.addWidget(panel)
    assert panel.refresh_minimum.isHidden()
    panel.source.setCurrentIndex(panel.source.findData("yahoo"))
    assert not panel.refresh_minimum.isHidden()
    assert "at least 60 s" in panel.refresh_minimum.text() and "provider minimum" in panel.refresh_minimum.text()
    yahoo = SettingsPanel(AppSettings(source="yahoo"), ["auto"], ["1d"])
    qtbot.addWidget(yahoo)
    assert not yahoo.refresh_minimum.isHidden()


def test_switching_to_yahoo_slows_the_timer_to_the_minimum(make_session: Any, scripted: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    session = make_session(provider=scripted(["AAA"], bars=200))
    session.refresh.start(refresh_period(session.settings))
    assert session.refresh._timer.interval() == 5000
    monkeypatch.setattr(session.live, "restart", lambda: None)      # no quote stream here
    session.apply_settings(session.settings.replace(source="yahoo"))
    assert session.refresh._timer.interval() == 60_000
