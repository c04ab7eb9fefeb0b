"""Backend status (available or why not, version, device, threads) and the fallback log
(time, from, to, reason) that the registry feeds from its computing threads."""
from __future__ import annotations

import time
from typing import Any, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

MAX_FALLBACK_ROWS = 1000


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
    FALLBACK_HEADERS = ("Time", "From", "To", "Reason", "Operation")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_table = self._table(self.STATUS_HEADERS)
        self.fallback_table = self._table(self.FALLBACK_HEADERS)
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
        for ev in events:
            self.add_fallback(ev)

    def add_fallback(self, event: Any) -> None:
        t = self.fallback_table
        t.insertRow(0)
        when = time.strftime("%H:%M:%S", time.localtime(event.time))
        t.setItem(0, 0, _item(when, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))))
        t.setItem(0, 1, _item(event.backend))
        t.setItem(0, 2, _item(event.fallback_to))
        t.setItem(0, 3, _item(event.reason, event.reason))
        t.setItem(0, 4, _item(event.operation))
        if t.rowCount() > MAX_FALLBACK_ROWS:
            t.setRowCount(MAX_FALLBACK_ROWS)

    def fallback_rows(self) -> list[tuple[str, ...]]:
        t = self.fallback_table
        return [tuple(t.item(r, c).text() for c in range(t.columnCount())) for r in range(t.rowCount())]
