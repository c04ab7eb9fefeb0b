"""The user's own CSV files: one file per symbol, or files with a symbol column.

* Files: ``*.csv``, ``*.csv.gz`` and ``*.txt`` directly in the folder. A file with a
  ``Symbol`` or ``Ticker`` column may hold many symbols; any other file holds the symbol
  named by the file (``aapl.csv`` -> ``AAPL``).
* Columns are found case-insensitively, ignoring spaces, ``_``, ``-`` and ``.``: the time
  (``Date``, ``Datetime``, ``Timestamp`` or ``Time``), ``Open``, ``High``, ``Low``,
  ``Close``, ``Adj Close`` and ``Volume``. Time and Close are required; a file without
  Open/High/Low uses Close for them, one without Volume gets 0.
* With an ``Adj Close`` column, prices are adjusted: open/high/low/close are scaled by
  ``Adj Close / Close`` (as for the bundled data).
* Times: ISO or other common date formats, or epoch numbers (seconds, ms, us or ns, told
  apart by size). Times without an offset are in the provider's ``tz`` (default UTC).
* Empty cells and ``NaN``/``null``/``N/A``/``-`` are missing values, which the cleaner
  drops and reports. Anything else that is not a number (or not a time) is an error naming
  the file, the line and the column, and fails that symbol only.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.data.bars import empty_bars
from core.data.cleaning import CleaningReport, clean_columns
from core.data.intervals import INTERVALS
from core.data.providers.base import FetchResult, check_interval, normalise_symbol, start_ns
from core.errors import DataError

_SUFFIXES = (".csv.gz", ".csv", ".txt")
_ROLES: dict[str, tuple[str, ...]] = {
    "time": ("date", "datetime", "timestamp", "time"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "adj_close": ("adjclose", "adjustedclose"),
    "volume": ("volume", "vol"),
    "symbol": ("symbol", "ticker"),
}
_MISSING = {"", "nan", "null", "none", "n/a", "na", "-", "#n/a"}
_EPOCH = re.compile(r"^\d+(\.\d*)?$")


def _key(column: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(column)).lower()


def detect_columns(columns: Sequence[str], file: Path) -> dict[str, str]:
    """Map each role (time, open, ..., symbol) to the file's column name.

    Raises
    ------
    DataError
        If two columns claim one role, or the time or close column is missing.
    """
    found: dict[str, str] = {}
    for col in columns:
        k = _key(col)
        for role, aliases in _ROLES.items():
            if k in aliases:
                if role in found:
                    raise DataError(f"{file.name}: columns {found[role]!r} and {col!r} both "
                                    f"look like the {role.replace('_', ' ')} column; keep one")
                found[role] = str(col)
    for role, what in (("time", "Date/Datetime/Timestamp"), ("close", "Close")):
        if role not in found:
            raise DataError(f"{file.name}: no {what} column (found: {', '.join(map(str, columns))})")
    return found


def _numbers(values: Any, lines: np.ndarray, file: Path, column: str) -> np.ndarray:
    import pandas as pd

    text = values.str.strip()
    missing = text.str.lower().isin(_MISSING).to_numpy()
    out = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(np.float64)
    bad = np.isnan(out) & ~missing
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{file.name} line {lines[i]}, column {column!r}: {text.iloc[i]!r} "
                        "is not a number")
    return out


def _times(values: Any, lines: np.ndarray, file: Path, column: str, tz: str) -> np.ndarray:
    import pandas as pd

    text = values.str.strip()
    empty = text.str.lower().isin(_MISSING).to_numpy()
    if empty.any():
        i = int(np.argmax(empty))
        raise DataError(f"{file.name} line {lines[i]}, column {column!r}: missing date/time")
    if len(text) and text.str.match(_EPOCH).all():
        nums = text.astype(np.float64).to_numpy()
        magnitude = float(np.median(np.abs(nums)))
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        parsed = pd.to_datetime(nums, unit=unit, utc=True)
    else:
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            # Offsets that differ between rows (e.g. across a DST change): align on UTC.
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    index = pd.DatetimeIndex(parsed)
    bad = index.isna()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{file.name} line {lines[i]}, column {column!r}: {text.iloc[i]!r} "
                        "is not a date/time")
    try:
        index = index.tz_localize(tz) if index.tz is None else index.tz_convert("UTC")
    except Exception as exc:  # noqa: BLE001 - nonexistent/ambiguous local times
        raise DataError(f"{file.name}, column {column!r}: cannot place the times in {tz}: {exc}") from exc
    return index.tz_convert("UTC").as_unit("ns").asi8


class CsvFolderProvider:
    """Bars read from CSV files in ``folder`` (see the module docstring for the format).

    Parameters
    ----------
    folder : pathlib.Path
        The folder holding the files.
    tz : str
        Timezone of times written without an offset; also the display timezone.
    """

    name = "csv"
    intervals: tuple[str, ...] = INTERVALS

    def __init__(self, folder: Path | str, *, tz: str = "UTC") -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise DataError(f"CSV folder {self.folder} does not exist or is not a folder")
        self.tz = tz
        self._lock = threading.Lock()
        self._index_key: tuple = ()
        self._index: dict[str, list[tuple[Path, str | None]]] = {}

    def _files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.name.lower().endswith(_SUFFIXES))

    def _symbol_index(self) -> dict[str, list[tuple[Path, str | None]]]:
        """symbol -> [(file, symbol column or None)], rebuilt when any file changes."""
        import pandas as pd

        files = self._files()
        key = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        with self._lock:
            if key == self._index_key:
                return self._index
            index: dict[str, list[tuple[Path, str | None]]] = {}
            for path in files:
                try:
                    header = pd.read_csv(path, nrows=0).columns
                    sym_col = detect_columns(header, path).get("symbol")
                    if sym_col is None:
                        stem = path.name[: -len(next(s for s in _SUFFIXES if path.name.lower().endswith(s)))]
                        names = [normalise_symbol(stem)]
                    else:
                        col = pd.read_csv(path, usecols=[sym_col], dtype=str, keep_default_na=False)
                        names = [normalise_symbol(s) for s in col[sym_col].unique() if s.strip()]
                except (DataError, OSError, ValueError, UnicodeDecodeError):
                    # Unreadable files are reported when their symbol is fetched; a file whose
                    # header cannot be read is listed under its name so it is not lost silently.
                    stem = path.name.split(".")[0]
                    names, sym_col = [normalise_symbol(stem)], None
                for name in names:
                    index.setdefault(name, []).append((path, sym_col))
            self._index_key, self._index = key, index
            return index

    def symbols(self) -> list[str]:
        """Symbols found in the folder, sorted."""
        return sorted(self._symbol_index())

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        """Reason per symbol without exactly one file in the folder."""
        index = self._symbol_index()
        out = {}
        for s in symbols:
            reason = self._lookup_error(normalise_symbol(s), index)
            if reason:
                out[s] = reason
        return out

    def _lookup_error(self, sym: str, index: dict[str, list[tuple[Path, str | None]]]) -> str | None:
        entries = index.get(sym)
        if not entries:
            found = ", ".join(sorted(index)[:20]) or "no CSV files"
            return f"no CSV data for {sym} in {self.folder} (found: {found})"
        if len(entries) > 1:
            names = " and ".join(p.name for p, _ in entries)
            return f"{sym} appears in {names} in {self.folder}; keep it in one file"
        return None

    def read_file(self, path: Path, symbol: str, symbol_column: str | None) -> dict[str, np.ndarray]:
        """Raw columns of one symbol from one file; ``DataError`` names file, line and column."""
        import pandas as pd

        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{path.name}: cannot read the file: {exc}", symbol=symbol) from exc
        cols = detect_columns(df.columns, path)
        lines = np.arange(len(df)) + 2  # line 1 is the header
        blank = (df == "").all(axis=1).to_numpy()
        if symbol_column is not None:
            keep = (df[symbol_column].str.strip().str.upper() == symbol).to_numpy() & ~blank
        else:
            keep = ~blank
        df, lines = df[keep], lines[keep]
        out = {"timestamps": _times(df[cols["time"]], lines, path, cols["time"], self.tz)}
        close = _numbers(df[cols["close"]], lines, path, cols["close"])
        for role in ("open", "high", "low"):
            out[role] = _numbers(df[cols[role]], lines, path, cols[role]) if role in cols else close.copy()
        out["close"] = close
        out["volume"] = (_numbers(df[cols["volume"]], lines, path, cols["volume"])
                         if "volume" in cols else np.zeros(close.size))
        if "adj_close" in cols:
            adj = _numbers(df[cols["adj_close"]], lines, path, cols["adj_close"])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = adj / close
            for role in ("open", "high", "low"):
                out[role] = out[role] * ratio
            out["close"] = adj
        return out

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None) -> FetchResult:
        """Bars of ``symbols`` from ``start`` (inclusive; None = the whole file).

        ``interval`` labels the bars: the files are taken to hold bars of that interval.
        """
        check_interval(self.name, interval, self.intervals)
        index = self._symbol_index()
        since = start_ns(start)
        result = FetchResult()
        for raw in symbols:
            sym = normalise_symbol(raw)
            reason = self._lookup_error(sym, index)
            if reason:
                result.fail(sym, reason)
                continue
            path, sym_col = index[sym][0]
            try:
                cols = self.read_file(path, sym, sym_col)
            except DataError as exc:
                result.fail(sym, str(exc))
                continue
            if since is not None:
                keep = cols["timestamps"] >= since
                cols = {k: v[keep] for k, v in cols.items()}
            if cols["timestamps"].size == 0:
                if since is None:
                    result.fail(sym, f"{path.name} has no rows for {sym}")
                else:
                    result.add(empty_bars(sym, interval, tz=self.tz, source="csv"),
                               CleaningReport(sym, interval, 0, 0, tz=self.tz))
                continue
            bars, report = clean_columns(sym, interval, cols, tz=self.tz, source="csv")
            if len(bars) == 0:
                result.fail(sym, f"{path.name}: no usable rows for {sym}: {report.summary()}")
            else:
                result.add(bars, report)
        return result
