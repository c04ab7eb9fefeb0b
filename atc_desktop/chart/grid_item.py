"""Background grid of one pane: horizontal lines at its value axis's major ticks, vertical
lines at the time axis's ticks, drawn in a single 1-pixel line call.

pyqtgraph's own axis grids are drawn by each AxisItem across the whole pane and replayed
from a QPicture on every frame; measured here they took longer than all candles, MAs and
volume together, so the chart draws its grid itself.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from atc_desktop.chart.geometry import draw_lines


class GridItem(pg.GraphicsObject):
    """Grid lines behind a pane's items, at the ticks of ``x_axis`` and ``y_axis``."""

    def __init__(self, x_axis: pg.AxisItem, y_axis: pg.AxisItem, vertical: bool = True) -> None:
        super().__init__()
        self._x_axis = x_axis
        self._y_axis = y_axis
        self._vertical = vertical
        self._pen = QtGui.QPen(QtGui.QColor(255, 255, 255, 30))
        self._pen.setCosmetic(True)
        self.setZValue(-30)
        #: The last paint's lines and what they were computed from: a live tick repaints
        #: strips of an unchanged view, and finding the ticks is most of a grid's paint.
        self._lines: tuple[tuple[float, ...], np.ndarray | None] | None = None

    def set_color(self, color: str, alpha: float) -> None:
        c = QtGui.QColor(color)
        c.setAlphaF(alpha)
        self._pen = QtGui.QPen(c)
        self._pen.setCosmetic(True)
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[None, None]:
        return (None, None)   # the grid follows the view, it never sizes it

    def boundingRect(self) -> QtCore.QRectF:
        view = self.viewRect()
        return QtCore.QRectF() if view is None else QtCore.QRectF(view)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        view = self.viewRect()
        if view is None or view.isEmpty():
            return
        device = p.transform().mapRect(view)
        key = (view.left(), view.right(), view.top(), view.bottom(), device.width(),
               device.height(), getattr(self._x_axis, "version", 0) if self._vertical else 0)
        if self._lines is None or self._lines[0] != key:
            self._lines = (key, self._grid_lines(view, device))
        lines = self._lines[1]
        if lines is None:
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.setPen(self._pen)
        draw_lines(p, lines)

    def _grid_lines(self, view: QtCore.QRectF, device: QtCore.QRectF) -> np.ndarray | None:
        """(x0, y0, x1, y1) rows of the lines at the axes' ticks for this view, None if none."""
        x0, x1, y0, y1 = view.left(), view.right(), view.top(), view.bottom()
        lines: list[np.ndarray] = []
        ys = _labelled(self._y_axis.tickValues(y0, y1, abs(device.height())),
                       abs(device.height()) / max(y1 - y0, 1e-300))
        if ys.size:
            lines.append(np.column_stack([np.full(ys.size, x0), ys, np.full(ys.size, x1), ys]))
        if self._vertical:
            xs = _labelled(self._x_axis.tickValues(x0, x1, abs(device.width())),
                           abs(device.width()) / max(x1 - x0, 1e-300))
            if xs.size:
                lines.append(np.column_stack([xs, np.full(xs.size, y0), xs, np.full(xs.size, y1)]))
        if not lines:
            return None
        return np.ascontiguousarray(np.concatenate(lines), dtype=np.float64)


MIN_LINE_GAP_PX = 36.0


def _labelled(levels: list[tuple[float, list[float]]], px_per_unit: float) -> np.ndarray:
    """Tick values of the major level, plus the first minor level when its lines are at
    least ``MIN_LINE_GAP_PX`` apart (the levels an axis labels), as float64."""
    values: list[float] = []
    for k, (spacing, level) in enumerate(levels[:2]):
        if k == 0 or spacing * px_per_unit >= MIN_LINE_GAP_PX:
            values.extend(level)
    return np.unique(np.asarray(values, dtype=np.float64))
