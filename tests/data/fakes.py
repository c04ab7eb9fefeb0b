"""Fakes shared by the data tests: Yahoo history frames, a scripted Yahoo, a fake clock."""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

NOW = dt.datetime(2024, 3, 1, 21, 0, tzinfo=dt.timezone.utc)


from tests.network_guard import NetworkBlocked  # noqa: E402  (re-exported for the data tests)


def daily_frame(n: int, *, start: str = "2024-01-02", tz: str = "America/New_York",
                price: float = 100.0, seed: int = 0, freq: str = "B") -> pd.DataFrame:
    """One ticker's history as ``Ticker.history(auto_adjust=True)`` returns it."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    local = pd.date_range(start, periods=n, freq=freq)
    index = pd.DatetimeIndex(local.tz_localize(tz), name="Date" if freq in ("B", "D") else "Datetime")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                         "Volume": rng.integers(1_000, 100_000, n).astype(np.int64)}, index=index)


@dataclass
class FakeYahoo:
    """Scripted per-ticker behaviour behind the real ``yf.download``."""

    series: dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: dict[str, Callable[[str], Exception]] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, symbol: str, frame: pd.DataFrame) -> None:
        self.series[symbol.upper()] = frame

    def history(self, ticker: str, kwargs: dict) -> pd.DataFrame:
        from yfinance.exceptions import YFRateLimitError

        with self.lock:
            self.calls.append((ticker, dict(kwargs)))
            if self.rate_limited.get(ticker, 0) > 0:
                self.rate_limited[ticker] -= 1
                raise YFRateLimitError()
        if ticker in self.errors:
            raise self.errors[ticker](ticker)
        frame = self.series.get(ticker)
        if frame is None:
            from yfinance.exceptions import YFTzMissingError

            raise YFTzMissingError(ticker)
        out = frame
        start, end = kwargs.get("start"), kwargs.get("end")
        if start is not None:
            out = out[out.index >= pd.Timestamp(start).tz_convert(out.index.tz)]
        if end is not None:
            out = out[out.index < pd.Timestamp(end).tz_convert(out.index.tz)]
        return out.copy()


class FakeClock:
    """``sleep`` and ``monotonic`` replacements: sleeping advances the clock instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


DAY_NS = 86_400 * 1_000_000_000


def make_bars(symbol: str, n: int, *, first_day: int = 19_000, seed: int = 0,
              source: str = "csv", interval: str = "1d", step_ns: int = DAY_NS,
              synthetic: bool = False, tz: str = "UTC"):
    """Clean bars: ``n`` bars from day ``first_day`` after the epoch, ``step_ns`` apart."""
    from core.data import Bars

    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    ts = first_day * DAY_NS + step_ns * np.arange(n, dtype=np.int64)
    return Bars(symbol, interval, ts, close * 1.001, close * 1.01, close * 0.99, close,
                rng.integers(1, 10_000, n).astype(np.float64), tz=tz, source=source,
                synthetic=synthetic)
