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
  apart by size; one unit per file). Times without an offset are in the provider's ``tz``
  (default UTC). Bars are held as int64 nanoseconds, so times must lie within 1677-2262.
* Empty cells and ``NaN``/``null``/``N/A``/``-`` are missing values, which the cleaner
  drops and reports. Anything else that is not a number (or not a time) is an error naming
  the file, the line (as an editor numbers it) and the column, and fails that symbol only.
* Symbols, from a Symbol column or a file name, must pass the same rule as a typed one
  (``core.data.symbols``); a symbol that does not is refused, naming the file and line.
* A file rewritten with different past rows (re-exported after a split or dividend with
  adjusted prices) is caught by the refresh's overlap check (``core.data.rewrites``): the
  rows of the last stored bars changed, so the whole file replaces the stored history.
  Edits further back than that overlap are not looked for; appended rows stay appends.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import re
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from core.data.bars import empty_bars
from core.data.cleaning import CleaningReport, clean_columns
from core.data.intervals import INTERVALS
from core.data.providers.base import FetchResult, check_interval, normalise_symbol, start_ns
from core.data.symbols import SYMBOL_RULE, symbol_syntax_error
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
# Epoch numbers below 1e11 are seconds, below 1e14 ms, below 1e17 us, else ns.
_EPOCH_LIMITS = np.array([1e11, 1e14, 1e17])
_EPOCH_UNITS = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_MAX_NS = np.iinfo(np.int64).max
_RANGE = "1677-09-22 .. 2262-04-11, the range of nanosecond timestamps"


class _BadCell(Exception):
    """A cell that cannot be read; ``record`` is its 0-based data record in the file (the
    caller turns it into an editor line, which can differ when quoted cells hold newlines)."""

    def __init__(self, record: int, column: str, what: str) -> None:
        super().__init__(what)
        self.record, self.column, self.what = record, column, what


def editor_line(path: Path, record: int) -> int:
    """The 1-based line on which data record ``record`` (0-based, after the header) starts.

    Worked out only when an error is reported: records are counted as the CSV reader counts
    them (blank lines included, as ``read_csv(skip_blank_lines=False)`` does), so a quoted
    cell spanning lines moves every later record down.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)  # the header
        end = reader.line_num
        for k, _ in enumerate(reader):
            if k == record:
                return end + 1
            end = reader.line_num
    return record + 2  # the file changed since it was read: the plain count is the best guess


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


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _numbers(values: Any, column: str) -> npt.NDArray[np.float64]:
    import pandas as pd

    text = values.str.strip()
    missing = text.str.lower().isin(_MISSING).to_numpy()
    out: npt.NDArray[np.float64] = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(np.float64)
    bad = np.isnan(out) & ~missing
    if bad.any():
        i = _first(bad)
        raise _BadCell(text.index[i], column, f"{text.iloc[i]!r} is not a number")
    return out


def _epoch_ns(text: Any, column: str) -> npt.NDArray[np.int64]:
    """Epoch numbers -> int64 ns; the unit is the median's, and a row of another unit or
    beyond 2262 is an error (pandas would overflow, or silently misplace it)."""
    nums: npt.NDArray[np.float64] = text.astype(np.float64).to_numpy()
    units = np.searchsorted(_EPOCH_LIMITS, nums, side="right")
    unit = int(np.searchsorted(_EPOCH_LIMITS, np.median(nums), side="right"))
    odd = units != unit
    if odd.any():
        i = _first(odd)
        raise _BadCell(text.index[i], column,
                       f"{text.iloc[i]!r} looks like epoch {_EPOCH_UNITS[units[i]]} but the file's "
                       f"other times are epoch {_EPOCH_UNITS[unit]}; use one unit in a file")
    scale: int = 10 ** (9 - 3 * unit)     # unit ≤ 3: a whole number of ns per unit
    outside = nums * float(scale) >= 2.0 ** 63
    whole = not outside.any() and not text.str.contains(".", regex=False).any()
    if whole:
        # Whole numbers are scaled exactly (floats would blur nanoseconds and the limit).
        ints: npt.NDArray[np.int64] = text.astype(np.int64).to_numpy()
        outside = ints > _MAX_NS // scale
    if outside.any():
        i = _first(outside)
        raise _BadCell(text.index[i], column, f"{text.iloc[i]!r} is outside {_RANGE}")
    return ints * scale if whole else np.round(nums * scale).astype(np.int64)


def _times(values: Any, column: str, tz: str, file: Path) -> npt.NDArray[np.int64]:
    import pandas as pd

    text = values.str.strip()
    empty = text.str.lower().isin(_MISSING).to_numpy()
    if empty.any():
        raise _BadCell(text.index[_first(empty)], column, "missing date/time")
    if len(text) and text.str.match(_EPOCH).all():
        return _epoch_ns(text, column)
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        # Offsets that differ between rows (e.g. across a DST change): align on UTC.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    index = pd.DatetimeIndex(parsed)
    bad = index.isna()
    if bad.any():
        i = _first(bad)
        raise _BadCell(text.index[i], column, f"{text.iloc[i]!r} is not a date/time")
    try:
        index = index.tz_localize(tz) if index.tz is None else index.tz_convert("UTC")
    except Exception as exc:  # noqa: BLE001 - nonexistent/ambiguous local times
        raise DataError(f"{file.name}, column {column!r}: cannot place the times in {tz}: {exc}") from exc
    # pandas parses at microsecond resolution; the nanoseconds bars hold cover less.
    outside = ((index < pd.Timestamp.min.tz_localize("UTC"))
               | (index > pd.Timestamp.max.tz_localize("UTC")))
    if outside.any():
        i = _first(outside)
        raise _BadCell(text.index[i], column, f"{text.iloc[i]!r} is outside {_RANGE}")
    ns: npt.NDArray[np.int64] = index.tz_convert("UTC").as_unit("ns").asi8
    return ns


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
        self._index_key: tuple[tuple[str, int, int], ...] = ()
        self._index: dict[str, list[tuple[Path, str | None]]] = {}
        self._refused: dict[str, str] = {}

    def _files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.name.lower().endswith(_SUFFIXES))

    def _symbol_index(self) -> dict[str, list[tuple[Path, str | None]]]:
        """symbol -> [(file, symbol column or None)], rebuilt when any file changes.

        Names that fail the ticker rule go to ``self._refused`` (name -> reason naming the
        file and line) instead, so they are never fetched, stored or listed.
        """
        files = self._files()
        key = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        with self._lock:
            if key == self._index_key:
                return self._index
            index: dict[str, list[tuple[Path, str | None]]] = {}
            refused: dict[str, str] = {}
            for path in files:
                names, sym_col, bad = self._names_in(path)
                for name in names:
                    index.setdefault(name, []).append((path, sym_col))
                for name, reason in bad.items():
                    refused.setdefault(name, reason)
            self._index_key, self._index, self._refused = key, index, refused
            return index

    @staticmethod
    def _names_in(path: Path) -> tuple[list[str], str | None, dict[str, str]]:
        """(valid symbols, symbol column or None, refused name -> reason) of one file."""
        import pandas as pd

        stem = path.name[: -len(next(s for s in _SUFFIXES if path.name.lower().endswith(s)))]
        sym_col = None
        try:
            sym_col = detect_columns(pd.read_csv(path, nrows=0).columns, path).get("symbol")
            if sym_col is not None:
                col = pd.read_csv(path, usecols=[sym_col], dtype=str, keep_default_na=False,
                                  skip_blank_lines=False)[sym_col].str.strip()
        except (DataError, OSError, ValueError, UnicodeDecodeError):
            # Unreadable files are reported when their symbol is fetched; a file whose
            # header cannot be read is listed under its name so it is not lost silently.
            sym_col = None
        if sym_col is None:
            name = normalise_symbol(stem)
            if symbol_syntax_error(name) is None:
                return [name], None, {}
            return [], None, {name: f"{path.name}: the symbol {name!r} taken from the file name "
                                    f"is not a valid ticker ({SYMBOL_RULE}); rename the file or "
                                    "add a Symbol column"}
        names: list[str] = []
        bad: dict[str, str] = {}
        upper = col.str.upper()
        for name in upper[col != ""].unique():
            if symbol_syntax_error(name) is None:
                names.append(name)
                continue
            record = int(np.flatnonzero((upper == name).to_numpy())[0])
            bad[name] = (f"{path.name} line {editor_line(path, record)}, column {sym_col!r}: "
                         f"{col.iloc[record]!r} is not a valid ticker ({SYMBOL_RULE})")
        return names, sym_col, bad

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
        if sym in self._refused:
            return self._refused[sym]
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
        # The frame's index stays the record number (blank lines count) through the filter.
        keep = ~(df == "").all(axis=1).to_numpy()
        if symbol_column is not None:
            keep &= (df[symbol_column].str.strip().str.upper() == symbol).to_numpy()
        df = df[keep]
        try:
            return self._columns(df, cols, path)
        except _BadCell as bad:
            raise DataError(f"{path.name} line {editor_line(path, bad.record)}, column "
                            f"{bad.column!r}: {bad.what}", symbol=symbol) from None

    def _columns(self, df: Any, cols: dict[str, str], path: Path) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"timestamps": _times(df[cols["time"]], cols["time"],
                                                           self.tz, path)}
        close = _numbers(df[cols["close"]], cols["close"])
        for role in ("open", "high", "low"):
            out[role] = _numbers(df[cols[role]], cols[role]) if role in cols else close.copy()
        out["close"] = close
        out["volume"] = (_numbers(df[cols["volume"]], cols["volume"])
                         if "volume" in cols else np.zeros(close.size))
        if "adj_close" in cols:
            adj = _numbers(df[cols["adj_close"]], cols["adj_close"])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = adj / close
            for role in ("open", "high", "low"):
                out[role] = out[role] * ratio
            out["close"] = adj
        return out

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None) -> FetchResult:
        """Bars of ``symbols`` from ``start`` (inclusive; None = the whole file).

        ``interval`` labels the bars: the files are taken to hold bars of that interval. A
        file that cannot be read fails its own symbols only.
        """
        check_interval(self.name, interval, self.intervals)
        index = self._symbol_index()
        since = start_ns(start)
        result = FetchResult()
        for raw in symbols:
            sym = normalise_symbol(raw)
            reason = self._lookup_error(sym, index) or symbol_syntax_error(sym)
            if reason:
                result.fail(sym, reason)
                continue
            path, sym_col = index[sym][0]
            try:
                self._fetch_one(result, sym, interval, since, path, sym_col)
            except DataError as exc:
                result.fail(sym, str(exc))
            except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
                # What the checks above did not foresee in a user's file still fails only
                # this symbol (pandas' parse errors are ValueErrors).
                result.fail(sym, f"{path.name}: cannot read the bars of {sym}: {exc}")
        return result

    def _fetch_one(self, result: FetchResult, sym: str, interval: str, since: int | None,
                   path: Path, sym_col: str | None) -> None:
        cols = self.read_file(path, sym, sym_col)
        if since is not None:
            keep = cols["timestamps"] >= since
            cols = {k: v[keep] for k, v in cols.items()}
        if cols["timestamps"].size == 0:
            if since is None:
                result.fail(sym, f"{path.name} has no rows for {sym}")
            else:
                result.add(empty_bars(sym, interval, tz=self.tz, source="csv"),
                           CleaningReport(sym, interval, 0, 0, tz=self.tz))
            return
        bars, report = clean_columns(sym, interval, cols, tz=self.tz, source="csv")
        if len(bars) == 0:
            result.fail(sym, f"{path.name}: no usable rows for {sym}: {report.summary()}")
        else:
            result.add(bars, report)
