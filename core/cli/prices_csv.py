"""Reading a price column from a CSV file and writing ATC outputs back, for `atc compute`.

Errors name the file, the line and the column. The output goes through
``core.cli.output_file``, so a failed run never leaves a half-written file behind and never
replaces an input, a read-only file, a link or a device.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence, TextIO

import numpy as np

from core.cli.output_file import write_output
from core.config import parse_decimal
from core.data.cleaning import clean_arrays
from core.errors import ATCInputError
from core.parity import parse_time
from core.types import PRICE_MAX, PRICE_MIN

DATE_COLUMNS = ("date", "datetime", "timestamp", "time")


def _find(header: list[str], wanted: str, path: Path) -> int:
    lowered = [h.strip().lower() for h in header]
    key = wanted.strip().lower()
    if key in lowered:
        return lowered.index(key)
    raise ATCInputError(
        f"{path}: no column {wanted!r}; columns are: {', '.join(h.strip() for h in header)}",
        field="column")


class PriceColumns(NamedTuple):
    """What `atc compute` reads from a prices file, rows in time order."""

    close: np.ndarray
    src: np.ndarray | None
    dates: list[str] | None
    #: One line for stderr when rows were reordered, dropped or left unchecked, else None.
    note: str | None = None


def read_columns(path: Path, column: str, src_column: str | None = None,
                 interval: str = "1d") -> PriceColumns:
    """Close (and source) prices, and the dates, from a CSV file with a header row.

    Every value must be a price within ``PRICE_MIN … PRICE_MAX`` written in plain decimal; the error names the
    file, line and column. When the file has a date column whose cells are all times
    (UNIX seconds or ISO 8601), the rows go through the data providers' cleaner: sorted,
    a repeated time keeps its last row, an isolated absurd bar is dropped; ``note`` says
    what it did. Dates that are not times are kept as labels in file order, with a note.
    """
    if not path.is_file():
        raise ATCInputError(f"{path}: no such file", field="prices")
    try:
        # utf-8-sig: a byte-order mark (Excel writes one) must not become part of the
        # first column's name, or the date column would be lost.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ATCInputError(f"{path}: cannot read CSV: {exc}", field="prices") from None
    if not rows:
        raise ATCInputError(f"{path}: the file is empty", field="prices")
    header = rows[0]
    # (line number, cells) of every non-blank row; the header is line 1.
    body = [(k + 2, r) for k, r in enumerate(rows[1:]) if any(cell.strip() for cell in r)]
    close_i = _find(header, column, path)
    src_i = _find(header, src_column, path) if src_column else None
    date_i = next((i for i, h in enumerate(header) if h.strip().lower() in DATE_COLUMNS), None)
    if len(body) < 2:
        raise ATCInputError(f"{path}: {len(body)} price row(s); at least 2 bars are needed",
                            field="prices")

    def parse(i: int) -> np.ndarray:
        out = np.empty(len(body))
        for k, (line, row) in enumerate(body):
            cell = row[i].strip() if i < len(row) else ""
            try:
                value = float(parse_decimal(cell))
            except (ValueError, OverflowError):
                raise ATCInputError(
                    f"{path}: line {line}, column {header[i].strip()!r}: {cell!r} is not a number",
                    field="prices") from None
            if not PRICE_MIN <= value <= PRICE_MAX:
                raise ATCInputError(
                    f"{path}: line {line}, column {header[i].strip()!r}: {cell!r} is not a "
                    f"price within {PRICE_MIN:g} … {PRICE_MAX:g}", field="prices")
            out[k] = value
        return out

    close = parse(close_i)
    src = parse(src_i) if src_i is not None else None
    if date_i is None:
        return PriceColumns(close, src, None)
    dates = [row[date_i].strip() if date_i < len(row) else "" for _, row in body]
    lines = [line for line, _ in body]
    order, note = _time_order(path, header[date_i].strip(), interval, lines, dates, close)
    if order is not None:
        close, dates = close[order], [dates[k] for k in order]
        src = src[order] if src is not None else None
        if close.size < 2:
            raise ATCInputError(f"{path}: {close.size} bar left after cleaning, at least 2 "
                                f"are needed; {note}", field="prices")
    return PriceColumns(close, src, dates, note)


def _time_order(path: Path, column: str, interval: str, lines: list[int], dates: list[str],
                close: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """(row indices to keep, in time order; the note) by the data providers' cleaner, or
    (None, note) when some date is not a time."""
    stamps = np.empty(len(dates), dtype=np.int64)
    for k, cell in enumerate(dates):
        try:
            stamps[k] = round(parse_time(cell) * 1e9)
        except (ValueError, OverflowError):
            return None, (f"note: {path}: line {lines[k]}, column {column!r}: {cell!r} is "
                          "not a time (UNIX seconds or ISO 8601); rows kept in file order, "
                          "unchecked for order and repeats")
    # The row index rides in the volume column, which the cleaner keeps with its row.
    rows = np.arange(len(dates), dtype=np.float64)
    bars, report = clean_arrays(path.name, interval, stamps, close, close, close, close, rows)
    if report.is_clean:
        return None, None
    return bars.volume.astype(np.intp), f"cleaned: {report.summary()}"


def format_value(v: float) -> str:
    """repr-exact float, empty for na."""
    v = float(v)
    return "" if math.isnan(v) else repr(v)


def write_columns(path: str | os.PathLike[str], columns: Iterable[tuple[str, np.ndarray]],
                  dates: Sequence[str] | None = None,
                  inputs: Sequence[str | os.PathLike[str] | None] = ()) -> int:
    """Write named columns (one row per bar) through ``write_output``; returns the number
    of rows. ``inputs`` are the run's input files, which the output may not replace.

    ``path`` is best the ``-o`` text as typed: ``Path("./-")`` is ``Path("-")``, which
    means standard output, while the string ``"./-"`` is a file named ``-``."""
    cols = list(columns)
    names = [name for name, _ in cols]
    arrays = [np.asarray(values, dtype=np.float64) for _, values in cols]
    n = int(arrays[0].shape[0])

    def fill(fh: TextIO) -> None:
        writer = csv.writer(fh)
        writer.writerow((["date"] if dates is not None else []) + names)
        for t in range(n):
            row = [format_value(a[t]) for a in arrays]
            writer.writerow(([dates[t]] if dates is not None else []) + row)

    write_output(path, fill, inputs)
    return n
