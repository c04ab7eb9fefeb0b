"""Sample inputs for the chart's screenshot script and benchmark: the bundled daily stock
history (OHLC scaled by Adj Close / Close, so splits do not show as crashes) and a
synthetic random walk of any length, as plain bar containers with ``Bars``' fields."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BUNDLED_CSV = Path(__file__).resolve().parents[2] / "resources" / "stocks_daily_2000_2013.csv.gz"


@dataclass(frozen=True)
class SampleBars:
    """The fields of ``core.data.Bars`` the chart reads."""

    symbol: str
    interval: str
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tz: str = "UTC"
    source: str = "synthetic"
    synthetic: bool = True

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def head(self, n: int) -> SampleBars:
        """The first ``n`` bars (what the chart showed before later bars arrived)."""
        return SampleBars(self.symbol, self.interval, self.timestamps[:n], self.open[:n],
                          self.high[:n], self.low[:n], self.close[:n], self.volume[:n],
                          self.tz, self.source, self.synthetic)


def bundled_bars(symbol: str = "AAPL", path: Path = BUNDLED_CSV) -> SampleBars:
    """Daily bars of ``symbol`` from the bundled file, split/dividend adjusted."""
    frame = pd.read_csv(path)
    frame = frame[frame["Ticker"] == symbol].sort_values("Date")
    if frame.empty:
        raise ValueError(f"{symbol!r} is not in {path.name}")
    scale = (frame["Adj Close"] / frame["Close"]).to_numpy(np.float64)
    # Daily bars start at local midnight of the exchange (New York), stored as UTC ns.
    stamps = (pd.DatetimeIndex(pd.to_datetime(frame["Date"])).tz_localize("America/New_York")
              .tz_convert("UTC").as_unit("ns").asi8.astype(np.int64))
    cols = {k: np.ascontiguousarray(frame[c].to_numpy(np.float64) * scale)
            for k, c in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close"))}
    return SampleBars(symbol, "1d", stamps, cols["open"], cols["high"], cols["low"], cols["close"],
                      np.ascontiguousarray(frame["Volume"].to_numpy(np.float64)),
                      tz="America/New_York", source="bundled", synthetic=False)


def synthetic_bars(n: int, seed: int = 7, symbol: str = "SYN", interval: str = "1h") -> SampleBars:
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
    return SampleBars(symbol, interval, stamps, open_, high, low, close, volume,
                      tz="America/New_York", source="synthetic", synthetic=True)
