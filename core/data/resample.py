"""Coarser bars built from finer ones: weeks and months from days, 2h/4h from 1h, and so on.

A resampled bar takes the first open, the highest high, the lowest low, the last close and
the summed volume of the base bars in its period. Periods follow what traders expect,
measured on the exchange's local clock (the bars' ``tz``):

* ``1wk``: Monday to Sunday; the bar is stamped at its Monday's local midnight even when
  that Monday was a holiday (as the providers' own weekly bars are).
* ``1mo``: the calendar month, stamped at local midnight of the 1st.
* intraday multiples (``2h``/``4h`` from ``1h``, ``15m``/``30m`` from ``5m``, …): laid on
  the base grid from the first bar of each local day, so a 9:30–16:00 session gives 4h
  bars at 9:30 and 13:30 (the last one shorter), like a provider's own session-aligned
  bars; a missing base bar does not shift the grid. Each bar is stamped at its slot start.

The last bar is *forming* while its period has not ended at ``now`` (the next Monday, the
next 1st, the slot start plus its length): more base bars may still change it.

Resampled bars are never stored: :class:`ResampledView` builds them on read from the
stored base bars, so a refresh of the base is all a resampled interval needs.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from core.data.bars import Bars
from core.data.intervals import DERIVED_FROM, interval_seconds
from core.data.store import SeriesInfo
from core.errors import DataError

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_MINUTE_NS = 60 * _NS


@dataclass(frozen=True, eq=False)
class Resampled:
    """Bars of a coarser interval and where they came from.

    Attributes
    ----------
    bars : Bars
        The resampled bars (``interval`` is the coarser one).
    base : str
        The interval they were built from.
    forming : bool
        True when the last bar's period had not ended at ``now``: it is incomplete.
    """

    bars: Bars
    base: str
    forming: bool


def _zone(tz: str) -> dt.tzinfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc         # as format_timestamp: an unknown zone shows UTC


def local_ns(timestamps: np.ndarray, tz: str) -> np.ndarray:
    """UTC ns timestamps as local wall-clock ns of ``tz`` (UTC offset added per bar).

    Offsets change only on whole minutes, so they are looked up once per distinct minute.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    zone = _zone(tz)
    minutes, inverse = np.unique(ts // _MINUTE_NS, return_inverse=True)
    offsets = np.fromiter(
        (dt.datetime.fromtimestamp(int(m) * 60, zone).utcoffset().total_seconds()  # type: ignore[union-attr]
         for m in minutes), dtype=np.float64, count=minutes.size)
    return ts + offsets.astype(np.int64)[inverse] * _NS


def _local_midnight_utc(day: int, zone: dt.tzinfo) -> int:
    """UTC ns of local midnight of ``day`` (days since 1970-01-01)."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    when = dt.datetime(date.year, date.month, date.day, tzinfo=zone)
    return int(round(when.timestamp())) * _NS


def _period_starts(local_days: npt.NDArray[np.int64], interval: str) -> npt.NDArray[np.int64]:
    """The first day of the week or month of each local day (days since 1970-01-01)."""
    if interval == "1wk":
        return local_days - (local_days + 3) % 7       # 1970-01-01 was a Thursday
    month = local_days.astype("datetime64[D]").astype("datetime64[M]")
    return month.astype("datetime64[D]").astype(np.int64)


def period_end_ns(start_ns: int, interval: str, tz: str) -> int:
    """UTC ns at which the resampled bar stamped ``start_ns`` is complete: the next local
    Monday or 1st for weeks and months, the slot start plus its length otherwise."""
    if interval not in ("1wk", "1mo"):
        return int(start_ns) + interval_seconds(interval) * _NS
    day = int(local_ns(np.array([start_ns]), tz)[0] // _DAY_NS)
    if interval == "1wk":
        following = day + 7
    else:
        month = np.datetime64(day, "D").astype("datetime64[M]") + 1
        following = int(month.astype("datetime64[D]").astype(np.int64))
    return _local_midnight_utc(following, _zone(tz))


def is_forming(bars: Bars, now: float | None = None) -> bool:
    """Whether the last of these resampled bars was still forming at ``now`` (Unix s,
    default the clock): its period had not ended, so more base bars may change it."""
    if len(bars) == 0:
        return False
    now_ns = int((time.time() if now is None else now) * _NS)
    return now_ns < period_end_ns(int(bars.timestamps[-1]), bars.interval, bars.tz)


def _periods(bars: Bars, interval: str) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first base bar of each period, the period's UTC start stamp in ns)."""
    ts = bars.timestamps
    days = local_ns(ts, bars.tz) // _DAY_NS
    if interval in ("1wk", "1mo"):
        key = _period_starts(days, interval)
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        zone = _zone(bars.tz)
        return first, np.array([_local_midnight_utc(k, zone) for k in key[first]], dtype=np.int64)
    step = interval_seconds(interval) * _NS
    day_first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    anchor = np.repeat(ts[day_first], np.diff(np.r_[day_first, ts.size]))
    slot = anchor + (ts - anchor) // step * step
    first = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
    return first, slot[first]


def resample(bars: Bars, interval: str, *, now: float | None = None) -> Resampled:
    """``bars`` aggregated into ``interval`` (see the module docstring for the periods).

    Parameters
    ----------
    bars : Bars
        Base bars, at an interval ``interval`` is built from (``intervals.DERIVED_FROM``).
    interval : str
        The coarser interval, e.g. ``"1wk"`` or ``"4h"``.
    now : float, optional
        Unix time that decides whether the last bar is still forming; default the clock.

    Raises
    ------
    DataError
        If ``interval`` is not built from ``bars.interval``; the message names the bases.
    """
    bases = DERIVED_FROM.get(interval, ())
    if bars.interval not in bases:
        allowed = ", ".join(bases) if bases else "none: it is not resampled"
        raise DataError(f"{bars.symbol}: cannot build {interval} bars from {bars.interval} bars "
                        f"(bases of {interval}: {allowed})", symbol=bars.symbol)
    n = len(bars)
    if n == 0:
        empty = bars.slice(0, 0)
        return Resampled(Bars(bars.symbol, interval, empty.timestamps, empty.open, empty.high,
                              empty.low, empty.close, empty.volume, tz=bars.tz,
                              source=bars.source, synthetic=bars.synthetic), bars.interval, False)
    first, start = _periods(bars, interval)
    last = np.r_[first[1:], n] - 1
    out = Bars(bars.symbol, interval, start,
               bars.open[first],
               np.maximum.reduceat(bars.high, first),
               np.minimum.reduceat(bars.low, first),
               bars.close[last],
               np.add.reduceat(bars.volume, first),
               tz=bars.tz, source=bars.source, synthetic=bars.synthetic)
    return Resampled(out, bars.interval, is_forming(out, now))


class ResampledView:
    """A read-only, store-like view of one resampled interval over a bar store.

    ``info``, ``load`` and ``load_many`` answer like :class:`BarStore`'s for ``interval``
    by resampling the stored ``base`` bars on read. Each symbol is resampled once per view
    (its bars are kept), so make a new view after the store changed.
    """

    def __init__(self, store: Any, interval: str, base: str, *, now: float | None = None) -> None:
        if base not in DERIVED_FROM.get(interval, ()):
            raise DataError(f"cannot build {interval} bars from {base} bars")
        self.store = store
        self.interval = interval
        self.base = base
        self._now = now
        self._made: dict[str, Resampled | None] = {}

    def resampled(self, symbol: str) -> Resampled | None:
        """The symbol's resampled bars with their forming flag, or None if no base bars."""
        if symbol not in self._made:
            bars = self.store.load(symbol, self.base)
            self._keep(symbol, bars)
        return self._made[symbol]

    def _keep(self, symbol: str, bars: Bars | None) -> None:
        self._made[symbol] = (resample(bars, self.interval, now=self._now)
                              if bars is not None and len(bars) else None)

    def info(self, symbol: str, interval: str) -> SeriesInfo | None:
        made = self.resampled(self._check(symbol, interval))
        if made is None:
            return None
        b = made.bars
        return SeriesInfo(symbol, interval, b.tz, b.source, b.synthetic, len(b),
                          int(b.timestamps[0]), int(b.timestamps[-1]))

    def load(self, symbol: str, interval: str, last: int | None = None) -> Bars | None:
        made = self.resampled(self._check(symbol, interval))
        if made is None:
            return None
        return made.bars if last is None else made.bars.tail(last)

    def load_many(self, symbols: Sequence[str], interval: str) -> dict[str, Bars]:
        self._check("", interval)
        wanted = [s for s in dict.fromkeys(symbols) if s not in self._made]
        loaded = self.store.load_many(wanted, self.base) if wanted else {}
        for s in wanted:
            self._keep(s, loaded.get(s))
        return {s: made.bars for s in symbols if (made := self._made.get(s)) is not None}

    def _check(self, symbol: str, interval: str) -> str:
        if interval != self.interval:
            raise DataError(f"this view serves {self.interval} bars, not {interval}")
        return symbol
