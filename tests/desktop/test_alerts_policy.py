"""Alerts that mean something: only events on the newest bar of fresh data alert (not the
history a re-added symbol or a reopened chart brings back), each symbol's alerts can be
turned off or bound to a source, and a repeated backend fallback is one row with a count."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint

from atc_desktop.alerts import AlertCenter, AlertRule, fresh_latest
from atc_desktop.screening import EVENT_TAIL, SignalEvent
from atc_desktop.settings.backends_view import BackendsView
from atc_desktop.watchlist.row import RowState
from core.atc import compute_reference
from core.backends.registry import FallbackEvent


def ev(sym: str, t: int, kind: str = "long", source: str = "screen", interval: str = "1d") -> SignalEvent:
    return SignalEvent(sym, interval, kind, t, source, 0.5)


def test_a_second_look_after_several_bars_alerts_only_the_newest(qtbot: Any, tmp_path: Path) -> None:
    """A chart reopened five bars later brings back events on the bars in between: they
    are history, not news."""
    center = AlertCenter(tmp_path / "alerts.json")
    center.set_rule(["A"], source="atc")
    assert [a.bar_time for a in center.consider([ev("A", 10, source="atc")], {"A": 10}, "atc", "1d")] == [10]
    later = [ev("A", 12, "short", "atc"), ev("A", 14, "long", "atc"), ev("A", 15, "short", "atc")]
    assert [(a.bar_time, a.kind) for a in center.consider(later, {"A": 15}, "atc", "1d")] == [(15, "short")]
    # ``latest`` speaks of one source's bars at one interval.
    assert center.consider([ev("A", 16, source="atc", interval="1h")], {"A": 16}, "atc", "1d") == []
    assert center.consider([ev("A", 16, source="screen")], {"A": 16}, "atc", "1d") == []


def test_stale_rows_alert_nothing() -> None:
    rows = [RowState("A", data_time=5), RowState("B", data_time=6, stale=True, stale_reason="fetch failed"),
            RowState("C")]
    assert fresh_latest(rows) == {"A": 5}


def test_a_re_added_symbol_alerts_only_its_newest_bar(qtbot: Any, make_window: Any, scripted: Any,
                                                      refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB"], bars=700, visible=300)
    window = make_window(provider=provider)
    session = window.session
    refreshed(qtbot, session)
    session.remove_symbols(["BBB"])
    close = provider.series["BBB"]
    config = session.settings.config
    # Re-add it when an event lies in the reported tail but before the newest bar.
    for n in range(330, 700):
        ref = compute_reference(np.ascontiguousarray(close[:n]), config, families=1)
        tail = [i for i in range(n - EVENT_TAIL, n - 1) if ref.long[i] or ref.short[i]]
        if tail:
            break
    else:
        pytest.fail("the test series needs an event in the tail")
    on_newest = bool(ref.long[n - 1] or ref.short[n - 1])
    provider.visible = n
    newest = int(provider.bars("BBB").timestamps[n - 1])
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000) as done:
        window.watchlist.add_requested.emit("BBB")
    assert any(e.symbol == "BBB" and e.bar_time < newest for e in done.args[0].events), \
        "the screening reports the tail's older events too"
    bbb = [a.bar_time for a in session.alerts.model.alerts() if a.symbol == "BBB"]
    assert bbb == ([newest] if on_newest else [])


def test_rules_per_symbol_choose_whether_and_what_alerts(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    center = AlertCenter(path)
    with qtbot.waitSignal(center.rules_changed) as changed:
        center.set_rule(["A"], enabled=False)
    assert changed.args[0] == ["A"]
    events = [ev("A", 9), ev("B", 9)]
    assert [a.symbol for a in center.consider(events, {"A": 9, "B": 9}, "screen", "1d")] == ["B"]
    center.set_rule(["A"], enabled=True, source="atc")
    assert center.consider([ev("A", 10)], {"A": 10}, "screen", "1d") == []
    assert len(center.consider([ev("A", 10, source="atc")], {"A": 10}, "atc", "1d")) == 1
    with pytest.raises(ValueError, match="screen, atc, both"):
        center.set_rule(["A"], source="sometimes")
    center.set_rule(["B"], source="both")
    center.set_rule(["B"], source="screen")            # back to the default: nothing to keep
    center.flush()
    assert json.loads(path.read_text())["rules"] == {"A": {"enabled": True, "source": "atc"}}
    again = AlertCenter(path)
    assert again.rule("A") == AlertRule(True, "atc") and again.rule("B") == AlertRule()


@pytest.mark.parametrize("rules", [{"AAPL": {"source": "sometimes"}}, {"AAPL": {"enabled": "yes"}},
                                   {"AAPL": {"colour": "red"}}, {"../x": {}}, ["AAPL"]])
def test_a_bad_saved_rule_keeps_the_file_aside(tmp_path: Path, rules: Any) -> None:
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps({"seen": [], "recent": [], "rules": rules}))
    center = AlertCenter(path)
    assert center.set_aside is not None and center.rule("AAPL") == AlertRule()
    assert list(tmp_path.glob("alerts.json.corrupt-*"))


def test_context_menus_set_a_symbols_alerts(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB"], bars=100))
    alerts = window.session.alerts
    watchlist_menu, alerts_menu = window.alert_menus
    w = window.watchlist
    w.select_symbol("BBB")
    pos = w.table.visualRect(w.proxy.mapFromSource(window.session.model.index(1, 1))).center()
    w.table.customContextMenuRequested.emit(pos)
    menu = watchlist_menu.last
    assert menu is not None and menu.isVisible()
    texts = [a.text() for a in menu.actions()]
    assert window.act_chart.text() in texts and window.act_remove.text() in texts
    on = next(a for a in menu.actions() if a.text() == "Alerts on")
    assert on.isChecked()
    on.trigger()
    assert alerts.rule("BBB") == AlertRule(enabled=False) and alerts.rule("AAA") == AlertRule()
    menu.close()
    w.table.customContextMenuRequested.emit(pos)
    menu = watchlist_menu.last
    assert not next(a for a in menu.actions() if a.text() == "Alerts on").isChecked()
    next(a for a in menu.actions() if a.objectName() == "alertSource_atc").trigger()
    assert alerts.rule("BBB") == AlertRule(enabled=False, source="atc")
    menu.close()
    # The alerts table: the symbol of the alert under the pointer.
    alerts.consider([ev("AAA", 5)], {"AAA": 5}, "screen", "1d")
    table = window.alerts_table
    table.customContextMenuRequested.emit(table.visualRect(table.model().index(0, 1)).center())
    menu = alerts_menu.last
    assert menu is not None and any("AAA" in a.text() for a in menu.actions())
    next(a for a in menu.actions() if a.objectName() == "alertSource_both").trigger()
    assert alerts.rule("AAA") == AlertRule(source="both")
    menu.close()
    table.customContextMenuRequested.emit(QPoint(5, table.viewport().height() - 2))   # no row
    assert alerts_menu.last is menu


def test_a_repeated_fallback_is_one_row_with_a_count(qtbot: Any) -> None:
    view = BackendsView()
    qtbot.addWidget(view)
    same = [FallbackEvent(100.0 + i, "numba", "numpy", "kernel build failed", "compute") for i in range(3)]
    other = FallbackEvent(101.5, "rust", "numba", "not installed", "compute_batch[full]")
    counts = [view.add_fallback(e) for e in (same[0], same[1], other, same[2])]
    assert counts == [1, 2, 1, 3]
    rows = view.fallback_rows()
    assert [r[1:] for r in rows] == [("numba", "numpy", "kernel build failed", "compute", "3"),
                                     ("rust", "numba", "not installed", "compute_batch[full]", "1")]
    assert "3 times" in view.fallback_table.item(0, 0).toolTip()
    view.set_fallbacks(same)                             # the registry's log at start
    assert [r[5] for r in view.fallback_rows()] == ["3"]
