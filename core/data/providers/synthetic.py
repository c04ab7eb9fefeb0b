"""A seeded synthetic universe for load testing: hundreds of made-up symbols.

Everything about it says it is synthetic: the symbols are ``SYN0001``, ``SYN0002``, ...,
the bars carry ``source="synthetic"`` and ``synthetic=True``. Each symbol's series depends
only on (seed, symbol number, interval, bars), so fetching a subset gives the same bars
as fetching everything. Prices follow a geometric random walk whose drift switches
regime every few months, so trends (and therefore ATC signals) come and go. Bars end on
2024-12-31 whatever today is, so results are reproducible.
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np
import numpy.typing as npt

from core.data.cleaning import clean_columns
from core.data.intervals import interval_seconds
from core.data.providers.base import FetchResult, check_interval, normalise_symbol, start_ns

PREFIX = "SYN"
_END_DAY = np.datetime64("2024-12-31", "D")


def _timestamps(interval: str, bars: int) -> npt.NDArray[np.int64]:
    """``bars`` timestamps (ns UTC) ending on 2024-12-31: weekdays for 1d, even steps else."""
    if interval == "1d":
        days = np.arange(_END_DAY - (bars * 7) // 5 - 14, _END_DAY + 1)
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (Mon = 0)
        days = days[weekday < 5][-bars:]
        return days.astype("datetime64[ns]").astype(np.int64)
    step = interval_seconds(interval) * 1_000_000_000
    end = int(_END_DAY.astype("datetime64[ns]").astype(np.int64))
    return end - step * np.arange(bars - 1, -1, -1, dtype=np.int64)


def synthetic_columns(seed: int, number: int, interval: str, bars: int) -> dict[str, np.ndarray]:
    """The raw OHLCV columns of symbol number ``number`` (1-based)."""
    rng = np.random.default_rng([seed, number, bars, interval_seconds(interval)])
    scale = np.sqrt(min(interval_seconds(interval), 86_400) / 86_400)
    sigma = rng.uniform(0.01, 0.035) * scale
    # Regimes of 40-250 bars, each with its own drift.
    lengths = rng.integers(40, 250, size=bars // 40 + 2)
    drift = np.repeat(rng.normal(0.0, 0.0025, size=lengths.size) * scale, lengths)[:bars]
    log_close = np.log(rng.uniform(5.0, 500.0)) + np.cumsum(rng.normal(drift, sigma))
    close = np.exp(log_close)
    prev = np.concatenate(([close[0]], close[:-1]))
    open_ = prev * np.exp(rng.normal(0.0, sigma / 4, bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, sigma / 2, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, sigma / 2, bars)))
    volume = np.round(rng.lognormal(13.0, 0.6, bars))
    return {"timestamps": _timestamps(interval, bars), "open": open_, "high": high,
            "low": low, "close": close, "volume": volume}


class SyntheticProvider:
    """A deterministic universe of ``count`` synthetic symbols with ``bars`` bars each.

    Parameters
    ----------
    count : int
        Number of symbols (``SYN0001`` ... ).
    bars : int
        Bars per symbol.
    seed : int
        Seed of the whole universe.
    """

    name = "synthetic"
    intervals: tuple[str, ...] = ("1m", "5m", "15m", "30m", "1h", "1d")

    def __init__(self, *, count: int = 500, bars: int = 5000, seed: int = 7) -> None:
        self.count = max(1, int(count))
        self.bars = max(2, int(bars))
        self.seed = int(seed)
        self._width = max(4, len(str(self.count)))

    def symbols(self) -> list[str]:
        """All symbols of the universe, in order."""
        return [f"{PREFIX}{i:0{self._width}d}" for i in range(1, self.count + 1)]

    def _number(self, symbol: str) -> int | None:
        digits = symbol[len(PREFIX):]
        if not symbol.startswith(PREFIX) or not digits.isdigit() or len(digits) != self._width:
            return None
        n = int(digits)
        return n if 1 <= n <= self.count else None

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        """Reason per symbol outside the universe."""
        return {s: self._unknown(s) for s in symbols if self._number(normalise_symbol(s)) is None}

    def _unknown(self, symbol: str) -> str:
        last = self.symbols()[-1]
        return f"{symbol!r} is not in the synthetic universe ({PREFIX}{1:0{self._width}d}..{last})"

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None) -> FetchResult:
        """Synthetic bars from ``start`` (inclusive; None = all)."""
        check_interval(self.name, interval, self.intervals)
        since = start_ns(start)
        result = FetchResult()
        for raw in symbols:
            sym = normalise_symbol(raw)
            number = self._number(sym)
            if number is None:
                result.fail(sym, self._unknown(sym))
                continue
            cols = synthetic_columns(self.seed, number, interval, self.bars)
            if since is not None:
                lo = int(np.searchsorted(cols["timestamps"], since, side="left"))
                cols = {k: v[lo:] for k, v in cols.items()}
            bars, report = clean_columns(sym, interval, cols, tz="UTC", source="synthetic",
                                         synthetic=True)
            result.add(bars, report)
        return result
