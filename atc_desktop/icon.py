"""The application icon, drawn in code (a trend line over two candles)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

_icon: QIcon | None = None


def app_icon() -> QIcon:
    global _icon
    if _icon is None:
        icon = QIcon()
        for size in (16, 32, 64, 128):
            icon.addPixmap(_draw(size))
        _icon = icon
    return _icon


def _draw(size: int) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64.0
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#131722"))
    p.drawRoundedRect(QRectF(0, 0, size, size), 12 * s, 12 * s)
    p.setBrush(QColor("#ef5350"))
    p.drawRect(QRectF(14 * s, 22 * s, 10 * s, 22 * s))
    p.setBrush(QColor("#26a69a"))
    p.drawRect(QRectF(36 * s, 16 * s, 10 * s, 26 * s))
    path = QPainterPath(QPointF(8 * s, 50 * s))
    path.cubicTo(QPointF(24 * s, 46 * s), QPointF(34 * s, 30 * s), QPointF(56 * s, 12 * s))
    p.setPen(QPen(QColor("#ffd54f"), max(1.5, 4 * s)))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)
    p.end()
    return pm
