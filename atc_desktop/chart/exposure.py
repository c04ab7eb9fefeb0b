"""The parts of the chart's viewport that a paint redraws, so that items draw only there.

A live tick repaints a few strips of a pane (the legend band, the old and new last-price
line, the last bars). Qt clips every item to them, but an item that hands Qt all its
visible lines still pays for stroking each one; with these helpers it hands over only the
rows that meet a repainted strip. Outside a view's paint (an export, a grab) nothing is
recorded and items draw everything.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui


class ChartView(pg.GraphicsLayoutWidget):
    """The chart's graphics view; while it paints, ``exposed`` holds the repainted rects."""

    def __init__(self) -> None:
        super().__init__()
        #: (k, 4) x0, y0, x1, y1 of the repainted rects in viewport pixels; None when the
        #: whole viewport is repainted or no paint of this view is under way.
        self.exposed: np.ndarray | None = None

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        region = QtGui.QRegion(ev.region())    # a copy that outlives the iteration
        rects = [(r.x(), r.y(), r.x() + r.width(), r.y() + r.height())
                 for r in region]  # type: ignore[attr-defined]  # iterable; the stub lacks __iter__
        whole = len(rects) == 1 and region.boundingRect().contains(self.viewport().rect())
        self.exposed = None if whole else np.asarray(rects, dtype=np.float64)
        try:
            super().paintEvent(ev)
        finally:
            self.exposed = None


def exposed_rows(item: pg.GraphicsObject, p: QtGui.QPainter, xs: tuple[np.ndarray, ...],
                 ys: tuple[np.ndarray, ...], pad_px: float) -> np.ndarray | None:
    """Which rows meet a rect of the paint under way: row i spans the item-coordinate box of
    the points ``xs[j][i]`` and ``ys[j][i]``, grown by ``pad_px`` pixels (a pen's width, a
    cap). None when every row is to be drawn (no partial paint, or a transform that is not
    a plain scale and shift)."""
    view = item.getViewWidget()
    rects = getattr(view, "exposed", None)
    tr = p.transform()
    if rects is None or tr.type().value > QtGui.QTransform.TransformationType.TxScale.value:
        return None
    dx = [tr.m11() * x + tr.dx() for x in xs]
    dy = [tr.m22() * y + tr.dy() for y in ys]
    x0, x1 = np.minimum.reduce(dx) - pad_px, np.maximum.reduce(dx) + pad_px
    y0, y1 = np.minimum.reduce(dy) - pad_px, np.maximum.reduce(dy) + pad_px
    r = rects[:, None, :]
    meets = (x1 >= r[..., 0]) & (x0 <= r[..., 2]) & (y1 >= r[..., 1]) & (y0 <= r[..., 3])
    return np.asarray(meets.any(axis=0))


__all__ = ["ChartView", "exposed_rows"]
