"""Exports of the chart: every ATC output with its spec name to CSV, the chart to PNG
(under a title line naming symbol, interval and source, at a size the user picks).

CSV cells are Python's ``repr`` of each float64 (the shortest text that reads back to the
same double), NaN (Pine's na) is an empty cell, so a file round-trips bit-exactly.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any, Callable

import numpy as np
from PySide6 import QtCore, QtGui

from atc_desktop.chart.data import ChartData, to_datetime
from atc_desktop.chart.theme import Theme

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


#: Sizes the PNG export offers besides the on-screen size (width, height in pixels).
PNG_SIZES: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080), (2560, 1440), (3840, 2160))
PNG_LIMITS = ((320, 8000), (240, 8000))     # allowed (min, max) of width and height
TITLE_PX = 28                               # the title line above the panes


def size_label(size: tuple[int, int]) -> str:
    return f"{size[0]} × {size[1]}"


def check_png_size(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` as ints; ValueError naming the field and the allowed range."""
    out = []
    for name, value, (lo, hi) in zip(("width", "height"), size, PNG_LIMITS):
        v = int(value)
        if not lo <= v <= hi:
            raise ValueError(f"PNG {name} = {value} is out of range: allowed {lo} … {hi} pixels")
        out.append(v)
    return out[0], out[1]


def _title_line(painter: QtGui.QPainter, title: str, width: int, theme: Theme) -> None:
    painter.fillRect(QtCore.QRectF(0, 0, width, TITLE_PX), QtGui.QColor(theme.panel))
    font = QtGui.QFont()
    font.setPointSizeF(10.0)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QtGui.QColor(theme.foreground))
    text = QtGui.QFontMetrics(font).elidedText(title, QtCore.Qt.TextElideMode.ElideRight, width - 20)
    painter.drawText(QtCore.QRectF(10, 0, width - 20, TITLE_PX),
                     int(QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft), text)


def render_png(panes: Any, title: str, theme: Theme, path: str | os.PathLike[str],
               size: tuple[int, int] | None, relayout: Callable[[], None]) -> QtCore.QSize:
    """Draw ``title`` over the panes' scene into a PNG file of ``size`` pixels (None: the
    view's on-screen size, at its device pixel ratio); returns the image size.

    The scene is laid out at the export size for the drawing (fonts and lines keep their
    pixel sizes, more bars get more room) and laid out back afterwards; ``relayout`` refits
    what depends on the panes' size. Written to a temporary file and renamed, so a failed
    export never leaves half a file; OSError when it cannot be written."""
    view = panes.view
    if size is None:
        dpr = view.devicePixelRatioF()
        width, height = view.width(), view.height()
    else:
        dpr = 1.0
        width, height = check_png_size(size)
    image = QtGui.QImage(round(width * dpr), round(height * dpr), QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(QtGui.QColor(theme.background))
    ci = view.ci
    old = ci.geometry()
    body = QtCore.QRectF(0, 0, width, height - TITLE_PX)
    painter = QtGui.QPainter(image)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        _title_line(painter, title, width, theme)
        ci.setGeometry(body)
        relayout()
        view.scene().render(painter, body.translated(0, TITLE_PX), body)
    finally:
        painter.end()
        ci.setGeometry(old)
        relayout()
    target = os.fspath(path)
    tmp = target + ".part"
    # PySide's stub types the format as bytes, but 6.12 accepts only str at run time.
    if image.isNull() or not image.save(tmp, "PNG"):  # type: ignore[call-overload]
        raise OSError(f"could not write the chart image to {target!r}")
    os.replace(tmp, target)
    return image.size()
