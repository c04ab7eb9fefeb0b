"""The bundled demo data: real daily OHLCV (2000-2013) shipped in ``resources/``.

Prices are adjusted with the file's ``Adj Close``: open, high, low and close are scaled by
``Adj Close / Close``, so the adjusted close equals ``Adj Close`` and splits and dividends
do not show up as jumps. Bars are stamped at midnight New York time (as Yahoo stamps daily
bars), stored in UTC.

Replay mode turns the file into an offline "live feed": only the first ``replay_start``
days of the common calendar (the union of all symbols' trading days) are visible, and
every ``fetch`` returns what is visible and then reveals one more day for the next fetch
(``advance()`` reveals more by hand). When the calendar is exhausted the replay stays at
its end.
"""
from __future__ import annotations

import datetime as dt
import functools
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from core.data.bars import empty_bars, format_timestamp
from core.data.cleaning import CleaningReport, clean_columns
from core.data.providers.base import (
    FetchResult, NoBarsYet, check_interval, normalise_symbol, start_ns,
)
from core.errors import DataError
from core.paths import resource_path

FILE_NAME = "stocks_daily_2000_2013.csv.gz"
TZ = "America/New_York"
#: Days left to replay when no ``replay_start`` is given: about one trading year.
DEFAULT_REPLAY_DAYS = 250


def bundled_path() -> Path:
    """Where the bundled file is: inside a PyInstaller bundle, else in the repository."""
    return resource_path(FILE_NAME)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
    """Adjusted columns per symbol and the common calendar (cached per file version)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype={"Ticker": str})
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the bundled data {path}: {exc}") from exc
    missing = {"Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"} - set(df.columns)
    if missing:
        raise DataError(f"bundled data {path} lacks columns {sorted(missing)}")
    days = pd.to_datetime(df["Date"], format="%Y-%m-%d")
    ts = (pd.DatetimeIndex(days).tz_localize(TZ, ambiguous=True, nonexistent="shift_forward")
          .tz_convert("UTC").as_unit("ns").asi8)
    close = df["Close"].to_numpy(np.float64)
    adj_close = df["Adj Close"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = adj_close / close
    data: dict[str, dict[str, np.ndarray]] = {}
    tickers = df["Ticker"].str.strip().str.upper().to_numpy()
    for sym in dict.fromkeys(tickers):
        rows = tickers == sym
        r = ratio[rows]
        data[str(sym)] = {
            "timestamps": ts[rows],
            "open": df["Open"].to_numpy(np.float64)[rows] * r,
            "high": df["High"].to_numpy(np.float64)[rows] * r,
            "low": df["Low"].to_numpy(np.float64)[rows] * r,
            # Taken as is rather than close * ratio, which could differ in the last bit.
            "close": adj_close[rows],
            "volume": df["Volume"].to_numpy(np.float64)[rows],
        }
    calendar = np.unique(ts)
    return data, calendar


class BundledProvider:
    """Daily bars of the symbols in the bundled file, optionally replayed day by day.

    Parameters
    ----------
    replay : bool
        Reveal the history progressively (see the module docstring).
    replay_start : int, optional
        Days of the common calendar visible before the first fetch; default: all but the
        last ``DEFAULT_REPLAY_DAYS``.
    path : pathlib.Path, optional
        Another file in the same format (tests).
    """

    name = "bundled"
    intervals: tuple[str, ...] = ("1d",)

    def __init__(self, *, replay: bool = False, replay_start: int | None = None,
                 path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else bundled_path()
        self.replay = bool(replay)
        self._lock = threading.Lock()
        calendar = self._data()[1]
        if replay_start is None:
            replay_start = len(calendar) - DEFAULT_REPLAY_DAYS
        self._cursor = min(max(int(replay_start), 1), len(calendar))

    def _data(self) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError as exc:
            raise DataError(f"the bundled data file {self.path} is missing ({exc})") from exc
        return _load(str(self.path), mtime)

    def symbols(self) -> list[str]:
        """The symbols in the bundled file, sorted."""
        return sorted(self._data()[0])

    @property
    def cursor(self) -> int:
        """Days of the common calendar currently visible in replay mode."""
        return self._cursor

    @property
    def calendar_length(self) -> int:
        """Days in the common calendar."""
        return int(self._data()[1].size)

    @property
    def replay_finished(self) -> bool:
        """True once the replay has revealed the whole file."""
        return self._cursor >= self.calendar_length

    def advance(self, n: int = 1) -> int:
        """Reveal ``n`` more days (replay mode); returns the number of visible days."""
        with self._lock:
            self._cursor = min(self._cursor + max(int(n), 0), self.calendar_length)
            return self._cursor

    def upcoming(self, symbols: Sequence[str]) -> dict[str, tuple[int, float, float, float, float, float]]:
        """The bar the next replay step reveals, per symbol that has one: (timestamp ns,
        open, high, low, close, volume). Replay mode only; nothing is revealed. This is what
        the offline forming-bar walk (``core.data.live.replay``) plays tick by tick."""
        if not self.replay or self.replay_finished:
            return {}
        data, calendar = self._data()
        day = int(calendar[self._cursor])
        out = {}
        for raw in symbols:
            cols = data.get(normalise_symbol(raw))
            if cols is None:
                continue
            i = int(np.searchsorted(cols["timestamps"], day))
            if i < cols["timestamps"].size and int(cols["timestamps"][i]) == day:
                o, h, lo, c, v = (float(cols[k][i]) for k in ("open", "high", "low", "close", "volume"))
                out[normalise_symbol(raw)] = (day, o, h, lo, c, v)
        return out

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        """Reason per symbol that is not in the bundled file."""
        known = self._data()[0]
        return {s: self._unknown(s) for s in symbols if normalise_symbol(s) not in known}

    def _unknown(self, symbol: str) -> str:
        return f"{symbol!r} is not in the bundled data (it has {', '.join(self.symbols())})"

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None, *, advance: bool = True) -> FetchResult:
        """Bundled bars from ``start`` (inclusive; None = all visible).

        In replay mode only the visible days are returned, and afterwards one more day is
        revealed unless ``advance=False`` (``refresh`` passes that to all but the last of
        several fetches it makes in one refresh, so a refresh reveals exactly one day).
        """
        check_interval(self.name, interval, self.intervals)
        data, calendar = self._data()
        since = start_ns(start)
        with self._lock:
            cutoff = int(calendar[self._cursor - 1]) if self.replay else None
            if self.replay and advance:
                self._cursor = min(self._cursor + 1, calendar.size)
        result = FetchResult()
        for raw in symbols:
            sym = normalise_symbol(raw)
            cols = data.get(sym)
            if cols is None:
                result.fail(sym, self._unknown(sym))
                continue
            ts = cols["timestamps"]
            lo = 0 if since is None else int(np.searchsorted(ts, since, side="left"))
            hi = ts.size if cutoff is None else int(np.searchsorted(ts, cutoff, side="right"))
            if hi == 0:
                result.fail(sym, NoBarsYet(
                    f"{sym}'s bundled history starts {format_timestamp(int(ts[0]), TZ, date_only=True)}; "
                    f"the replay is at {format_timestamp(cutoff or 0, TZ, date_only=True)}"))
                continue
            if lo >= hi:
                result.add(empty_bars(sym, interval, tz=TZ, source="bundled"),
                           CleaningReport(sym, interval, 0, 0, tz=TZ))
                continue
            part = {k: v[lo:hi] for k, v in cols.items()}
            bars, report = clean_columns(sym, interval, part, tz=TZ, source="bundled")
            result.add(bars, report)
        return result
