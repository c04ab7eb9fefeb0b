"""Sample inputs for the chart's screenshot tool (tools/chart_screenshot.py), tests and
benchmark: the bundled daily stock history (through the bundled provider, so adjusted as
the app shows it) and a synthetic random walk of any length."""
from __future__ import annotations

import numpy as np

from core.data import Bars, make_provider


def bundled_bars(symbol: str = "AAPL") -> Bars:
    """Daily bars of ``symbol`` from the bundled file, split/dividend adjusted."""
    fetched = make_provider("bundled").fetch([symbol], "1d")
    if symbol not in fetched.bars:
        raise ValueError(f"{symbol!r} is not in the bundled data: {fetched.failures.get(symbol, '')}")
    return fetched.bars[symbol]


def synthetic_bars(n: int, seed: int = 7, symbol: str = "SYN", interval: str = "1h") -> Bars:
    """A geometric random walk of ``n`` hourly bars with plausible OHLCV."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.002, n - 1))
    spread = np.abs(rng.normal(0.0, 0.006, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread * rng.uniform(0.2, 1.0, n)
    volume = rng.lognormal(13.0, 0.5, n).round()
    start = np.datetime64("2020-01-02T14:30", "ns").astype(np.int64)
    stamps = start + np.arange(n, dtype=np.int64) * 3_600_000_000_000
    return Bars(symbol, interval, stamps, open_, high, low, close, volume,
                tz="America/New_York", source="synthetic", synthetic=True)
