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


#: The columns ``Ticker.history(actions=True)`` adds after the prices.
ACTION_COLUMNS = ("Dividends", "Stock Splits")


def with_actions(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as ``history(actions=True)`` returns it: Dividends and Stock Splits
    columns after Volume, 0.0 on the days without an action."""
    out = frame.copy()
    for column in ACTION_COLUMNS:
        if column not in out.columns:
            out[column] = 0.0
    return out[[c for c in out.columns if c not in ACTION_COLUMNS] + list(ACTION_COLUMNS)]


@dataclass
class FakeYahoo:
    """Scripted per-ticker behaviour behind the real ``yf.download``.

    A frame may carry ``Dividends``/``Stock Splits`` columns: they are served only when the
    call asks for ``actions=True`` (and zeros are added when it does and the frame has
    none), as Yahoo's history call does.
    """

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
        out = with_actions(frame) if kwargs.get("actions") else frame.drop(
            columns=[c for c in ACTION_COLUMNS if c in frame.columns])
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


def price_frame(closes, *, start: str = "2024-05-28", tz: str = "America/New_York",
                volume: float = 10_000.0) -> pd.DataFrame:
    """A ``history(auto_adjust=True)`` frame with the given closes on business days (open
    0.5% below, high 1% above, low 1% below the close)."""
    close = np.asarray(closes, dtype=np.float64)
    index = pd.DatetimeIndex(pd.bdate_range(start, periods=close.size).tz_localize(tz), name="Date")
    return pd.DataFrame({"Open": close * 0.995, "High": close * 1.01, "Low": close * 0.99,
                         "Close": close, "Volume": np.full(close.size, volume)}, index=index)


def adjusted(frame: pd.DataFrame, ex_date: str, *, split: float | None = None,
             dividend: float | None = None) -> pd.DataFrame:
    """``frame`` as Yahoo serves it after a split or a dividend going ex on ``ex_date``:
    the prices before it scaled back (by 1/split, or by 1 - dividend/previous close), the
    volumes before a split scaled up, and the action on the ex-date's row."""
    out = with_actions(frame)
    at = out.index.get_loc(pd.Timestamp(ex_date).tz_localize(out.index.tz))
    before = out.index < out.index[at]
    prices = ["Open", "High", "Low", "Close"]
    if split is not None:
        out.loc[before, prices] = out.loc[before, prices] / split
        out.loc[before, "Volume"] = out.loc[before, "Volume"] * split
        out.iloc[at, out.columns.get_loc("Stock Splits")] = split
    if dividend is not None:
        factor = 1.0 - dividend / out["Close"].iloc[at - 1]
        out.loc[before, prices] = out.loc[before, prices] * factor
        out.iloc[at, out.columns.get_loc("Dividends")] = dividend
    return out


def download_frame(histories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What ``yf.download(list(histories), group_by="column", ignore_tz=False,
    multi_level_index=True)`` builds from these per-ticker history frames: each aligned to
    the most common timezone, reindexed onto the union of all timestamps (all-NaN rows where
    a ticker has no bar), and joined under ``(Price, Ticker)`` columns sorted by both."""
    tzs = [str(f.index.tz) for f in histories.values()]
    mode = max(sorted(set(tzs)), key=tzs.count)
    aligned = {t: f.tz_convert(mode) for t, f in histories.items()}
    union = None
    for f in aligned.values():
        union = f.index if union is None else union.union(f.index)
    data = pd.concat({t: f.reindex(union) for t, f in aligned.items()}, axis=1,
                     names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)
