"""Base of the chart items drawn from per-bar arrays at a level of detail (candles, volume,
trend lines).

Each level (k bars per bucket, k a power of two) is a NamedTuple of arrays with one row per
bucket, built once and kept until the data change; a live refresh rebuilds only the rows
from the first changed bar on. The item's bounds follow the data, and a refresh that keeps
them repaints only the last buckets instead of the whole pane.
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from atc_desktop.chart.geometry import MIN_BUCKET_PX, lod_factor, ortho_bars, tail_rect

#: One level's geometry: a NamedTuple whose fields are arrays with one row per bucket.
LevelT = TypeVar("LevelT", bound=tuple[Any, ...])


class LevelCachedItem(pg.GraphicsObject, Generic[LevelT]):
    """Subclasses give ``bars``, ``_build_level`` and ``_y_range``; the rest is shared."""

    #: Buckets grow until one spans at least this many pixels.
    min_px: float = MIN_BUCKET_PX
    #: Half the width a bar takes around its index: 0.5 for a cell (candle, volume bar),
    #: 0 for a point of a line.
    cell_half_width: float = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._levels: dict[int, LevelT] = {}
        self._bounds = QtCore.QRectF()
        self.last_level = 1         # bars per bucket of the last paint
        #: (bar, y range of the bars before it), see ``_full_range``.
        self._prefix: tuple[int, tuple[float, float] | None] | None = None

    # -- what a subclass provides ------------------------------------------------------------
    # (abc.ABC cannot be mixed into a Qt class: its metaclass conflicts with Shiboken's, so
    # the three hooks raise NotImplementedError instead of being abstract methods.)
    @property
    def bars(self) -> int:
        raise NotImplementedError

    def _build_level(self, k: int, start: int) -> LevelT:
        """The rows of buckets (of ``k`` bars) ``start`` … last."""
        raise NotImplementedError

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        """(min, max) of the item's values over bars [i0, i1), None when none is finite."""
        raise NotImplementedError

    def _tail_start(self, first_changed: int, k: int) -> int:
        """First row of level ``k`` that bar ``first_changed`` can change."""
        return first_changed // k

    def _tail_region(self) -> QtCore.QRectF:
        """The rectangle a live refresh's repaint strip is cut from."""
        return QtCore.QRectF(self._bounds)

    def _full_range(self, first_changed: int | None = None) -> tuple[float, float] | None:
        """``_y_range`` over every bar. A live refresh (``first_changed`` set) reuses the
        range of the unchanged bars before it, kept from the last refresh that began there:
        a tick would otherwise scan the whole history for one changed bar."""
        n = self.bars
        if first_changed is None or not 0 < first_changed <= n:
            self._prefix = None
            return self._y_range(0, n)
        if self._prefix is None or self._prefix[0] != first_changed:
            self._prefix = (first_changed, self._y_range(0, first_changed))
        return _union(self._prefix[1], self._y_range(first_changed, n))

    def _data_rect(self, first_changed: int | None = None) -> QtCore.QRectF:
        """Every bar's cell over the finite values' range; empty when there is none."""
        n = self.bars
        yr = self._full_range(first_changed)
        if yr is None:
            return QtCore.QRectF()
        h = self.cell_half_width
        return QtCore.QRectF(0.0 - h, yr[0], n - 1 + 2 * h, yr[1] - yr[0])

    # -- the level cache ---------------------------------------------------------------------
    def _level(self, k: int) -> LevelT:
        lvl = self._levels.get(k)
        if lvl is None:
            lvl = self._levels[k] = self._build_level(k, 0)
        return lvl

    def _painted_level(self, p: QtGui.QPainter) -> tuple[int, LevelT]:
        """The level the painter's zoom calls for, remembered for tail repaints."""
        k = lod_factor(p.transform().m11(), self.min_px)
        self.last_level = k
        return k, self._level(k)

    def _replace_data(self) -> None:
        """Every bar changed: forget every level."""
        self._levels.clear()
        self._data_changed()

    def _replace_tail(self, first_changed: int) -> None:
        """The arrays equal the old ones before bar ``first_changed``: each cached level keeps
        its rows before that bar's and rebuilds the rest."""
        for k, lvl in list(self._levels.items()):
            start = min(self._tail_start(first_changed, k), lvl[0].shape[0])
            tail = self._build_level(k, start)
            if (start + tail[0].shape[0] == lvl[0].shape[0]
                    and all(a.flags.owndata and a.flags.writeable for a in lvl)):
                # The same rows (a tick revising the forming bar): overwrite the tail rows
                # instead of copying the whole history into new arrays.
                for old, new in zip(lvl, tail):
                    old[start:] = new
            else:
                self._levels[k] = type(lvl)(*(np.concatenate([old[:start], new])
                                              for old, new in zip(lvl, tail)))
        self._data_changed(first_changed)

    # -- bounds ------------------------------------------------------------------------------
    def _data_changed(self, first_changed: int | None = None) -> None:
        """A live refresh (``first_changed`` set) that keeps the bounds repaints only the last
        buckets; anything else is a geometry change and a full repaint."""
        bounds = self._data_rect(first_changed)
        if first_changed is not None and bounds == self._bounds:
            self.update(tail_rect(self._tail_region(), first_changed, self.last_level))
            return
        self.prepareGeometryChange()
        self._bounds = bounds
        self.informViewBoundsChanged()
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None) -> tuple[float | None, float | None]:
        n = self.bars
        if n == 0:
            return (None, None)
        if ax == 0:
            h = self.cell_half_width
            return (0.0 - h, n - 1 + h)
        i0, i1 = ortho_bars(orthoRange, n)
        yr = self._y_range(i0, i1)
        return (None, None) if yr is None else yr

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(self._bounds)


def _union(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float] | None:
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), max(a[1], b[1]))


__all__ = ["LevelCachedItem"]
