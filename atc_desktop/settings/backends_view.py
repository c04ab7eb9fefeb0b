"""Backend status (available or why not, version, device, threads) and the fallback log
(time, from, to, reason, count) that the registry feeds from its computing threads."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from atc_desktop.table_text import table_rows

MAX_FALLBACK_ROWS = 1000

#: What makes two fallbacks the same one: (from, to, reason, operation).
FallbackKey = tuple[str, str, str, str]


@dataclass
class RepeatedFallback:
    """One fallback however often it happened: when first and last, and how many times."""

    first: float
    last: float
    count: int = 1


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class FallbackBridge(QObject):
    """Registry listener → Qt signal: ``registry.add_listener(bridge.listener)``.

    The registry calls listeners on whatever thread computed; emitting a signal of this
    GUI-thread object queues the event to the GUI thread's receivers.
    """

    fallback_recorded = Signal(object)

    def listener(self, event: Any) -> None:
        try:
            self.fallback_recorded.emit(event)
        except RuntimeError:        # the bridge is gone (shutdown)
            pass


def _item(text: str, tip: str = "") -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tip:
        it.setToolTip(tip)
    return it


class BackendsView(QWidget):
    """Two tables: each backend's status, and every fallback that happened."""

    reprobe_requested = Signal()
    STATUS_HEADERS = ("Backend", "Status", "Version", "Device", "Threads", "Why not / note")
    FALLBACK_HEADERS = ("Time", "From", "To", "Reason", "Operation", "Count")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_table = self._table(self.STATUS_HEADERS)
        self.fallback_table = self._table(self.FALLBACK_HEADERS)
        # A fallback that repeats (every refresh, say) is one row with a count; rows are
        # newest first, so a repeat moves its row to the top.
        self._fallback_keys: list[FallbackKey] = []
        self._repeats: dict[FallbackKey, RepeatedFallback] = {}
        self.summary = QLabel("probing backends…", self)
        self.summary.setWordWrap(True)
        reprobe = QPushButton("Probe again", self)
        reprobe.setToolTip("look for backends again (after installing one)")
        reprobe.clicked.connect(self.reprobe_requested)
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(reprobe)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(head)
        lay.addWidget(self.status_table, 2)
        lay.addWidget(QLabel("Fallback log (newest first)", self))
        lay.addWidget(self.fallback_table, 3)

    def _table(self, headers: Sequence[str]) -> QTableWidget:
        t = QTableWidget(0, len(headers), self)
        t.setHorizontalHeaderLabels(list(headers))
        t.verticalHeader().setVisible(False)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setStretchLastSection(True)
        return t

    def set_status(self, rows: Sequence[Any], preferred: str = "auto") -> None:
        """Show ``registry.status()`` rows (BackendStatus); ``preferred`` is the user's choice."""
        t = self.status_table
        t.setRowCount(len(rows))
        active = ""
        for i, st in enumerate(rows):
            state = "active" if st.active else "available" if st.available else "unavailable"
            if st.active:
                active = st.name
            t.setItem(i, 0, _item(st.name))
            t.setItem(i, 1, _item(state))
            t.setItem(i, 2, _item(st.version or ""))
            t.setItem(i, 3, _item(st.device or ""))
            t.setItem(i, 4, _item(str(st.threads) if st.threads else ""))
            t.setItem(i, 5, _item(st.reason or "", st.reason or ""))
        n_ok = sum(1 for st in rows if st.available)
        choice = ("auto: the first available of " + " → ".join(st.name for st in rows)
                  if preferred == "auto" else f"{preferred} first, then the others in order")
        self.summary.setText(f"{n_ok} of {len(rows)} backends available; full ATC runs on "
                             f"{active or 'none'} ({choice}).")

    def set_status_error(self, message: str) -> None:
        self.summary.setText(f"backend probe failed: {message}")

    def set_fallbacks(self, events: Sequence[Any]) -> None:
        self.fallback_table.setRowCount(0)
        self._fallback_keys.clear()
        self._repeats.clear()
        for ev in events:
            self.add_fallback(ev)

    def add_fallback(self, event: Any) -> int:
        """Log ``event`` (a ``FallbackEvent``); returns how many times it happened so far."""
        key: FallbackKey = (event.backend, event.fallback_to, event.reason, event.operation)
        t = self.fallback_table
        seen = self._repeats.get(key)
        if seen is None:
            seen = self._repeats[key] = RepeatedFallback(event.time, event.time)
        else:
            seen.count += 1
            seen.last = max(seen.last, event.time)
            row = self._fallback_keys.index(key)
            del self._fallback_keys[row]
            t.removeRow(row)
        self._fallback_keys.insert(0, key)
        t.insertRow(0)
        when = (_clock(seen.last) if seen.count == 1 else
                f"{seen.count} times, first {_clock(seen.first)}, last {_clock(seen.last)}")
        t.setItem(0, 0, _item(time.strftime("%H:%M:%S", time.localtime(seen.last)), when))
        for col, text in enumerate(key, start=1):
            t.setItem(0, col, _item(text, text if col == 3 else ""))
        t.setItem(0, 5, _item(str(seen.count), when))
        if t.rowCount() > MAX_FALLBACK_ROWS:
            for dropped in self._fallback_keys[MAX_FALLBACK_ROWS:]:
                del self._repeats[dropped]
            del self._fallback_keys[MAX_FALLBACK_ROWS:]
            t.setRowCount(MAX_FALLBACK_ROWS)
        return seen.count

    def fallback_rows(self) -> list[tuple[str, ...]]:
        t = self.fallback_table
        return [tuple(row) for row in table_rows(t)]
