"""▲/▼ markers of a fixed pixel size at event bars (spec §9.3 arrows and alerts).

A ▲ sits ``offset`` pixels below its anchor (e.g. the bar's low), a ▼ the same distance
above it, as Pine's plotshape(location.belowbar/abovebar) does. Events are rare (tens per
thousand bars) but can be hundreds when zoomed out: one antialiased triangle sprite is
stamped at every visible marker with a single drawPixmapFragments call.
"""
from __future__ import annotations

from typing import cast

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from shiboken6 import Shiboken

from atc_desktop.chart.geometry import PaddedRect, finite_range


class MarkersItem(pg.GraphicsObject):
    """Triangles pointing ``up`` (▲ under the anchor) or down (▼ over the anchor)."""

    def __init__(self, up: bool, size: float = 9.0, offset: float = 6.0) -> None:
        super().__init__()
        self.up = up
        self._size = size
        self._offset = offset
        self._x = np.empty(0, dtype=np.int64)
        self._y = np.empty(0)
        self._brush = QtGui.QBrush(QtGui.QColor("#26a69a"))
        self._bounds = QtCore.QRectF()
        self._sprite_pix: QtGui.QPixmap | None = None
        self._sprite_key: tuple[int, float, float] | None = None
        self._padded = PaddedRect()

    def set_color(self, color: str) -> None:
        self._brush = QtGui.QBrush(QtGui.QColor(color))
        self.update()

    def set_markers(self, bars: np.ndarray, anchors: np.ndarray) -> None:
        """Markers at the given bar indices (ascending), anchored at ``anchors`` (same length)."""
        x = np.asarray(bars, dtype=np.int64)
        y = np.asarray(anchors, dtype=np.float64)
        if np.array_equal(x, self._x) and np.array_equal(y, self._y, equal_nan=True):
            return   # a live refresh rarely adds an event: then nothing to repaint
        self.prepareGeometryChange()
        self._x, self._y = x, y
        yr = finite_range(self._y)
        if self._x.size == 0 or yr is None:
            self._bounds = QtCore.QRectF()
        else:
            self._bounds = QtCore.QRectF(float(self._x[0]), yr[0],
                                         float(self._x[-1] - self._x[0]), yr[1] - yr[0])
        self.informViewBoundsChanged()
        self.update()

    def positions(self) -> np.ndarray:
        """Bar indices of the markers, ascending."""
        return self._x.copy()

    def anchors(self) -> np.ndarray:
        return self._y.copy()

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[float | None, float | None]:
        if self._x.size == 0:
            return (None, None)
        if ax == 0:
            return (float(self._x[0]), float(self._x[-1]))
        y = self._y
        if orthoRange is not None:
            y = y[(self._x >= orthoRange[0]) & (self._x <= orthoRange[1])]
        yr = finite_range(y)
        return (None, None) if yr is None else yr

    def pixelPadding(self) -> float:
        return self._size + self._offset

    def boundingRect(self) -> QtCore.QRectF:
        if not self._x.size:
            return QtCore.QRectF(self._bounds)
        return self._padded.get(self, self._bounds, self.pixelPadding() + 1)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        self._padded.invalidate()
        super().viewTransformChanged()

    def _sprite(self, dpr: float) -> QtGui.QPixmap:
        """The triangle, antialiased once into a pixmap at the screen's pixel ratio."""
        key = (self._brush.color().rgba(), self._size, dpr)
        if self._sprite_key != key:
            side = int(np.ceil(self._size * dpr)) + 2
            pix = QtGui.QPixmap(side, side)
            pix.fill(QtCore.Qt.GlobalColor.transparent)
            s, h = self._size * dpr, self._size * 0.9 * dpr
            top, bottom = (side - h) / 2, (side + h) / 2
            tip, base = (top, bottom) if self.up else (bottom, top)
            painter = QtGui.QPainter(pix)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            painter.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
            painter.setBrush(self._brush)
            painter.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(side / 2, tip),
                                                 QtCore.QPointF(side / 2 - s / 2, base),
                                                 QtCore.QPointF(side / 2 + s / 2, base)]))
            painter.end()
            self._sprite_pix, self._sprite_key = pix, key
        assert self._sprite_pix is not None
        return self._sprite_pix

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        view = self.viewRect()
        if self._x.size == 0 or view is None:
            return
        lo, hi = np.searchsorted(self._x, [view.left() - 1, view.right() + 1])
        xs, ys = self._x[lo:hi].astype(np.float64), self._y[lo:hi]
        keep = np.isfinite(ys)
        xs, ys = xs[keep], ys[keep]
        if xs.size == 0:
            return
        tr = p.transform()
        dev_x = tr.m11() * xs + tr.m21() * ys + tr.dx()
        dev_y = tr.m12() * xs + tr.m22() * ys + tr.dy()
        # Device y grows downwards: a ▲ sits below its anchor, a ▼ above it.
        sign = 1.0 if self.up else -1.0
        centre_y = dev_y + sign * (self._offset + self._size * 0.45)
        dpr = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        sprite = self._sprite(dpr)
        side = float(sprite.width())
        # One QPainter.PixmapFragment per marker (x, y, source rect, scale, rotation,
        # opacity), handed to Qt as one array: a single call however many events are shown.
        frags = np.empty((xs.size, 10), dtype=np.float64)
        frags[:, 0], frags[:, 1] = dev_x, centre_y
        frags[:, 2:4] = 0.0
        frags[:, 4:6] = side
        frags[:, 6:8] = 1.0 / dpr
        frags[:, 8], frags[:, 9] = 0.0, 1.0
        p.save()
        p.resetTransform()
        first = cast(QtGui.QPainter.PixmapFragment,
                     Shiboken.wrapInstance(frags.ctypes.data, QtGui.QPainter.PixmapFragment))
        p.drawPixmapFragments(first, int(xs.size), sprite)
        p.restore()
