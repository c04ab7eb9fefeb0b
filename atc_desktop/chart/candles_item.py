"""Candlesticks coloured by the ATC's colour base (spec §9: base > 0 bull, else bear).

Up candles (close ≥ open) are hollow, down candles filled, so the candle's own direction
stays readable under the trend colour. Geometry is numpy, computed once per level of
detail (bars per bucket, a power of two) and updated from the last bar on live refresh;
a paint draws only the visible buckets, two line calls and two rect calls per colour.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PySide6 import QtCore, QtGui

from atc_desktop.chart.cached_item import LevelCachedItem
from atc_desktop.chart.exposure import exposed_rows
from atc_desktop.chart.geometry import bucket_ohlc, draw_lines, draw_rects, finite_range, rows, visible_bars
from atc_desktop.chart.theme import BEAR, BULL, DARK, NEUTRAL, Theme

BODY_WIDTH = 0.7   # fraction of a bucket's width taken by the body


class _Level(NamedTuple):
    """Drawing geometry of one level of detail: one row per bucket."""

    body: np.ndarray      # (m, 4) rect x, y, w, h
    wick_hi: np.ndarray   # (m, 4) line from the high to the body's top
    wick_lo: np.ndarray   # (m, 4) line from the body's bottom to the low
    cls: np.ndarray       # (m,) trend class of the bucket's last bar
    filled: np.ndarray    # (m,) bool: close < open


def _geometry(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, cls: np.ndarray,
              k: int, start_bucket: int) -> _Level:
    first, last, bo, bh, bl, bc = bucket_ohlc(o, h, lo, c, k, start_bucket * k)
    x = (first + last) * 0.5
    top, bottom = np.maximum(bo, bc), np.minimum(bo, bc)
    w = BODY_WIDTH * k
    body = np.column_stack([x - w / 2, bottom, np.full(x.shape, w), top - bottom])
    wick_hi = np.column_stack([x, bh, x, top])
    wick_lo = np.column_stack([x, bottom, x, bl])
    return _Level(body, wick_hi, wick_lo, cls[last], bc < bo)


class CandlesItem(LevelCachedItem[_Level]):
    """OHLC candles at x = bar index; trend classes BULL/BEAR/NEUTRAL from ``theme``."""

    def __init__(self) -> None:
        super().__init__()
        empty = np.empty(0)
        self._o = self._h = self._l = self._c = empty
        self._cls = np.empty(0, dtype=np.int8)
        self._forming = False
        self._theme = DARK
        self._pens: list[QtGui.QPen] = []
        self._brushes: list[QtGui.QBrush] = []
        self.paint_count = 0        # paints since creation (benchmarks check a frame drew)
        self.set_theme(DARK)

    # -- data ------------------------------------------------------------------------------
    @property
    def bars(self) -> int:
        return int(self._o.shape[0])

    def set_data(self, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                 cls: np.ndarray) -> None:
        """Replace every bar; ``cls`` is each bar's trend class (theme.BULL/BEAR/NEUTRAL)."""
        self._o, self._h, self._l, self._c = o, h, lo, c
        self._cls = np.asarray(cls, dtype=np.int8)
        self._replace_data()

    def update_tail(self, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                    cls: np.ndarray, first_changed: int) -> None:
        """New arrays equal to the old ones before bar ``first_changed`` (a live refresh of the
        forming bar, or a bar appended): only the buckets from that bar on are rebuilt."""
        self._o, self._h, self._l, self._c = o, h, lo, c
        self._cls = np.asarray(cls, dtype=np.int8)
        self._replace_tail(first_changed)

    def set_forming(self, forming: bool) -> None:
        """Outline the last bar as still forming (spec §13.3: its values change until close)."""
        self._forming = bool(forming)
        self.update()

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._pens, self._brushes = [], []
        for color in theme.trend:
            pen = QtGui.QPen(QtGui.QColor(color))
            pen.setCosmetic(True)
            pen.setWidth(1)
            self._pens.append(pen)
            self._brushes.append(QtGui.QBrush(QtGui.QColor(color)))
        self.update()

    def _build_level(self, k: int, start: int) -> _Level:
        return _geometry(self._o, self._h, self._l, self._c, self._cls, k, start)

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        return finite_range(self._l[i0:i1], self._h[i0:i1])

    # -- painting --------------------------------------------------------------------------
    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        n = self.bars
        if n == 0:
            return
        self.paint_count += 1
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        k, lvl = self._painted_level(p)
        i0, i1 = visible_bars(self.viewRect(), n)
        if i1 <= i0:
            return
        b0, b1 = i0 // k, (i1 - 1) // k + 1
        cls, filled = lvl.cls[b0:b1], lvl.filled[b0:b1]
        body, hi, lo = lvl.body[b0:b1], lvl.wick_hi[b0:b1], lvl.wick_lo[b0:b1]
        exposed = exposed_rows(self, p, (body[:, 0], body[:, 0] + body[:, 2]),
                               (hi[:, 1], hi[:, 3], lo[:, 1], lo[:, 3]), 2.0)
        if exposed is not None:
            cls = np.where(exposed, cls, -1)     # a class no candle has: not drawn
        no_brush = QtGui.QBrush(QtCore.Qt.BrushStyle.NoBrush)
        for c in (NEUTRAL, BEAR, BULL):
            mask = cls == c
            if not mask.any():
                continue
            p.setPen(self._pens[c])
            draw_lines(p, rows(hi, mask))
            draw_lines(p, rows(lo, mask))
            p.setBrush(self._brushes[c])
            draw_rects(p, rows(body, mask & filled))
            p.setBrush(no_brush)
            draw_rects(p, rows(body, mask & ~filled))
        if self._forming and b1 == lvl.cls.shape[0]:
            self._paint_forming(p, lvl, k)

    def _paint_forming(self, p: QtGui.QPainter, lvl: _Level, k: int) -> None:
        x, _, w, _ = lvl.body[-1]
        top, low = lvl.wick_hi[-1, 1], lvl.wick_lo[-1, 3]
        pen = QtGui.QPen(QtGui.QColor(self._theme.foreground))
        pen.setCosmetic(True)
        pen.setStyle(QtCore.Qt.PenStyle.DotLine)
        p.setPen(pen)
        p.setBrush(QtGui.QBrush(QtCore.Qt.BrushStyle.NoBrush))
        pad = 0.2 * k
        p.drawRect(QtCore.QRectF(x - pad, low, w + 2 * pad, top - low))


__all__ = ["CandlesItem", "BULL", "BEAR", "NEUTRAL"]
