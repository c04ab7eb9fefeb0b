"""``Bars``: one symbol's OHLCV history at one interval, as plain numpy arrays.

Everything that leaves the data layer (provider results, store reads) is a ``Bars``: the
timestamps are int64 nanoseconds since the epoch in UTC, strictly ascending; the prices are
float64, C-contiguous, finite and positive once the cleaner has run. The exchange timezone
travels with the bars only for display.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from core.errors import DataError

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")
ARRAY_FIELDS: tuple[str, ...] = ("timestamps", *PRICE_FIELDS, "volume")
SOURCES: tuple[str, ...] = ("yahoo", "csv", "bundled", "synthetic")


def _frozen_array(values: object, dtype: type, name: str, symbol: str) -> np.ndarray:
    arr: np.ndarray = np.ascontiguousarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise DataError(f"{symbol}: {name} must be 1-D, got shape {arr.shape}", symbol=symbol)
    if arr.flags.writeable:
        # A view keeps the caller's array writable while ours is read-only: bars are shared
        # between threads and caches, so nobody may edit them in place.
        arr = arr.view()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Bars:
    """One symbol's bars at one interval.

    Attributes
    ----------
    symbol : str
        Ticker as the provider knows it (upper case for Yahoo).
    interval : str
        Bar interval, e.g. ``"1d"`` (see ``core.data.intervals``).
    timestamps : numpy.ndarray
        int64 nanoseconds since 1970-01-01 UTC of each bar's start, ascending and unique.
    open, high, low, close, volume : numpy.ndarray
        float64 arrays of the same length, read-only.
    tz : str
        IANA name of the exchange timezone, used only to display the timestamps.
    source : str
        ``"yahoo"``, ``"csv"``, ``"bundled"`` or ``"synthetic"``.
    synthetic : bool
        True for generated data, so the UI can label it.
    """

    symbol: str
    interval: str
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tz: str = "UTC"
    source: str = "csv"
    synthetic: bool = False
    _checked: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = None
        for name in ARRAY_FIELDS:
            dtype = np.int64 if name == "timestamps" else np.float64
            arr = _frozen_array(getattr(self, name), dtype, name, self.symbol)
            object.__setattr__(self, name, arr)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise DataError(
                    f"{self.symbol}: {name} has {arr.shape[0]} values, timestamps has {n}",
                    symbol=self.symbol,
                )
        if self._checked and n and n > 1 and not bool(np.all(self.timestamps[1:] > self.timestamps[:-1])):
            raise DataError(
                f"{self.symbol}: timestamps must be strictly ascending; clean the bars first",
                symbol=self.symbol,
            )

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def __repr__(self) -> str:
        if len(self) == 0:
            span = "empty"
        else:
            daily = self.interval in ("1d", "5d", "1wk", "1mo")
            first, last = (format_timestamp(int(t), self.tz, date_only=daily)
                           for t in self.timestamps[[0, -1]])
            span = f"{first} .. {last}"
        flag = ", synthetic" if self.synthetic else ""
        return f"Bars({self.symbol!r}, {self.interval}, {len(self)} bars, {span}, {self.source}{flag})"

    def tail(self, n: int) -> Bars:
        """The last ``n`` bars (all of them if there are fewer); views, no copy.

        Parameters
        ----------
        n : int
            Number of bars to keep; ``n <= 0`` gives empty bars.
        """
        start = max(len(self) - max(int(n), 0), 0)
        return self.slice(start, len(self))

    def slice(self, start: int, stop: int) -> Bars:
        """Bars ``start:stop`` (positions, like a Python slice with step 1); views, no copy."""
        arrays = {name: getattr(self, name)[start:stop] for name in ARRAY_FIELDS}
        return Bars(
            self.symbol, self.interval, tz=self.tz, source=self.source,
            synthetic=self.synthetic, _checked=False, **arrays,
        )

    def since(self, timestamp_ns: int) -> Bars:
        """The bars whose timestamp is at or after ``timestamp_ns``."""
        start = int(np.searchsorted(self.timestamps, np.int64(timestamp_ns), side="left"))
        return self.slice(start, len(self))

    @property
    def last_timestamp(self) -> int | None:
        """Timestamp of the newest bar (ns, UTC), or None when empty."""
        return int(self.timestamps[-1]) if len(self) else None


def empty_bars(symbol: str, interval: str, *, tz: str = "UTC", source: str = "csv",
               synthetic: bool = False) -> Bars:
    """Zero-length bars (an incremental fetch that found nothing new)."""
    zf = np.zeros(0, dtype=np.float64)
    return Bars(symbol, interval, np.zeros(0, dtype=np.int64), zf, zf, zf, zf, zf,
                tz=tz, source=source, synthetic=synthetic)


def format_timestamp(timestamp_ns: int, tz: str = "UTC", *, date_only: bool = False) -> str:
    """Render an int64 ns UTC timestamp for messages, in the exchange timezone ``tz``.

    Parameters
    ----------
    timestamp_ns : int
        Nanoseconds since the epoch, UTC.
    tz : str
        IANA timezone to show the time in; an unknown name falls back to UTC.
    date_only : bool
        Show only the local date (daily and longer bars start at local midnight).
    """
    seconds = int(timestamp_ns) // 1_000_000_000
    try:
        zone: dt.tzinfo = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone, tz = dt.timezone.utc, "UTC"
    try:
        when = dt.datetime.fromtimestamp(seconds, zone)
    except (OverflowError, OSError, ValueError):
        # Outside datetime's range (years 1..9999): numpy can still print it, in UTC.
        return str(np.datetime64(int(timestamp_ns), "ns"))
    if date_only:
        return when.strftime("%Y-%m-%d")
    suffix = "Z" if tz == "UTC" else f" {tz}"
    return when.strftime("%Y-%m-%d %H:%M") + suffix
