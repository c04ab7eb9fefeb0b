"""Volume bars from zero, translucent green/red by the bar's own direction (close ≥ open).

Zoomed out, buckets of a power-of-two number of bars show their largest volume, so peaks
survive and the pane's y range (fitted to the raw visible maximum) still frames them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PySide6 import QtCore, QtGui

from atc_desktop.chart.cached_item import LevelCachedItem
from atc_desktop.chart.exposure import exposed_rows
from atc_desktop.chart.geometry import bucket_max, draw_rects, finite_range, rows, visible_bars
from atc_desktop.chart.theme import DARK, Theme

BAR_WIDTH = 0.7


class _Level(NamedTuple):
    """Drawing geometry of one level of detail: one row per bucket."""

    rects: np.ndarray    # (m, 4) rect x, y, w, h from zero to the bucket's largest volume
    up: np.ndarray       # (m,) bool: the bucket's last bar closed at or above its open


def _geometry(v: np.ndarray, up: np.ndarray, k: int, start_bucket: int) -> _Level:
    n = v.shape[0]
    first = np.arange(start_bucket * k, n, k)
    last = np.minimum(first + k - 1, n - 1)
    x = (first + last) * 0.5
    height = np.nan_to_num(bucket_max(v, k, start_bucket * k), nan=0.0)
    w = BAR_WIDTH * k
    rects = np.column_stack([x - w / 2, np.zeros(x.shape), np.full(x.shape, w), height])
    return _Level(rects, up[last])


class VolumeItem(LevelCachedItem[_Level]):
    """Volume per bar at x = bar index."""

    def __init__(self) -> None:
        super().__init__()
        self._v = np.empty(0)
        self._up = np.empty(0, dtype=bool)
        self._brushes: tuple[QtGui.QBrush, QtGui.QBrush] = (QtGui.QBrush(), QtGui.QBrush())
        self.set_theme(DARK)

    @property
    def bars(self) -> int:
        return int(self._v.shape[0])

    def set_data(self, volume: np.ndarray, up: np.ndarray) -> None:
        """``up`` marks bars with close ≥ open."""
        self._v, self._up = volume, np.asarray(up, dtype=bool)
        self._replace_data()

    def update_tail(self, volume: np.ndarray, up: np.ndarray, first_changed: int) -> None:
        """Rebuild only the buckets from bar ``first_changed`` on (live refresh)."""
        self._v, self._up = volume, np.asarray(up, dtype=bool)
        self._replace_tail(first_changed)

    def set_theme(self, theme: Theme) -> None:
        up, down = QtGui.QColor(theme.bull), QtGui.QColor(theme.bear)
        up.setAlpha(theme.volume_up_alpha)
        down.setAlpha(theme.volume_up_alpha)
        self._brushes = (QtGui.QBrush(down), QtGui.QBrush(up))
        self.update()

    def _build_level(self, k: int, start: int) -> _Level:
        return _geometry(self._v, self._up, k, start)

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        yr = finite_range(self._v[i0:i1])
        return None if yr is None else (0.0, yr[1])

    def _data_rect(self, first_changed: int | None = None) -> QtCore.QRectF:
        # Bars stand on zero, so the bounds start there, even with no finite volume.
        yr = self._full_range(first_changed)
        top = yr[1] if yr is not None else 0.0
        return QtCore.QRectF(-0.5, 0.0, float(self.bars), max(top, 0.0))

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        n = self.bars
        if n == 0:
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        k, (rects, ups) = self._painted_level(p)
        i0, i1 = visible_bars(self.viewRect(), n)
        if i1 <= i0:
            return
        b0, b1 = i0 // k, (i1 - 1) // k + 1
        rects, ups = rects[b0:b1], ups[b0:b1]
        exposed = exposed_rows(self, p, (rects[:, 0], rects[:, 0] + rects[:, 2]),
                               (rects[:, 1], rects[:, 1] + rects[:, 3]), 1.0)
        if exposed is not None:
            rects, ups = rects[exposed], ups[exposed]
        p.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        for is_up in (False, True):
            p.setBrush(self._brushes[int(is_up)])
            draw_rects(p, rows(rects, ups == is_up))
