"""Alerts fire once per event — in the table, the log and the notifier — also across
restarts, and only for events on new bars."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atc_desktop.alerts import AlertCenter
from atc_desktop.screening import SignalEvent
from core.atc import compute_reference


class Notifier:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def showMessage(self, title: str, text: str) -> None:  # noqa: N802 - QSystemTrayIcon's name
        self.messages.append((title, text))


def ev(sym: str, t: int, kind: str = "long", source: str = "screen") -> SignalEvent:
    return SignalEvent(sym, "1d", kind, t, source, 0.5)


def test_each_event_alerts_once_also_after_a_restart(qtbot: Any, tmp_path: Path, caplog: Any) -> None:
    path = tmp_path / "alerts.json"
    center = AlertCenter(path)
    notes = Notifier()
    center.set_notifier(notes)
    # Only an event on the newest bar alerts.
    raised = center.consider([ev("A", 5), ev("A", 9)], {"A": 9}, "screen", "1d")
    assert [a.bar_time for a in raised] == [9]
    assert center.consider([ev("A", 9)], {"A": 9}, "screen", "1d") == []
    # A later refresh with two new bars: the older one's event is history already.
    raised = center.consider([ev("A", 9), ev("A", 10, "short"), ev("A", 11)], {"A": 11}, "screen", "1d")
    assert [(a.bar_time, a.kind) for a in raised] == [(11, "long")]
    assert len(notes.messages) == 2 and "ALERT" in caplog.text
    assert center.model.rowCount() == 2 and center.model.alerts()[0].bar_time == 11
    # The full ATC's event alerts once the symbol's rule asks for that source.
    assert center.consider([ev("A", 11, source="atc")], {"A": 11}, "atc", "1d") == []
    center.set_rule(["A"], source="both")
    assert len(center.consider([ev("A", 11, source="atc")], {"A": 11}, "atc", "1d")) == 1
    center.flush()
    restarted = AlertCenter(path)
    assert restarted.model.rowCount() == 3
    assert restarted.rule("A").source == "both"
    assert restarted.consider([ev("A", 11)], {"A": 11}, "screen", "1d") == []
    assert restarted.consider([ev("A", 11, source="atc")], {"A": 11}, "atc", "1d") == []


def test_replay_events_alert_through_the_app(qtbot: Any, make_window: Any, scripted: Any,
                                             refreshed: Any) -> None:
    """Walk a series bar by bar: each screening event alerts once, on its own bar."""
    provider = scripted(["AAA"], bars=700, visible=400)
    window = make_window(provider=provider)
    session = window.session
    refreshed(qtbot, session)
    close = provider.series["AAA"]
    ref = compute_reference(np.ascontiguousarray(close[:600]), session.settings.config, families=1)
    events = {i for i in range(400, 600) if ref.long[i] or ref.short[i]}
    assert events, "the test series needs events in the replayed range"
    start = len(session.alerts.model.alerts())
    for _ in range(200):
        provider.step()
        refreshed(qtbot, session)
    screen = [a for a in session.alerts.model.alerts()[: len(session.alerts.model.alerts()) - start]
              if a.source == "screen"]
    ts0 = int(provider.bars("AAA").timestamps[0])
    bars_alerted = sorted((a.bar_time - ts0) // (86_400 * 10**9) for a in screen)
    assert bars_alerted == sorted(events)
    assert "ALERT" in "\n".join(window.log_widget.lines())
    assert window.alerts_table.model().rowCount() >= len(events)
