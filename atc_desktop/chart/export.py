"""Exports of the chart: every ATC output with its spec name to CSV, the chart to PNG.

CSV cells are Python's ``repr`` of each float64 (the shortest text that reads back to the
same double), NaN (Pine's na) is an empty cell, so a file round-trips bit-exactly.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from atc_desktop.chart.data import ChartData, to_datetime

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def _cells(values: np.ndarray) -> list[str]:
    return ["" if math.isnan(v) else repr(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def csv_columns(data: ChartData) -> Iterable[tuple[str, list[str]]]:
    """(header, cells) in file order: time, timestamp_ns, OHLCV, then
    ``result.columns(detail=True)`` (Average_Signal … eq.KAMA_4)."""
    fmt = "%Y-%m-%d %H:%M:%S" if data.intraday else "%Y-%m-%d"
    yield "time", [to_datetime(t).strftime(fmt) for t in data.local_ns.tolist()]
    yield "timestamp_ns", [str(t) for t in np.asarray(data.bars.timestamps).tolist()]
    for name in PRICE_COLUMNS:
        yield name, _cells(getattr(data.bars, name))
    for name, values in data.result.columns(detail=True):
        yield name, _cells(values)


def write_csv(path: str | os.PathLike[str], data: ChartData) -> int:
    """Write the chart's bars and ATC outputs; returns the number of data rows.

    Written to a temporary file first and renamed, so a failed export never leaves half a
    file under the user's name.
    """
    headers: list[str] = []
    columns: list[list[str]] = []
    for name, cells in csv_columns(data):
        headers.append(name)
        columns.append(cells)
    target = os.fspath(path)
    tmp = target + ".part"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(headers) + "\n")
        fh.writelines(",".join(row) + "\n" for row in zip(*columns))
    os.replace(tmp, target)
    return data.n


def grab_png(widget: QtWidgets.QWidget, path: str | os.PathLike[str]) -> QtCore.QSize:
    """Render ``widget`` (at its current size, device pixel ratio included) to a PNG file;
    returns the image size. Raises OSError when the file cannot be written."""
    pixmap = widget.grab()
    image: QtGui.QImage = pixmap.toImage()
    # PySide's stub types the format as bytes, but 6.12 accepts only str at run time.
    if image.isNull() or not image.save(os.fspath(path), "PNG"):  # type: ignore[call-overload]
        raise OSError(f"could not write the chart image to {os.fspath(path)!r}")
    return image.size()
