"""The chart's Qt-free view of one symbol: bars, the ATC result, the config, and what the
items and the readout derive from them (trend classes, local times, readout rows)."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core.config import FAMILIES, ATCConfig
from core.types import SIGNAL_NAMES, ATCResult

from atc_desktop.chart.theme import BEAR, BULL, NEUTRAL

#: Human names of the data sources ``core.data.Bars.source`` can carry.
SOURCE_LABELS: dict[str, str] = {
    "yahoo": "Yahoo Finance",
    "csv": "CSV file",
    "bundled": "bundled replay",
    "synthetic": "synthetic",
}
PRICE_KEYS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
_EPOCH = dt.datetime(1970, 1, 1)


class BarsLike(Protocol):
    """What the chart reads from ``core.data.Bars`` (read-only: frozen dataclasses fit)."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> str: ...
    @property
    def timestamps(self) -> np.ndarray: ...
    @property
    def open(self) -> np.ndarray: ...
    @property
    def high(self) -> np.ndarray: ...
    @property
    def low(self) -> np.ndarray: ...
    @property
    def close(self) -> np.ndarray: ...
    @property
    def volume(self) -> np.ndarray: ...
    @property
    def tz(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def synthetic(self) -> bool: ...


def local_times(timestamps: np.ndarray, tz: str) -> np.ndarray:
    """Wall-clock int64 ns in ``tz`` (unknown names fall back to UTC) for axis labels."""
    idx = pd.DatetimeIndex(np.asarray(timestamps, dtype="datetime64[ns]")).tz_localize("UTC")
    try:
        idx = idx.tz_convert(tz)
    except Exception:   # pandas raises several types for unknown zones; UTC is always safe
        pass
    return np.asarray(idx.tz_localize(None).as_unit("ns").asi8, dtype=np.int64)


def to_datetime(local_ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(local_ns) // 1000)


def sign_classes(values: np.ndarray) -> np.ndarray:
    """BULL where value > 0, BEAR where ≤ 0, NEUTRAL where NaN (spec §9 bar colours)."""
    with np.errstate(invalid="ignore"):
        out = np.where(values > 0, BULL, BEAR).astype(np.int8)
    out[np.isnan(values)] = NEUTRAL
    return out


def state_classes(states: np.ndarray) -> np.ndarray:
    """Crossover states +1 / −1 / 0 (spec §5) as BULL / BEAR / NEUTRAL."""
    return np.where(states > 0, BULL, np.where(states < 0, BEAR, NEUTRAL)).astype(np.int8)


def is_intraday(interval: str) -> bool:
    """Minutes and hours ("1m", "90m", "1h") are intraday; "1d", "1wk", "1mo" are not."""
    return interval.endswith("h") or (interval.endswith("m") and not interval.endswith("mo"))


@dataclass
class ChartData:
    """One symbol's bars and full ATC result, as the chart shows them."""

    bars: BarsLike
    result: ATCResult
    config: ATCConfig
    local_ns: np.ndarray

    @classmethod
    def build(cls, bars: BarsLike, result: ATCResult, config: ATCConfig) -> ChartData:
        n = len(bars.close)
        if n == 0:
            raise ValueError(f"{bars.symbol}: no bars to chart")
        if result.bars != n:
            raise ValueError(f"{bars.symbol}: the result has {result.bars} bars, the data {n}")
        if result.mas is None or result.states is None or result.equities is None:
            raise ValueError("the chart needs the full ATC computed with detail=True")
        return cls(bars, result, config, cls.build_local(bars))

    @staticmethod
    def build_local(bars: BarsLike, start: int = 0) -> np.ndarray:
        """Local wall-clock times of bars ``start`` … n−1."""
        return local_times(np.asarray(bars.timestamps)[start:], getattr(bars, "tz", "UTC"))

    @property
    def n(self) -> int:
        return int(self.result.bars)

    @property
    def intraday(self) -> bool:
        return is_intraday(self.bars.interval)

    @property
    def source_label(self) -> str:
        source = str(getattr(self.bars, "source", ""))
        label = SOURCE_LABELS.get(source, source or "unknown source")
        if getattr(self.bars, "synthetic", False) and source != "synthetic":
            label += " · synthetic"
        return label

    def candle_classes(self) -> np.ndarray:
        return sign_classes(self.result.signal_base)

    def base_ma(self, family: int) -> tuple[np.ndarray, np.ndarray]:
        """The family's base-length MA (row f·9) and its trend classes."""
        assert self.result.mas is not None and self.result.states is not None
        return self.result.mas[family * 9], state_classes(self.result.states[family * 9])

    def format_time(self, i: int) -> str:
        when = to_datetime(self.local_ns[i])
        return when.strftime("%Y-%m-%d %H:%M" if self.intraday else "%Y-%m-%d")

    def readout(self, i: int) -> dict[str, Any]:
        """Values at bar ``i`` (negative counts from the end), under their spec names."""
        if not -self.n <= i < self.n:
            raise IndexError(f"bar {i} is outside 0 … {self.n - 1}")
        i %= self.n
        r, b = self.result, self.bars
        out: dict[str, Any] = {"bar": i, "time": self.format_time(i)}
        for key in PRICE_KEYS:
            out[key] = float(getattr(b, key)[i])
        out["Average_Signal"] = float(r.average_signal[i])
        for name, row in zip(SIGNAL_NAMES, r.signals):
            out[name] = float(row[i])
        assert r.mas is not None
        for f, fam in enumerate(FAMILIES):
            out[fam] = float(r.mas[f * 9, i])
        out["direction"] = float(r.direction[i])
        out["signal_base"] = float(r.signal_base[i])
        return out

    def member_equities(self, i: int) -> np.ndarray:
        """(6, 9) Layer-1 equities of every member at bar ``i`` (rows: families)."""
        assert self.result.equities is not None
        return self.result.equities[:, i].reshape(6, 9)

    def member_states(self, i: int) -> np.ndarray:
        assert self.result.states is not None
        return self.result.states[:, i].reshape(6, 9)


def format_number(v: float, digits: int = 2) -> str:
    """Readout formatting: '—' for NaN, thousands separators, sensible decimals."""
    if not math.isfinite(v):
        return "—"
    return f"{v:,.{digits}f}"


def format_volume(v: float) -> str:
    if not math.isfinite(v):
        return "—"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:.0f}"


def price_digits(close: np.ndarray) -> int:
    """Decimals for prices: more for cheap instruments (FX, penny stocks)."""
    finite = close[np.isfinite(close)]
    if finite.size == 0:
        return 2
    level = float(np.median(finite))
    return 2 if level >= 10 else 3 if level >= 1 else 5
