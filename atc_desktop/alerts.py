"""Alerts: a long/short event on the newest bar notifies once — tray, log, alerts table —
for the symbols and the source (screening signal, full ATC) the user chose; the alerted
events and the per-symbol choices are kept on disk so a restart repeats nothing."""
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
from core.data.symbols import symbol_syntax_error

log = logging.getLogger("atc_desktop.alerts")

MAX_KEYS = 20_000
MAX_RECENT = 500
SOURCE_LABELS = {"screen": "EMA screening", "atc": "full ATC"}
#: A symbol's choice of source → the event sources it alerts on.
SOURCE_CHOICES: dict[str, tuple[str, ...]] = {"screen": ("screen",), "atc": ("atc",),
                                              "both": ("screen", "atc")}
CHOICE_LABELS = {"screen": "screening signal", "atc": "full ATC", "both": "both"}


@dataclass(frozen=True)
class AlertRule:
    """One symbol's alert setting: on or off, and which computation's events alert.

    The default is the screening signal: it runs for every symbol on every refresh, while
    the full ATC runs only for the charted symbol (its events would repeat the
    screening's on opening a chart).
    """

    enabled: bool = True
    source: str = "screen"

    def __post_init__(self) -> None:
        if self.source not in SOURCE_CHOICES:
            raise ValueError(f"alert source must be one of {', '.join(SOURCE_CHOICES)}, "
                             f"not {self.source!r}")

    def wants(self, source: str) -> bool:
        return self.enabled and source in SOURCE_CHOICES[self.source]

    def describe(self) -> str:
        return f"on ({CHOICE_LABELS[self.source]})" if self.enabled else "off"


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
    family: str = ""        # the screened family of a "screen" alert ("" = EMA)

    @property
    def key(self) -> str:
        source = self.source if self.family in ("", "EMA") else f"{self.source}:{self.family}"
        return f"{source}|{self.symbol}|{self.interval}|{self.kind}|{self.bar_time}"

    @property
    def source_label(self) -> str:
        """"KAMA screening", "EMA screening", "full ATC": which computation alerted."""
        if self.source == "screen":
            return f"{self.family or 'EMA'} screening"
        return SOURCE_LABELS.get(self.source, self.source)

    def message(self) -> str:
        return (f"{self.symbol} {self.kind.upper()} ({self.source_label}, "
                f"{self.interval}) on the bar of {format_time(self.bar_time, self.interval, self.tz)}")


def display_row(a: Alert) -> tuple[str, ...]:
    """The alerts table's cells for ``a``."""
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.time)), a.symbol, a.kind,
            a.source_label, format_time(a.bar_time, a.interval, a.tz),
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


def rule_from_saved(item: Any, what: str) -> AlertRule:
    """One saved per-symbol rule: ``{"enabled": bool, "source": choice}``."""
    expect(item, dict, what)
    unknown = sorted(set(item) - {f.name for f in fields(AlertRule)})
    if unknown:
        raise ShapeError(f"{what} has an unknown field {unknown[0]!r}")
    enabled = member(item, "enabled", bool, True)
    source = member(item, "source", str, "screen")
    if source not in SOURCE_CHOICES:
        raise ShapeError(f"{what}.source must be one of {', '.join(SOURCE_CHOICES)}, not {source!r}")
    return AlertRule(enabled, source)


def parse_history(data: Any) -> tuple[list[str], list[Alert], dict[str, AlertRule]]:
    """(alerted keys, recent alerts, per-symbol rules) of a saved history:
    ``{"seen": [str], "recent": [alert], "rules": {symbol: rule}}``."""
    expect(data, dict, "the alert history")
    seen = member(data, "seen", list, [])
    for i, key in enumerate(seen):
        expect(key, str, f"'seen'[{i}]")
    recent = member(data, "recent", list, [])
    rules = {}
    for symbol, item in member(data, "rules", dict, {}).items():
        reason = symbol_syntax_error(symbol)
        if reason is not None:
            raise ShapeError(f"'rules' names a bad symbol: {reason}")
        rules[symbol] = rule_from_saved(item, f"'rules'[{symbol!r}]")
    return seen, [alert_from_saved(item, f"'recent'[{i}]") for i, item in enumerate(recent)], rules


def fresh_latest(rows: Iterable[Any]) -> dict[str, int]:
    """Symbol → newest bar time of the watchlist rows (``RowState``) whose bars are fresh.
    A stale row (its fetch failed, or it was not fetched for long) shows bars that may be
    days old: nothing on them is news."""
    return {r.symbol: r.data_time for r in rows if r.data_time is not None and not r.stale}


class AlertsModel(QAbstractTableModel):
    """The alerts table, newest first."""

    HEADERS = ("Time", "Symbol", "Event", "Source", "Bar", "Value")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._alerts: list[Alert] = []

    def alerts(self) -> list[Alert]:
        return list(self._alerts)

    def alert(self, row: int) -> Alert:
        return self._alerts[row]

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
    """Decides which events alert, records them, and announces each exactly once.

    An event alerts when it lies on its symbol's newest bar, the symbol's rule wants its
    source, and its key — source, symbol, interval, kind, bar time — was never alerted
    before, in this run or an earlier one. Events on older bars are history: re-adding a
    symbol or opening a chart shows them but does not alert.
    """

    alert_raised = Signal(object)
    rules_changed = Signal(list)          # the symbols whose rule changed

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.model = AlertsModel(self)
        self._seen: dict[str, None] = {}           # insertion-ordered set, oldest first
        self._rules: dict[str, AlertRule] = {}     # only symbols that differ from the default
        self._notifier: Any = None
        self._writer = BackgroundWriter()
        #: Set when the saved history was unusable and moved aside.
        self.set_aside: SetAside | None = None
        self._load()

    def set_notifier(self, notifier: Any) -> None:
        """An object with ``showMessage(title, text)`` (a QSystemTrayIcon), or None."""
        self._notifier = notifier

    # -- per-symbol rules ---------------------------------------------------------------------
    def rule(self, symbol: str) -> AlertRule:
        return self._rules.get(symbol, AlertRule())

    def set_rule(self, symbols: Iterable[str], enabled: bool | None = None,
                 source: str | None = None) -> None:
        """Turn the alerts of ``symbols`` on or off and/or choose their source
        (``SOURCE_CHOICES``; ValueError otherwise); saved at once."""
        changed = []
        for symbol in dict.fromkeys(symbols):
            old = self.rule(symbol)
            new = AlertRule(old.enabled if enabled is None else bool(enabled),
                            old.source if source is None else source)
            if new == old:
                continue
            if new == AlertRule():
                self._rules.pop(symbol, None)
            else:
                self._rules[symbol] = new
            changed.append(symbol)
        if changed:
            log.info("alerts of %s: %s", ", ".join(changed), self.rule(changed[0]).describe())
            self._save()
            self.rules_changed.emit(changed)

    # -- events -------------------------------------------------------------------------------
    def consider(self, events: Iterable[SignalEvent], latest: dict[str, int], source: str,
                 interval: str) -> list[Alert]:
        """Alert the new events among ``events``, which one computation (``source``) found
        on bars of ``interval``; ``latest`` maps symbol → its newest bar time there (a
        symbol that is absent, e.g. with stale data, alerts nothing)."""
        raised = []
        for ev in events:
            if ev.source != source or ev.interval != interval:
                continue                  # ``latest`` speaks of this source's bars only
            if latest.get(ev.symbol) != ev.bar_time or not self.rule(ev.symbol).wants(ev.source):
                continue
            alert = Alert(time.time(), ev.symbol, ev.interval, ev.kind, ev.source,
                          ev.bar_time, ev.value, ev.tz, ev.family)
            if alert.key in self._seen:
                continue
            self._seen[alert.key] = None
            raised.append(alert)
        for alert in raised:
            self._announce(alert)
        if raised:
            self._save()
        return raised

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
        seen, recent, rules = loaded
        self._seen = dict.fromkeys(seen)
        self.model.set_alerts(recent)
        self._rules = {s: r for s, r in rules.items() if r != AlertRule()}

    def flush(self) -> None:
        """Wait until the alert history is on disk (shutdown, tests)."""
        self._writer.flush()

    def _save(self) -> None:
        keys = list(self._seen)[-MAX_KEYS:]
        self._seen = dict.fromkeys(keys)
        self._writer.submit(self.path, {"version": 1, "seen": keys,
                                        "recent": [asdict(a) for a in self.model.alerts()],
                                        "rules": {s: asdict(r) for s, r in self._rules.items()}})
