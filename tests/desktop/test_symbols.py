"""Symbols in the watchlist: the one ticker rule and its message, several symbols per add,
suggestions (local offline, Yahoo's search online, off the GUI thread, quiet when offline)
and undo/redo of watchlist edits."""
from __future__ import annotations

import json
import logging
import string
import threading
import time
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer

from atc_desktop.watchlist.symbol_entry import last_token, parse_entry, settle, split_entry
from atc_desktop.watchlist.symbol_search import Suggestion, match, merge
from core.data.providers.yahoo import YahooProvider
from core.data.symbols import SYMBOL_RULE, symbol_syntax_error

REAL = ["BRK-B", "ES=F", "EURUSD=X", "BTC-USD", "^GSPC"]


def test_the_rule_message_lists_exactly_the_characters_it_accepts() -> None:
    listed = set(SYMBOL_RULE.split(" and ", 1)[1].split(" only")[0].split())
    accepted = {c for c in string.punctuation if symbol_syntax_error(f"A{c}B") is None}
    assert accepted == listed == set(".-^=&_")
    for sym in REAL:
        assert symbol_syntax_error(sym) is None, sym
    assert "^" in str(symbol_syntax_error("^"))          # a refused index names ^ as allowed
    # Yahoo's provider takes them all (its check is the rule; Yahoo is asked at fetch time).
    assert YahooProvider(download=lambda **kw: None).validate_symbols(REAL) == {}


def test_an_entry_is_split_checked_and_sorted_out() -> None:
    assert split_entry(" AAPL, MSFT NVDA;;brk-b\t") == ["AAPL", "MSFT", "NVDA", "brk-b"]
    assert last_token("AAPL, ms") == "ms" and last_token("AAPL, ") == ""
    entry = parse_entry("aapl, MSFT nvda;brk-b AAPL $$ a/b", present=["MSFT", "IBM"])
    assert entry.wanted == ("AAPL", "NVDA", "BRK-B")
    assert entry.retype == ("$$", "a/b")
    bad, dupes = entry.problems
    assert "'$$', 'A/B' are not valid tickers" in bad and SYMBOL_RULE in bad
    assert dupes == "MSFT is already in this watchlist"
    assert parse_entry(" , ", []).problems == ("type a symbol, or several separated by commas or spaces",)
    done = settle(entry, {"NVDA": "'NVDA' is unknown"})
    assert done.accepted == ["AAPL", "BRK-B"]
    assert done.problems[-1] == "'NVDA' is unknown"
    assert done.keep == "$$, a/b, nvda"                   # what to correct, as it was typed


def test_local_matches_put_symbols_first_then_names() -> None:
    index = [Suggestion("MSFT", "Microsoft"), Suggestion("AAPL", "Apple"), Suggestion("MS", "Morgan Stanley"),
             Suggestion("XMS"), Suggestion("IBM", "Intl Business Machines")]
    assert [s.symbol for s in match("ms", index)] == ["MSFT", "MS", "XMS"]
    assert [s.symbol for s in match("apple", index)] == ["AAPL"]
    named = merge([Suggestion("AAPL", where="bundled data"), Suggestion("AAPL", "Apple Inc.", "NASDAQ")])
    assert named == [Suggestion("AAPL", "Apple Inc.", "NASDAQ")]


def test_several_symbols_at_once_and_the_rest_kept_to_correct(
        qtbot: Any, make_window: Any, scripted: Any, home: Any) -> None:
    window = make_window(provider=scripted(["AAA", *REAL], bars=200), symbols=["AAA"])
    session, w = window.session, window.watchlist
    qtbot.keyClicks(w.add_field, "brk-b, ES=F eurusd=x;BTC-USD ^gspc zzz $$ aaa")
    with qtbot.waitSignal(session.add_failed, timeout=10_000) as failed:
        qtbot.keyClick(w.add_field, Qt.Key.Key_Return)
    assert session.model.symbols() == ["AAA", *REAL]
    assert json.loads(home.watchlists_file.read_text())["lists"]["Default"] == ["AAA", *REAL]
    message = failed.args[0]
    assert "'$$' is not a valid ticker" in message and "ZZZ" in message
    assert "AAA is already in this watchlist" in message
    assert w.add_field.text() == "$$, zzz"
    assert w.add_error.isVisibleTo(w) and w.add_error.text() == message
    assert session.undo.stack.count() == 1                 # one add, undone at once


class FakeSearch:
    """Stands in for ``yfinance.Search``: answers from a table, slowly, and records calls."""

    calls: list[tuple[str, int, str]] = []
    error: Exception | None = None
    QUOTES = {"app": [{"symbol": "AAPL", "shortname": "Apple Inc.", "exchDisp": "NASDAQ"},
                      {"symbol": "APP", "shortname": "AppLovin", "exchDisp": "NASDAQ"},
                      {"symbol": "BAD TICKER!", "shortname": "dropped"}]}

    def __init__(self, query: str, max_results: int = 8, **kwargs: Any) -> None:
        FakeSearch.calls.append((query, max_results, threading.current_thread().name))
        time.sleep(0.3)
        if FakeSearch.error is not None:
            raise FakeSearch.error
        self.quotes = self.QUOTES.get(query.lower(), [])


@pytest.fixture
def fake_search(monkeypatch: pytest.MonkeyPatch) -> type[FakeSearch]:
    import yfinance

    FakeSearch.calls = []
    FakeSearch.error = None
    monkeypatch.setattr(yfinance, "Search", FakeSearch)
    return FakeSearch


def _online(window: Any) -> Any:
    """The settings name Yahoo (online) while the provider stays scripted; set directly, not
    applied, so that nothing else starts talking to Yahoo."""
    session = window.session
    session.settings = session.settings.replace(source="yahoo")
    window.symbol_completer.invalidate()
    return window.symbol_completer


def test_suggestions_offline_come_from_the_bundled_file(
        qtbot: Any, make_window: Any, scripted: Any, fake_search: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=100))
    completer = window.symbol_completer
    field = window.watchlist.add_field
    field.setFocus()
    qtbot.keyClicks(field, "AAA, ms")
    qtbot.waitUntil(lambda: [s.symbol for s in completer.suggestions()] == ["MSFT"], timeout=10_000)
    assert completer.suggestions()[0].where == "bundled data"
    qtbot.wait(completer.debounce_ms + 200)
    assert fake_search.calls == [] and completer.searches == 0       # offline source: no search
    # Choosing a suggestion replaces only the symbol being typed.
    assert completer.popup().isVisible()
    completer.popup().setCurrentIndex(completer.completionModel().index(0, 0))
    qtbot.keyClick(completer.popup(), Qt.Key.Key_Return)
    assert field.text() == "AAA, MSFT"


def test_yahoo_search_runs_off_the_gui_thread_after_typing_pauses(
        qtbot: Any, make_window: Any, scripted: Any, fake_search: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=100))
    completer = _online(window)
    field = window.watchlist.add_field
    field.setFocus()
    ticks: list[float] = []
    heartbeat = QTimer(window)
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start(10)
    qtbot.keyClicks(field, "app")                       # three keystrokes, one search
    qtbot.waitUntil(lambda: any(s.symbol == "APP" for s in completer.suggestions()), timeout=10_000)
    heartbeat.stop()
    assert [(q, n) for q, n, _ in fake_search.calls] == [("app", 12)]
    assert fake_search.calls[0][2] != threading.main_thread().name
    assert [s.symbol for s in completer.suggestions()] == ["AAPL", "APP"]
    assert completer.suggestions()[0].label() == "AAPL  —  Apple Inc. · NASDAQ"
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert gaps and max(gaps) < 0.25, "the GUI thread waited for the search"
    # An answer for text no longer being typed is not shown.
    qtbot.keyClicks(field, "x")
    qtbot.waitUntil(lambda: len(fake_search.calls) == 2, timeout=5000)
    field.setText("")
    field.textEdited.emit("")
    qtbot.wait(500)
    assert completer.suggestions() == []


def test_offline_search_falls_back_to_local_quietly(
        qtbot: Any, make_window: Any, scripted: Any, fake_search: Any, caplog: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=100))
    completer = _online(window)
    fake_search.error = OSError("network is unreachable")
    field = window.watchlist.add_field
    field.setFocus()
    caplog.set_level(logging.INFO)
    qtbot.keyClicks(field, "ib")
    qtbot.waitUntil(lambda: len(fake_search.calls) == 1, timeout=5000)
    qtbot.wait(600)
    qtbot.keyClicks(field, "m")
    qtbot.wait(completer.debounce_ms + 400)
    assert len(fake_search.calls) == 1                   # left alone after a failure
    assert [s.symbol for s in completer.suggestions()] == ["IBM"]
    told = [r for r in caplog.records if "symbol search" in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "search" in r.getMessage()]
    assert "search" not in window.statusBar().currentMessage()


def test_delete_add_and_move_can_be_undone_and_redone(
        qtbot: Any, make_window: Any, scripted: Any, home: Any, refreshed: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB", "CCC", "DDD"], bars=200),
                         symbols=["AAA", "BBB", "CCC"])
    session, w = window.session, window.watchlist
    refreshed(qtbot, session)
    saved = lambda: json.loads(home.watchlists_file.read_text())["lists"]["Default"]  # noqa: E731
    before = session.model.state_of("BBB")
    assert before is not None and before.has_values
    w.select_symbol("BBB")
    w.table.setFocus()
    qtbot.keyClick(w.table, Qt.Key.Key_Delete)
    assert session.model.symbols() == saved() == ["AAA", "CCC"]
    assert window.act_undo.isEnabled() and "remove BBB" in window.act_undo.text()
    qtbot.keyClick(w.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.model.symbols() == saved() == ["AAA", "BBB", "CCC"]
    assert session.model.state_of("BBB") == before           # its values came back with it
    qtbot.keyClick(w.table, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert session.model.symbols() == saved() == ["AAA", "CCC"]
    window.act_undo.trigger()
    # Two steps up are one move to undo.
    w.select_symbol("CCC")
    window.act_up.trigger()
    window.act_up.trigger()
    assert saved() == ["CCC", "AAA", "BBB"]
    window.act_undo.trigger()
    assert saved() == ["AAA", "BBB", "CCC"]
    # An add is undone too; Ctrl+Z in the add field edits the field, not the list.
    with qtbot.waitSignal(session.symbol_added, timeout=10_000):
        w.add_requested.emit("ddd")
    assert saved() == ["AAA", "BBB", "CCC", "DDD"]
    w.add_field.setFocus()
    qtbot.keyClicks(w.add_field, "xy")
    qtbot.keyClick(w.add_field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert saved() == ["AAA", "BBB", "CCC", "DDD"] and w.add_field.text() != "xy"
    window.act_undo.trigger()
    assert saved() == ["AAA", "BBB", "CCC"]
    # Another list has its own edits: switching forgets these.
    session.create_list("Other")
    assert not window.act_undo.isEnabled() and not window.act_redo.isEnabled()
