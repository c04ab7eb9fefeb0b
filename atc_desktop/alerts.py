"""Alerts: a long/short event on a new bar notifies once — tray, log, alerts table — and
the set of alerted events is kept on disk so a restart does not repeat them."""
from __future__ import annotations

import logging
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from atc_desktop.persist import BackgroundWriter, SetAside, ShapeError, expect, load_json, member
from atc_desktop.screening import SignalEvent
from atc_desktop.watchlist.columns import format_time

log = logging.getLogger("atc_desktop.alerts")

MAX_KEYS = 20_000
MAX_RECENT = 500
SOURCE_LABELS = {"screen": "EMA screening", "atc": "full ATC"}


@dataclass(frozen=True)
class Alert:
    time: float
    symbol: str
    interval: str
    kind: str
    source: str
    bar_time: int
    value: float
    tz: str = "UTC"

    @property
    def key(self) -> str:
        return f"{self.source}|{self.symbol}|{self.interval}|{self.kind}|{self.bar_time}"

    def message(self) -> str:
        return (f"{self.symbol} {self.kind.upper()} ({SOURCE_LABELS.get(self.source, self.source)}, "
                f"{self.interval}) on the bar of {format_time(self.bar_time, self.interval, self.tz)}")


def display_row(a: Alert) -> tuple[str, ...]:
    """The alerts table's cells for ``a``."""
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.time)), a.symbol, a.kind,
            SOURCE_LABELS.get(a.source, a.source), format_time(a.bar_time, a.interval, a.tz),
            f"{a.value:+.3f}")


#: JSON types each saved field may have (a float field also takes a whole number).
_FIELD_KINDS: dict[str, type | tuple[type, ...]] = {"float": (float, int), "int": int, "str": str}


def alert_from_saved(item: Any, what: str) -> Alert:
    """One saved alert, every field of its own type; anything else is a ShapeError."""
    expect(item, dict, what)
    unknown = sorted(set(item) - {f.name for f in fields(Alert)})
    if unknown:
        raise ShapeError(f"{what} has an unknown field {unknown[0]!r}")
    values = {}
    for f in fields(Alert):
        if f.name in item:
            values[f.name] = expect(item[f.name], _FIELD_KINDS[str(f.type)], f"{what}.{f.name}")
        elif f.default is MISSING:
            raise ShapeError(f"{what} has no {f.name!r}")
    alert = Alert(**values)
    try:
        display_row(alert)           # a time the table cannot show would fail on every paint
    except (ValueError, OverflowError) as exc:
        raise ShapeError(f"{what} cannot be shown: {exc}") from exc
    return alert


def parse_history(data: Any) -> tuple[list[str], list[Alert]]:
    """(alerted keys, recent alerts) of a saved history: ``{"seen": [str], "recent": [alert]}``."""
    expect(data, dict, "the alert history")
    seen = member(data, "seen", list, [])
    for i, key in enumerate(seen):
        expect(key, str, f"'seen'[{i}]")
    recent = member(data, "recent", list, [])
    return seen, [alert_from_saved(item, f"'recent'[{i}]") for i, item in enumerate(recent)]


class AlertsModel(QAbstractTableModel):
    """The alerts table, newest first."""

    HEADERS = ("Time", "Symbol", "Event", "Source", "Bar", "Value")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._alerts: list[Alert] = []

    def alerts(self) -> list[Alert]:
        return list(self._alerts)

    def set_alerts(self, alerts: list[Alert]) -> None:
        self.beginResetModel()
        self._alerts = list(alerts)
        self.endResetModel()

    def prepend(self, alert: Alert) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._alerts.insert(0, alert)
        self.endInsertRows()
        if len(self._alerts) > MAX_RECENT:
            self.beginRemoveRows(QModelIndex(), MAX_RECENT, len(self._alerts) - 1)
            del self._alerts[MAX_RECENT:]
            self.endRemoveRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._alerts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        a = self._alerts[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return a.message()
        return display_row(a)[index.column()]

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None


class AlertCenter(QObject):
    """Decides which events are new, records them, and announces each exactly once.

    An event is new when its bar is newer than the last bar this session saw for that
    symbol (on the first look: when it is on the latest bar), and its key — source, symbol,
    interval, kind, bar time — was never alerted before, in this run or an earlier one.
    """

    alert_raised = Signal(object)

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.model = AlertsModel(self)
        self._seen: dict[str, None] = {}           # insertion-ordered set, oldest first
        self._last_bar: dict[tuple[str, str, str], int] = {}
        self._notifier: Any = None
        self._writer = BackgroundWriter()
        #: Set when the saved history was unusable and moved aside.
        self.set_aside: SetAside | None = None
        self._load()

    def set_notifier(self, notifier: Any) -> None:
        """An object with ``showMessage(title, text)`` (a QSystemTrayIcon), or None."""
        self._notifier = notifier

    def consider(self, events: Iterable[SignalEvent], latest: dict[str, int], source: str,
                 interval: str) -> list[Alert]:
        """Alert the new events among ``events``; ``latest`` maps symbol → last bar time."""
        by_symbol: dict[str, list[SignalEvent]] = {}
        for ev in events:
            by_symbol.setdefault(ev.symbol, []).append(ev)
        raised = []
        for symbol, last in latest.items():
            key = (source, symbol, interval)
            prev = self._last_bar.get(key)
            self._last_bar[key] = last
            for ev in by_symbol.get(symbol, ()):
                fresh = ev.bar_time == last if prev is None else ev.bar_time > prev
                if not fresh:
                    continue
                alert = Alert(time.time(), ev.symbol, ev.interval, ev.kind, ev.source,
                              ev.bar_time, ev.value, ev.tz)
                if alert.key in self._seen:
                    continue
                self._seen[alert.key] = None
                raised.append(alert)
        for alert in raised:
            self._announce(alert)
        if raised:
            self._save()
        return raised

    def forget_session(self) -> None:
        """Forget the bars seen in this session (after the data source changes)."""
        self._last_bar.clear()

    def _announce(self, alert: Alert) -> None:
        self.model.prepend(alert)
        log.warning("ALERT %s", alert.message())
        if self._notifier is not None:
            try:
                self._notifier.showMessage(f"ATC {alert.kind} — {alert.symbol}", alert.message())
            except RuntimeError:          # the tray icon was destroyed
                self._notifier = None
        self.alert_raised.emit(alert)

    def _load(self) -> None:
        loaded, self.set_aside = load_json(self.path, parse_history)
        if loaded is None:
            return
        seen, recent = loaded
        self._seen = dict.fromkeys(seen)
        self.model.set_alerts(recent)

    def flush(self) -> None:
        """Wait until the alert history is on disk (shutdown, tests)."""
        self._writer.flush()

    def _save(self) -> None:
        keys = list(self._seen)[-MAX_KEYS:]
        self._seen = dict.fromkeys(keys)
        self._writer.submit(self.path, {"version": 1, "seen": keys,
                                        "recent": [asdict(a) for a in self.model.alerts()]})
