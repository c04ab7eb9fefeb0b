"""A horizontal (or vertical) line across the view at one value: thresholds, the zero line,
the last close, the crosshair.

pyqtgraph's InfiniteLine recomputes its bounds inside paint() and calls
prepareGeometryChange() there, which schedules a second full repaint after every view
change (measured: two paints per new symbol instead of one). This line works out its
bounds when the view changes, outside painting, and is two pixels thick for Qt's update
regions, so moving a crosshair repaints a strip, not the pane.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui


class LevelLineItem(pg.GraphicsObject):
    """Line at ``value`` across the view; ``vertical`` puts it at an x instead of a y."""

    def __init__(self, value: float = 0.0, vertical: bool = False) -> None:
        super().__init__()
        self._value = float(value)
        self._vertical = vertical
        self._pen = QtGui.QPen(QtGui.QColor("#787b86"))
        self._pen.setCosmetic(True)
        self._rect = QtCore.QRectF()

    def value(self) -> float:
        return self._value

    def set_value(self, value: float) -> None:
        value = float(value)
        if value != self._value:
            self.prepareGeometryChange()
            self._value = value
            self._rect = self._compute_rect()
            self.update()

    def set_pen(self, color: str, style: QtCore.Qt.PenStyle = QtCore.Qt.PenStyle.SolidLine,
                width: float = 1.0) -> None:
        self._pen = QtGui.QPen(QtGui.QColor(color))
        self._pen.setCosmetic(True)
        self._pen.setWidthF(width)
        self._pen.setStyle(style)
        self.update()

    def pen(self) -> QtGui.QPen:
        return QtGui.QPen(self._pen)

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[None, None]:
        return (None, None)   # a reference line never sizes the view

    def _compute_rect(self) -> QtCore.QRectF:
        view = self.viewRect()
        if view is None:
            return QtCore.QRectF()
        px, py = self.pixelVectors()
        if self._vertical:
            d = 2.0 * (px.length() if px is not None else 0.0)
            return QtCore.QRectF(self._value - d, view.top(), 2 * d, view.height())
        d = 2.0 * (py.length() if py is not None else 0.0)
        return QtCore.QRectF(view.left(), self._value - d, view.width(), 2 * d)

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()    # drops the cached view rect first
        self.prepareGeometryChange()
        self._rect = self._compute_rect()

    def boundingRect(self) -> QtCore.QRectF:
        if self._rect.isNull():
            self._rect = self._compute_rect()
        return QtCore.QRectF(self._rect)

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        view = self.viewRect()
        if view is None:
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.setPen(self._pen)
        v = self._value
        if self._vertical:
            p.drawLine(QtCore.QPointF(v, view.top()), QtCore.QPointF(v, view.bottom()))
        else:
            p.drawLine(QtCore.QPointF(view.left(), v), QtCore.QPointF(view.right(), v))
