"""Cleaning and validation of raw bars before they reach the store or the indicator.

Every provider passes its raw rows through :func:`clean_arrays`. Each kind of problem has
one stated policy, applied in the order below, and is reported per symbol with its count
and the earliest offending timestamp; nothing is dropped or changed silently.

=================  ======================================================================
kind               policy
=================  ======================================================================
``bad_timestamp``  a missing (NaT) timestamp: the row is dropped.
``non_finite``     NaN or infinite open/high/low/close: the row is dropped (prices are
                   never interpolated).
``non_positive``   an open/high/low/close of zero or less: the row is dropped.
``out_of_range``   a price above ``core.types.PRICE_MAX`` or below ``PRICE_MIN`` (where
                   float64 sums and returns would overflow): the row is dropped.
``unsorted``       rows out of time order: sorted (stable); counted once per row that
                   arrived earlier in time than the row before it.
``duplicate``      several rows with one timestamp: the last one received is kept (a
                   re-fetched, still-forming bar supersedes the older copy); the count is
                   the number of rows dropped. Bad rows were dropped before this step, so
                   a broken re-fetch never replaces a good bar.
``inconsistent``   high below open/close/low, or low above them: high and low are widened
                   to the bar's highest and lowest price.
``bad_volume``     NaN, infinite or negative volume: set to 0 (volume never feeds the
                   indicator, so the bar is kept).
``spike``          one bar whose close is more than 10x (or under 1/10) away from both
                   neighbours while the neighbours agree with each other: a bad tick, the
                   bar is dropped.
``jump``           a close more than 10x (or under 1/10) away from the previous close that
                   persists (a level shift, such as a split in unadjusted data): the bar is
                   kept and flagged, since dropping real history would be worse.
``gap``            bars further apart than the interval's gap threshold (see
                   ``core.data.intervals.gap_threshold_seconds``): reported, never filled.
=================  ======================================================================

Whatever the input, the output has finite prices within the computable range, finite non-negative volume
and strictly ascending unique timestamps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from core.data.bars import Bars, format_timestamp
from core.data.intervals import gap_threshold_seconds, interval_seconds
from core.errors import DataError
from core.types import PRICE_MAX, PRICE_MIN

#: Closes more than this factor apart (up or down) from their neighbour are "absurd".
JUMP_FACTOR = 10.0
_LOG_JUMP = math.log(JUMP_FACTOR)
_NAT = np.iinfo(np.int64).min

#: Policy for each issue kind, in the order the cleaner applies them.
POLICIES: dict[str, str] = {
    "bad_timestamp": "rows without a timestamp dropped",
    "non_finite": "rows with a NaN or infinite price dropped",
    "non_positive": "rows with a zero or negative price dropped",
    "out_of_range": f"rows with a price outside {PRICE_MIN:g} … {PRICE_MAX:g} dropped",
    "unsorted": "rows sorted by time",
    "duplicate": "last row kept for each repeated timestamp",
    "inconsistent": "high/low widened to contain open and close",
    "bad_volume": "NaN, infinite or negative volume set to 0",
    "spike": f"isolated bar over {JUMP_FACTOR:g}x away from both neighbours dropped",
    "jump": f"persistent move over {JUMP_FACTOR:g}x kept and flagged",
    "gap": "reported, not filled",
}
KINDS: tuple[str, ...] = tuple(POLICIES)


@dataclass(frozen=True)
class CleaningReport:
    """What the cleaner found and did for one symbol.

    Attributes
    ----------
    symbol, interval : str
        The series cleaned.
    rows_in, rows_out : int
        Rows received and bars passed on.
    counts : Mapping[str, int]
        Occurrences per issue kind (only kinds that occurred).
    first : Mapping[str, int | None]
        Earliest offending timestamp (ns, UTC) per kind; None for ``bad_timestamp``.
    tz : str
        Exchange timezone, used to print the timestamps.
    """

    symbol: str
    interval: str
    rows_in: int
    rows_out: int
    counts: Mapping[str, int] = field(default_factory=dict)
    first: Mapping[str, int | None] = field(default_factory=dict)
    tz: str = "UTC"

    @property
    def is_clean(self) -> bool:
        """True when no issue of any kind was found."""
        return not self.counts

    @property
    def policy(self) -> dict[str, str]:
        """The policy applied to each kind that occurred."""
        return {kind: POLICIES[kind] for kind in self.counts}

    def summary(self) -> str:
        """One human-readable line, e.g. for a log or a status bar."""
        head = f"{self.symbol} {self.interval}"
        if self.is_clean:
            return f"{head}: clean, {self.rows_out} bars"
        daily = interval_seconds(self.interval) >= 86_400
        parts = []
        for kind, count in self.counts.items():
            when = self.first.get(kind)
            at = f", first {format_timestamp(when, self.tz, date_only=daily)}" if when is not None else ""
            parts.append(f"{count} {kind}{at} ({POLICIES[kind]})")
        return f"{head}: {self.rows_in} rows -> {self.rows_out} bars; " + "; ".join(parts)


class _Tally:
    """Collects counts and earliest timestamps while the cleaning steps run."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, int | None] = {}

    def add(self, kind: str, offending_ts: np.ndarray | None, count: int | None = None) -> None:
        n = int(count if count is not None else (0 if offending_ts is None else offending_ts.size))
        if n == 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + n
        earliest = int(offending_ts.min()) if offending_ts is not None and offending_ts.size else None
        previous = self.first.get(kind)
        if previous is None or (earliest is not None and earliest < previous):
            self.first[kind] = earliest


def _as_timestamps(values: object) -> np.ndarray:
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        # NaT becomes int64 min, which the first step treats as missing.
        return arr.astype("datetime64[ns]").astype(np.int64)
    return np.asarray(arr, dtype=np.int64)


def clean_arrays(
    symbol: str,
    interval: str,
    timestamps: object,
    open: object,  # noqa: A002 - the OHLCV field names are the clearest here
    high: object,
    low: object,
    close: object,
    volume: object | None = None,
    *,
    tz: str = "UTC",
    source: str = "csv",
    synthetic: bool = False,
) -> tuple[Bars, CleaningReport]:
    """Apply the module's policies to raw rows and return clean bars with their report.

    Parameters
    ----------
    symbol, interval : str
        The series, for the report and the resulting ``Bars``.
    timestamps : array_like
        int64 ns since the epoch (UTC) or datetime64 values; NaT marks a missing time.
    open, high, low, close : array_like
        Prices, any order, possibly NaN, infinite, zero or negative.
    volume : array_like, optional
        Volumes; missing means 0 for every row.
    tz, source, synthetic
        Carried into the resulting ``Bars``.

    Returns
    -------
    (Bars, CleaningReport)

    Raises
    ------
    DataError
        If the arrays are not 1-D or differ in length (a provider bug, not bad data).
    """
    ts = _as_timestamps(timestamps)
    cols = [np.array(a, dtype=np.float64, copy=True) for a in (open, high, low, close)]
    vol = (np.zeros(ts.shape, dtype=np.float64) if volume is None
           else np.array(volume, dtype=np.float64, copy=True))
    for name, arr in zip(("timestamps", "open", "high", "low", "close", "volume"), [ts, *cols, vol]):
        if arr.ndim != 1 or arr.shape != ts.shape:
            raise DataError(
                f"{symbol}: {name} has shape {arr.shape}, timestamps has {ts.shape}", symbol=symbol
            )
    rows_in = int(ts.size)
    tally = _Tally()

    def keep(mask: np.ndarray) -> None:
        nonlocal ts, vol
        ts, vol = ts[mask], vol[mask]
        cols[:] = [c[mask] for c in cols]

    with np.errstate(all="ignore"):
        missing = np.asarray(ts == _NAT)
        tally.add("bad_timestamp", None, count=int(missing.sum()))
        keep(~missing)

        prices = np.vstack(cols) if ts.size else np.zeros((4, 0))
        non_finite = ~np.asarray(np.isfinite(prices).all(axis=0))
        tally.add("non_finite", ts[non_finite])
        non_positive = ~non_finite & (prices <= 0).any(axis=0)
        tally.add("non_positive", ts[non_positive])
        out_of_range = ~non_finite & ~non_positive & ((prices < PRICE_MIN) | (prices > PRICE_MAX)).any(axis=0)
        tally.add("out_of_range", ts[out_of_range])
        keep(~(non_finite | non_positive | out_of_range))

        if ts.size > 1:
            descending = ts[1:] < ts[:-1]
            tally.add("unsorted", ts[1:][descending])
            if descending.any():
                keep(np.argsort(ts, kind="stable"))
            # Stable sort keeps arrival order within a timestamp, so "last" is the newest copy.
            last_of_run = np.append(ts[1:] != ts[:-1], True)
            tally.add("duplicate", ts[~last_of_run])
            keep(last_of_run)

        o, h, lo, c = cols
        top = np.maximum(np.maximum(o, c), np.maximum(h, lo))
        bottom = np.minimum(np.minimum(o, c), np.minimum(h, lo))
        inconsistent = (h != top) | (lo != bottom)
        tally.add("inconsistent", ts[inconsistent])
        cols[1], cols[2] = top, bottom

        bad_volume = ~np.isfinite(vol) | (vol < 0)
        tally.add("bad_volume", ts[bad_volume])
        vol[bad_volume] = 0.0

        if ts.size > 2:
            log_c = np.log(cols[3])
            big = np.abs(np.diff(log_c)) > _LOG_JUMP
            neighbours_agree = np.abs(log_c[2:] - log_c[:-2]) <= _LOG_JUMP
            spike = np.zeros(ts.size, dtype=bool)
            spike[1:-1] = big[:-1] & big[1:] & neighbours_agree
            tally.add("spike", ts[spike])
            keep(~spike)

        if ts.size > 1:
            jump = np.abs(np.diff(np.log(cols[3]))) > _LOG_JUMP
            tally.add("jump", ts[1:][jump])
            # Differences in float64: int64 differences of extreme timestamps could wrap.
            spacing = np.diff(ts.astype(np.float64))
            gap = spacing > gap_threshold_seconds(interval) * 1e9
            tally.add("gap", ts[1:][gap])

    o, h, lo, c = cols
    bars = Bars(symbol, interval, ts, o, h, lo, c, vol, tz=tz, source=source, synthetic=synthetic)
    ordered = {k: tally.counts[k] for k in KINDS if k in tally.counts}
    report = CleaningReport(
        symbol, interval, rows_in, len(bars), ordered,
        {k: tally.first[k] for k in ordered}, tz=tz,
    )
    return bars, report


def clean_columns(symbol: str, interval: str, cols: Mapping[str, np.ndarray], *,
                  tz: str = "UTC", source: str = "csv", synthetic: bool = False
                  ) -> tuple[Bars, CleaningReport]:
    """:func:`clean_arrays` for a mapping with keys timestamps, open, high, low, close and
    (optionally) volume, as the providers build them."""
    return clean_arrays(symbol, interval, cols["timestamps"], cols["open"], cols["high"],
                        cols["low"], cols["close"], cols.get("volume"), tz=tz, source=source,
                        synthetic=synthetic)
