"""▲/▼ markers of a fixed pixel size at event bars (spec §9.3 arrows and alerts).

A ▲ sits ``offset`` pixels below its anchor (e.g. the bar's low), a ▼ the same distance
above it, as Pine's plotshape(location.belowbar/abovebar) does. Events are rare (tens per
thousand bars), so a paint builds one path of the visible triangles in device pixels.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from atc_desktop.chart.geometry import finite_range


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

    def set_color(self, color: str) -> None:
        self._brush = QtGui.QBrush(QtGui.QColor(color))
        self.update()

    def set_markers(self, bars: np.ndarray, anchors: np.ndarray) -> None:
        """Markers at the given bar indices (ascending), anchored at ``anchors`` (same length)."""
        self.prepareGeometryChange()
        self._x = np.asarray(bars, dtype=np.int64)
        self._y = np.asarray(anchors, dtype=np.float64)
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
        r = QtCore.QRectF(self._bounds)
        px, py = self.pixelVectors()
        if px is not None and py is not None and self._x.size:
            pad = self.pixelPadding() + 1
            dx, dy = px.length() * pad, py.length() * pad
            r.adjust(-dx, -dy, dx, dy)
        return r

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        super().viewTransformChanged()

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
        s, h = self._size, self._size * 0.9
        # Device y grows downwards: ▲ goes below the anchor (+), ▼ above it (−).
        sign = 1.0 if self.up else -1.0
        tip = dev_y + sign * self._offset
        base = tip + sign * h
        path = QtGui.QPainterPath()
        path.setFillRule(QtCore.Qt.FillRule.WindingFill)   # overlapping triangles stay filled
        for x, t, b in zip(dev_x.tolist(), tip.tolist(), base.tolist()):
            path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x, t), QtCore.QPointF(x - s / 2, b),
                                             QtCore.QPointF(x + s / 2, b), QtCore.QPointF(x, t)]))
        p.save()
        p.resetTransform()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        p.setBrush(self._brush)
        p.drawPath(path)
        p.restore()
