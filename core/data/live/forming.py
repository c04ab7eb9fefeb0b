"""``FormingBars``: streamed quotes aggregated into the bar that is still forming.

One instance per interval (the chart's and the watchlist's may differ; feed both the same
quotes). Bars are *closed* only by the history fetch: when it delivers bars, call
``close_through(symbol, bars.timestamps[-1], tz=bars.tz)``; the stream never edits a
closed bar, and a quote that falls into a closed bar (late, replayed, or after a missed
reconnect) is ignored.

Bar boundaries follow the stored bars' timestamp convention (``core.data.bars``: int64 ns
UTC of each bar's start; Yahoo's daily and longer bars start at exchange-local midnight):

* intraday: the grid ``phase + k * interval_seconds``; the phase is 0 (bars at multiples
  of the interval since the epoch) until ``close_through`` gives a closed bar, then the
  grid runs through that bar, so Yahoo's 1h bars that start at :30 (NYSE opens 9:30)
  line up. A session that reopens off the grid (a lunch break ending at :30 for hourly
  bars) gets its first forming bars on the old grid until the next history fetch.
* ``1d``: midnight of the quote's date in the symbol's exchange timezone;
* ``1wk``: midnight of that week's Monday; ``1mo``: of the month's first day.
* ``5d`` is not streamed (Yahoo serves no such bars).

Volume is approximate: for ``1d`` it is the quote's ``day_volume`` (the day's total so
far); for other intervals the growth of ``day_volume`` between consecutive quotes (a drop
means a new trading day: the new total counts). Quotes without ``day_volume`` add none.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.data.intervals import interval_seconds, is_intraday
from core.data.live.quotes import Quote
from core.errors import DataError

_NS = 1_000_000_000
#: Bars the stream completed without a history fetch closing them, kept per symbol.
MAX_UNCLOSED = 1_000


@dataclass(frozen=True, slots=True)
class FormingBar:
    """A bar built from quotes (immutable: every update is a new object).

    ``start`` is int64 ns UTC like ``Bars.timestamps``; ``last_time`` the epoch seconds of
    the quote that set ``close``; ``ticks`` how many quotes went into the bar.
    """

    symbol: str
    interval: str
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    last_time: float
    ticks: int = 1


def _zone(tz: str) -> dt.tzinfo:
    """The exchange timezone; an unknown name falls back to UTC, as ``format_timestamp``."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


@dataclass
class _Symbol:
    tz: dt.tzinfo
    phase_ns: int = 0
    last_closed: int | None = None
    last_day_volume: float | None = None
    bars: list[FormingBar] = field(default_factory=list)   # after last_closed, ascending


def _quote_ns(t: float) -> int:
    return round(t * 1_000_000) * 1_000          # microseconds are exact in a float


def _local_midnight_ns(day: dt.date, zone: dt.tzinfo) -> int:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return int(midnight.timestamp()) * _NS


class FormingBars:
    """The forming bar of each symbol at one interval.

    Thread-safe (one lock); the app normally feeds it from the GUI thread.

    Parameters
    ----------
    interval : str
        One of ``core.data.intervals.INTERVALS`` except ``"5d"``.
    tz : str
        Exchange timezone assumed for symbols that ``close_through`` has not named one for
        (only daily and longer bars depend on it).
    """

    def __init__(self, interval: str, tz: str = "UTC") -> None:
        self.step_ns = interval_seconds(interval) * _NS   # raises on an unknown interval
        if interval == "5d":
            raise DataError("interval '5d' cannot be streamed (Yahoo serves no 5d bars); "
                            "use 1d or 1wk")
        self.interval = interval
        self.intraday = is_intraday(interval)
        self._default_tz = _zone(tz)
        self._symbols: dict[str, _Symbol] = {}
        self._lock = threading.Lock()
        #: Quotes ignored because their bar is closed or already left behind.
        self.late = 0

    def bar_start(self, time_s: float, symbol: str | None = None) -> int:
        """Start (ns UTC) of the bar that a quote at ``time_s`` belongs to."""
        with self._lock:
            state = self._symbols.get(symbol) if symbol else None
            return self._start(_quote_ns(time_s), state or _Symbol(self._default_tz))

    def _start(self, t_ns: int, state: _Symbol) -> int:
        if self.intraday:
            return state.phase_ns + (t_ns - state.phase_ns) // self.step_ns * self.step_ns
        day = dt.datetime.fromtimestamp(t_ns / _NS, state.tz).date()
        if self.interval == "1wk":
            day -= dt.timedelta(days=day.weekday())
        elif self.interval == "1mo":
            day = day.replace(day=1)
        return _local_midnight_ns(day, state.tz)

    def _state(self, symbol: str) -> _Symbol:
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _Symbol(self._default_tz)
        return state

    def _volume(self, state: _Symbol, quote: Quote, previous: float) -> float:
        dv = quote.day_volume
        if dv is None:
            return previous
        if self.interval == "1d":
            return dv
        base = state.last_day_volume
        grown = 0.0 if base is None else (dv - base if dv >= base else dv)
        return previous + grown

    def add(self, quote: Quote) -> tuple[str, FormingBar] | None:
        """Fold ``quote`` into its symbol's forming bar.

        Returns ``(symbol, bar)`` with the updated bar, or None when the quote was ignored:
        its bar is closed (at or before the last ``close_through``) or older than the bar
        already forming.
        """
        t_ns = _quote_ns(quote.time)
        with self._lock:
            state = self._state(quote.symbol)
            start = self._start(t_ns, state)
            current = state.bars[-1] if state.bars else None
            if ((state.last_closed is not None and start <= state.last_closed)
                    or (current is not None and start < current.start)):
                self.late += 1
                return None
            if current is None or start > current.start:
                bar = FormingBar(quote.symbol, self.interval, start, quote.price, quote.price,
                                 quote.price, quote.price, self._volume(state, quote, 0.0),
                                 quote.time)
                state.bars.append(bar)
                del state.bars[:-MAX_UNCLOSED]
            else:
                newer = quote.time >= current.last_time   # an out-of-order tick moves no close
                bar = replace(
                    current, high=max(current.high, quote.price),
                    low=min(current.low, quote.price),
                    close=quote.price if newer else current.close,
                    last_time=quote.time if newer else current.last_time,
                    volume=self._volume(state, quote, current.volume), ticks=current.ticks + 1)
                state.bars[-1] = bar
            if quote.day_volume is not None:
                state.last_day_volume = quote.day_volume
            return quote.symbol, bar

    def close_through(self, symbol: str, last_closed_timestamp: int,
                      tz: str | None = None) -> None:
        """The history fetch has closed every bar up to ``last_closed_timestamp`` (ns UTC,
        the start of the newest stored bar): drop the stream's bars up to it and ignore
        quotes that fall into them from now on. A closed bar never reopens, so an older
        timestamp than one already given changes nothing. ``tz`` (the stored bars' ``tz``)
        sets the symbol's exchange timezone for daily and longer bars.
        """
        last = int(last_closed_timestamp)
        with self._lock:
            state = self._state(symbol)
            if tz is not None:
                state.tz = _zone(tz)
            if state.last_closed is not None and last <= state.last_closed:
                return
            state.last_closed = last
            state.phase_ns = last % self.step_ns if self.intraday else 0
            state.bars = [b for b in state.bars if b.start > last]

    def forming(self, symbol: str) -> FormingBar | None:
        """The newest bar the stream built after the last closed bar, or None."""
        with self._lock:
            state = self._symbols.get(symbol)
            return state.bars[-1] if state and state.bars else None

    def unclosed(self, symbol: str) -> tuple[FormingBar, ...]:
        """Every bar the stream built after the last closed bar, oldest first (the last one
        is forming; earlier ones completed but await the history fetch)."""
        with self._lock:
            state = self._symbols.get(symbol)
            return tuple(state.bars) if state else ()

    def discard(self, symbol: str) -> None:
        """Forget a symbol (removed from the watchlist)."""
        with self._lock:
            self._symbols.pop(symbol, None)
