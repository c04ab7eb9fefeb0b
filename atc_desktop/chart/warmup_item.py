"""Shading over the warm-up bars: bars 0 … W−1 with W = config.warmup_bars(), the bars
before every MA has a value (spec §13.1: values depend on the first bar; mark the first
bars as warm-up). Spans the view's full height and never influences the y range."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui


class WarmupShadeItem(pg.GraphicsObject):
    """A vertical band over bars [0, W), optionally labelled in its top-left corner."""

    def __init__(self, label: bool = True) -> None:
        super().__init__()
        self._bars = 0
        self._label = label
        self._brush = QtGui.QBrush(QtGui.QColor(255, 255, 255, 20))
        self._text = QtGui.QColor("#787b86")
        self.setZValue(-20)

    def set_bars(self, warmup_bars: int) -> None:
        self.prepareGeometryChange()
        self._bars = max(0, int(warmup_bars))
        self.informViewBoundsChanged()
        self.update()

    def set_colors(self, fill: str, text: str) -> None:
        self._brush = QtGui.QBrush(QtGui.QColor(fill))
        self._text = QtGui.QColor(text)
        self.update()

    def extent(self) -> tuple[int, int]:
        """(first, end) bar of the shaded range: bars first … end−1 are warm-up."""
        return (0, self._bars)

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[float | None, float | None]:
        if ax == 0 and self._bars:
            return (-0.5, self._bars - 0.5)
        return (None, None)

    def boundingRect(self) -> QtCore.QRectF:
        view = self.viewRect()
        if not self._bars or view is None:
            return QtCore.QRectF()
        return QtCore.QRectF(-0.5, view.top(), float(self._bars), view.height())

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        rect = self.boundingRect()
        if rect.isEmpty():
            return
        p.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        p.setBrush(self._brush)
        p.drawRect(rect)
        edge = QtGui.QPen(self._text)
        edge.setCosmetic(True)
        edge.setStyle(QtCore.Qt.PenStyle.DashLine)
        p.setPen(edge)   # the first bar with every MA defined starts right of this line
        p.drawLine(QtCore.QPointF(rect.right(), rect.top()), QtCore.QPointF(rect.right(), rect.bottom()))
        if not self._label:
            return
        device = p.transform().mapRect(rect)
        if device.width() < 40:
            return   # too narrow to label legibly
        p.save()
        p.resetTransform()
        font = QtGui.QFont(p.font())
        font.setPointSizeF(8.0)
        p.setFont(font)
        p.setPen(self._text)
        text = f"warm-up · {self._bars} bars" if device.width() >= 110 else "warm-up"
        p.drawText(device.adjusted(6, 4, -4, -4),
                   int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignBottom), text)
        p.restore()
