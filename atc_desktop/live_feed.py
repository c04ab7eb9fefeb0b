"""Forming bars for the watchlist and the chart, on the GUI thread.

Where quotes come from:

* Yahoo Finance with a network — yfinance's WebSocket client (``core.data.live.QuoteStream``)
  for the watchlist's and the chart's symbols; the state is "live" while it streams and
  "polling" while it reconnects (the history poll keeps the numbers fresh meanwhile);
* the bundled data in replay mode — the bar the next refresh reveals, walked tick by tick
  over the refresh period (``core.data.live.replay``), state "replay";
* anything else — no quotes, state "off" (bars only arrive closed, by refresh).

Quotes are folded into the forming bar of the current interval (``FormingBars``); closed
bars only ever come from the history refresh (``closed``), so a missed or late tick never
changes a closed bar. Updates reach ``forming`` at most ``MAX_UPDATES_PER_S`` times a
second (``Throttle``): a quote after a quiet spell is shown at once, a burst is coalesced
into one repaint per period, so the GUI's work stays bounded whatever the quote rate while
a quote waits at most one period (plus a pump turn) before it is painted. The chart, whose
update and repaint cost ten times a watchlist row's, paces its own forming bar the same way
at ``CHART_UPDATES_PER_S`` (``PacedCall``).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from core.data.live import FormingBars, Quote, QuoteStream, Throttle
from core.data.live.replay import bar_quotes

log = logging.getLogger("atc_desktop.live")

MAX_UPDATES_PER_S = 30.0
CHART_UPDATES_PER_S = 15.0
PUMP_MS = 10
#: Ticks per replayed bar.
REPLAY_TICKS = 12


class LiveFeed(QObject):
    """See the module docstring. ``symbols`` and ``settings`` are read on each restart."""

    state_changed = Signal(str)          # "live" | "connecting" | "polling" | "replay" | "off"
    forming = Signal(dict)               # symbol -> FormingBar (throttled)

    def __init__(self, data: Callable[[], Any], symbols: Callable[[], list[str]],
                 settings: Callable[[], Any], stream_factory: Callable[..., Any] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self._symbols = symbols
        self._settings = settings
        self._stream_factory = stream_factory or QuoteStream
        self._stream: Any = None
        self._bars: FormingBars | None = None
        self._throttle: Throttle[str, Any] = Throttle(MAX_UPDATES_PER_S)
        self._replay: list[tuple[float, Quote]] = []      # (due monotonic time, quote)
        self._timer = QTimer(self)
        self._timer.setInterval(PUMP_MS)
        self._timer.timeout.connect(self._pump)
        self.state = "off"
        self._stream_state = ""

    # -- control --------------------------------------------------------------------------------
    def restart(self) -> None:
        """(Re)start for the current source, interval and symbols."""
        self.stop()
        s = self._settings()
        data = self._data()
        self._bars = FormingBars(s.interval)
        if s.source == "yahoo":
            self._stream = self._stream_factory()
            self._stream.start(self._symbols())
            self._set_state("connecting")
        elif s.source == "bundled" and s.replay and s.interval == "1d":
            self._set_state("replay")
            self._schedule_replay(data)
        else:
            self._set_state("off")
            return
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._replay = []
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        self._set_state("off")

    def set_symbols(self, symbols: list[str]) -> None:
        if self._stream is not None:
            self._stream.set_symbols(symbols)

    def closed(self, symbol: str, last_closed_ns: int, tz: str) -> None:
        """The history refresh has stored bars up to ``last_closed_ns``: those are closed.
        In replay mode this also starts the walk of the next bar."""
        if self._bars is not None:
            self._bars.close_through(symbol, last_closed_ns, tz=tz)

    def replay_step(self) -> None:
        """A refresh revealed a bar: walk the next one until the following refresh."""
        if self.state == "replay":
            self._schedule_replay(self._data())

    # -- work -----------------------------------------------------------------------------------
    def _schedule_replay(self, data: Any) -> None:
        provider = data.provider
        upcoming = getattr(provider, "upcoming", None)
        if upcoming is None:
            return
        bars = upcoming(self._symbols())
        period = max(float(self._settings().refresh_seconds), 1.0)
        now = time.monotonic()
        schedule = []
        for sym, bar in bars.items():
            quotes = bar_quotes(sym, bar, REPLAY_TICKS)
            step = 0.9 * period / len(quotes)              # all played before the refresh
            schedule += [(now + step * (k + 1), q) for k, q in enumerate(quotes)]
        self._replay = sorted(schedule, key=lambda item: item[0])

    def _pump(self) -> None:
        bars = self._bars
        if bars is None:
            return
        if self._stream is not None:
            if self._stream.state != self._stream_state:
                self._stream_state = self._stream.state
                self._set_state(self._stream_state)
            for _ in range(2000):                          # bounded work per turn
                q = self._stream.next_quote()
                if q is None:
                    break
                self._fold(bars, q)
        elif self._replay:
            now = time.monotonic()
            k = 0
            while k < len(self._replay) and self._replay[k][0] <= now:
                self._fold(bars, self._replay[k][1])
                k += 1
            del self._replay[:k]
        if self._throttle.due_in() == 0:
            updates = self._throttle.take()
            if updates:
                self.forming.emit(updates)

    def _fold(self, bars: FormingBars, quote: Quote) -> None:
        added = bars.add(quote)
        if added is not None:
            self._throttle.push(*added)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            log.info("quotes: %s", state)
            self.state_changed.emit(state)


class PacedCall(QObject):
    """Calls ``fn`` with the latest pushed value at most ``per_second`` times a second: in
    the next event-loop turn after a quiet spell, otherwise when the period ends (values
    pushed meanwhile are replaced by the newest)."""

    def __init__(self, fn: Callable[[Any], None], per_second: float,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._throttle: Throttle[None, Any] = Throttle(per_second)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._release)

    def push(self, value: Any) -> None:
        self._throttle.push(None, value)
        if not self._timer.isActive():
            self._timer.start(math.ceil((self._throttle.due_in() or 0.0) * 1000.0))

    def _release(self) -> None:
        out = self._throttle.take()
        if out:
            self._fn(out[None])
            return
        wait = self._throttle.due_in()       # the timer fired a fraction early
        if wait is not None:
            self._timer.start(max(1, math.ceil(wait * 1000.0)))
