"""Numpy geometry shared by the chart's items: level of detail, visible slices, and one
batched QPainter call per colour for an (m, 4) float64 array of QRectF/QLineF rows.

The x coordinate of every item is the bar index (0 … n−1), so gaps in trading time
(nights, weekends) take no room and one bar is one unit wide.
"""
from __future__ import annotations

import math
from typing import cast

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from shiboken6 import Shiboken

#: Candles and volume bars are aggregated until a bucket is at least this many pixels wide.
MIN_BUCKET_PX = 3.0
#: Lines are decimated until consecutive points are at least this many pixels apart.
MIN_POINT_PX = 1.5


def lod_factor(px_per_bar: float, min_px: float) -> int:
    """Bars per bucket: a power of two, so buckets start at fixed bar indices (multiples of
    the factor) and panning at one zoom level never reshuffles them (no flicker)."""
    if not math.isfinite(px_per_bar) or px_per_bar <= 0 or px_per_bar >= min_px:
        return 1
    return 1 << max(0, math.ceil(math.log2(min_px / px_per_bar)))


def visible_bars(view: QtCore.QRectF | None, n: int, margin: int = 1) -> tuple[int, int]:
    """[i0, i1) of the bars whose unit cell meets the view's x range, plus ``margin``."""
    if view is None or n == 0:
        return 0, n
    i0 = max(0, math.floor(view.left() + 0.5) - margin)
    i1 = min(n, math.ceil(view.right() + 0.5) + margin)
    return i0, max(i0, i1)


def bucket_ohlc(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, k: int,
                start: int = 0) -> tuple[np.ndarray, ...]:
    """Aggregate bars ``start`` … n−1 into buckets of ``k`` bars anchored at multiples of k
    (``start`` must be a multiple of k): first open, highest high, lowest low, last close.

    Returns (first bar, last bar, open, high, low, close) per bucket.
    """
    n = o.shape[0]
    first = np.arange(start, n, k)
    if k == 1:
        return first, first, o[start:], h[start:], lo[start:], c[start:]
    last = np.minimum(first + k - 1, n - 1)
    rel = first - start
    return (first, last, o[first], np.maximum.reduceat(h[start:], rel),
            np.minimum.reduceat(lo[start:], rel), c[last])


def bucket_max(v: np.ndarray, k: int, start: int = 0) -> np.ndarray:
    """Largest value per bucket of ``k`` bars (peaks survive zooming out)."""
    if k == 1:
        return v[start:]
    return np.maximum.reduceat(v[start:], np.arange(0, v.shape[0] - start, k))


def draw_rects(painter: QtGui.QPainter, rects: np.ndarray) -> None:
    """Draw every row (x, y, w, h) of a C-contiguous (m, 4) float64 array in one call."""
    m = rects.shape[0]
    if m:
        # QRectF is four packed doubles: hand Qt a pointer to the array, no per-rect objects.
        first = cast(QtCore.QRectF, Shiboken.wrapInstance(rects.ctypes.data, QtCore.QRectF))
        painter.drawRects(first, int(m))


def draw_lines(painter: QtGui.QPainter, lines: np.ndarray) -> None:
    """Draw every row (x1, y1, x2, y2) of a C-contiguous (m, 4) float64 array in one call."""
    m = lines.shape[0]
    if m:
        first = cast(QtCore.QLineF, Shiboken.wrapInstance(lines.ctypes.data, QtCore.QLineF))
        painter.drawLines(first, int(m))


def tail_rect(bounds: QtCore.QRectF, first_changed: int, k: int) -> QtCore.QRectF:
    """The part of ``bounds`` right of the bucket (of ``k`` bars, the level last painted) that
    holds bar ``first_changed``, with a bucket of margin: what a live refresh must repaint."""
    x0 = (first_changed // k) * k - k - 1.0
    return QtCore.QRectF(x0, bounds.top(), max(bounds.right() - x0 + 1.0, 0.0), bounds.height())


class PaddedRect:
    """An item's bounding rect: its data rect grown by a padding in pixels, kept until the
    data rect, the padding or the view's transform (``invalidate``) changes. Qt asks for an
    item's bounds several times per paint, and pixel sizes cost a transform inversion."""

    def __init__(self) -> None:
        self._key: tuple[float, ...] | None = None
        self._rect = QtCore.QRectF()

    def invalidate(self) -> None:
        self._key = None

    def get(self, item: pg.GraphicsObject, data: QtCore.QRectF, pad_px: float) -> QtCore.QRectF:
        key = (data.x(), data.y(), data.width(), data.height(), pad_px)
        if key != self._key:
            r = QtCore.QRectF(data)
            px, py = item.pixelVectors()
            if px is not None and py is not None and not r.isNull():
                dx, dy = px.length() * pad_px, py.length() * pad_px
                r.adjust(-dx, -dy, dx, dy)
            self._key, self._rect = key, r
        return QtCore.QRectF(self._rect)


def rows(geometry: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The masked rows as a fresh C-contiguous array (safe to hand to Qt by pointer)."""
    return np.ascontiguousarray(geometry[mask])


def finite_range(*arrays: np.ndarray) -> tuple[float, float] | None:
    """(min, max) over the finite values of the arrays, or None when there are none."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        a = a[np.isfinite(a)]
        if a.size:
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    return (lo, hi) if lo <= hi else None


def ortho_bars(ortho_range: tuple[float, float] | None, n: int) -> tuple[int, int]:
    """The bars an item's ``dataBounds`` should span: those inside pyqtgraph's orthogonal
    range when it gives one (y fitted to the visible bars), else all ``n``."""
    if ortho_range is None:
        return 0, n
    return visible_bars(QtCore.QRectF(ortho_range[0], 0, ortho_range[1] - ortho_range[0], 1), n, 0)

