"""Reading a price column from a CSV file and writing ATC outputs back, for `atc compute`.

Errors name the file, the line and the column. Output is written to a temporary file and
renamed into place, so a failed run never leaves a half-written file behind.
"""
from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from core.errors import ATCInputError

DATE_COLUMNS = ("date", "datetime", "timestamp", "time")


def _find(header: list[str], wanted: str, path: Path) -> int:
    lowered = [h.strip().lower() for h in header]
    key = wanted.strip().lower()
    if key in lowered:
        return lowered.index(key)
    raise ATCInputError(
        f"{path}: no column {wanted!r}; columns are: {', '.join(h.strip() for h in header)}",
        field="column")


def read_columns(path: Path, column: str, src_column: str | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """(close, src or None, dates or None) from a CSV file with a header row.

    Every value must be a finite number > 0; the error names the file, line and column.
    """
    if not path.is_file():
        raise ATCInputError(f"{path}: no such file", field="prices")
    try:
        with path.open(newline="") as fh:
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
                value = float(cell)
            except ValueError:
                raise ATCInputError(
                    f"{path}: line {line}, column {header[i].strip()!r}: {cell!r} is not a number",
                    field="prices") from None
            if not (math.isfinite(value) and value > 0):
                raise ATCInputError(
                    f"{path}: line {line}, column {header[i].strip()!r}: {cell!r} is not a "
                    "positive price", field="prices")
            out[k] = value
        return out

    close = parse(close_i)
    src = parse(src_i) if src_i is not None else None
    dates = None
    if date_i is not None:
        dates = [row[date_i].strip() if date_i < len(row) else "" for _, row in body]
    return close, src, dates


def format_value(v: float) -> str:
    """repr-exact float, empty for na."""
    v = float(v)
    return "" if math.isnan(v) else repr(v)


def write_columns(path: Path, columns: Iterable[tuple[str, np.ndarray]],
                  dates: list[str] | None = None) -> int:
    """Write named columns (one row per bar) atomically; returns the number of rows."""
    cols = list(columns)
    names = [name for name, _ in cols]
    arrays = [np.asarray(values, dtype=np.float64) for _, values in cols]
    n = arrays[0].shape[0]
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow((["date"] if dates is not None else []) + names)
            for t in range(n):
                row = [format_value(a[t]) for a in arrays]
                writer.writerow(([dates[t]] if dates is not None else []) + row)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
