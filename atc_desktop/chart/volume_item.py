"""Volume bars from zero, translucent green/red by the bar's own direction (close ≥ open).

Zoomed out, buckets of a power-of-two number of bars show their largest volume, so peaks
survive and the pane's y range (fitted to the raw visible maximum) still frames them.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from atc_desktop.chart.geometry import (
    MIN_BUCKET_PX, apply_bounds, bucket_max, draw_rects, finite_range, lod_factor,
    ortho_bars, rows, visible_bars,
)
from atc_desktop.chart.theme import DARK, Theme

BAR_WIDTH = 0.7


def _geometry(v: np.ndarray, up: np.ndarray, k: int, start_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    n = v.shape[0]
    first = np.arange(start_bucket * k, n, k)
    last = np.minimum(first + k - 1, n - 1)
    x = (first + last) * 0.5
    height = np.nan_to_num(bucket_max(v, k, start_bucket * k), nan=0.0)
    w = BAR_WIDTH * k
    rects = np.column_stack([x - w / 2, np.zeros(x.shape), np.full(x.shape, w), height])
    return rects, up[last]


class VolumeItem(pg.GraphicsObject):
    """Volume per bar at x = bar index."""

    def __init__(self) -> None:
        super().__init__()
        self._v = np.empty(0)
        self._up = np.empty(0, dtype=bool)
        self._levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._bounds = QtCore.QRectF()
        self.last_level = 1
        self._brushes: tuple[QtGui.QBrush, QtGui.QBrush] = (QtGui.QBrush(), QtGui.QBrush())
        self.set_theme(DARK)

    @property
    def bars(self) -> int:
        return int(self._v.shape[0])

    def set_data(self, volume: np.ndarray, up: np.ndarray) -> None:
        """``up`` marks bars with close ≥ open."""
        self._v, self._up = volume, np.asarray(up, dtype=bool)
        self._levels.clear()
        self._data_changed()

    def update_tail(self, volume: np.ndarray, up: np.ndarray, first_changed: int) -> None:
        """Rebuild only the buckets from bar ``first_changed`` on (live refresh)."""
        self._v, self._up = volume, np.asarray(up, dtype=bool)
        for k, (rects, ups) in list(self._levels.items()):
            b = min(first_changed // k, ups.shape[0])
            t_rects, t_up = _geometry(self._v, self._up, k, b)
            self._levels[k] = (np.concatenate([rects[:b], t_rects]), np.concatenate([ups[:b], t_up]))
        self._data_changed(first_changed)

    def set_theme(self, theme: Theme) -> None:
        up, down = QtGui.QColor(theme.bull), QtGui.QColor(theme.bear)
        up.setAlpha(theme.volume_up_alpha)
        down.setAlpha(theme.volume_up_alpha)
        self._brushes = (QtGui.QBrush(down), QtGui.QBrush(up))
        self.update()

    def _data_changed(self, first_changed: int | None = None) -> None:
        yr = finite_range(self._v)
        top = yr[1] if yr is not None else 0.0
        bounds = QtCore.QRectF(-0.5, 0.0, float(self.bars), max(top, 0.0))
        apply_bounds(self, bounds, first_changed)

    def _level(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in self._levels:
            self._levels[k] = _geometry(self._v, self._up, k, 0)
        return self._levels[k]

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[float | None, float | None]:
        n = self.bars
        if n == 0:
            return (None, None)
        if ax == 0:
            return (-0.5, n - 0.5)
        i0, i1 = ortho_bars(orthoRange, n)
        yr = finite_range(self._v[i0:i1])
        return (None, None) if yr is None else (0.0, yr[1])

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(self._bounds)

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        n = self.bars
        if n == 0:
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        k = lod_factor(p.transform().m11(), MIN_BUCKET_PX)
        self.last_level = k
        rects, ups = self._level(k)
        i0, i1 = visible_bars(self.viewRect(), n)
        if i1 <= i0:
            return
        b0, b1 = i0 // k, (i1 - 1) // k + 1
        rects, ups = rects[b0:b1], ups[b0:b1]
        p.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        for is_up in (False, True):
            p.setBrush(self._brushes[int(is_up)])
            draw_rects(p, rows(rects, ups == is_up))
