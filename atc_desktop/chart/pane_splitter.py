"""Draggable boundaries between the chart's stacked panes (price, volume, Average_Signal).

The panes live in one pyqtgraph scene (one crosshair, one PNG export, x axes aligned), so
a QSplitter cannot hold them: the rows get fixed heights from a set of proportions, and
an event filter on the view turns a drag near a boundary into new proportions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Callable

from PySide6 import QtCore, QtGui, QtWidgets

#: Share of the panes' height per row (price, volume, Average_Signal with the time axis).
DEFAULT_PROPORTIONS: tuple[float, ...] = (0.6, 0.16, 0.24)
#: Smallest height of each row's data area in pixels (a row also holds its legend band,
#: and the signal row the time axis).
MIN_DATA_PX: tuple[int, ...] = (60, 24, 36)
GRAB_PX = 4          # a press this close to a boundary starts a drag


def normalised(proportions: Sequence[float], rows: int = len(DEFAULT_PROPORTIONS)) -> tuple[float, ...]:
    """Proportions summing to 1; ValueError for a wrong count or a non-positive share."""
    values = [float(p) for p in proportions]
    if len(values) != rows or not all(math.isfinite(p) and p > 0 for p in values):
        raise ValueError(f"pane proportions must be {rows} positive numbers, got {list(proportions)!r}")
    total = sum(values)
    return tuple(p / total for p in values)


def row_heights(total: int, proportions: Sequence[float], minimum: Sequence[int]) -> list[int]:
    """Integer row heights summing to ``total``: each row its share, at least its minimum
    while the total allows (below that, the minimums scaled down alike), the price row
    taking the rounding."""
    need = sum(minimum)
    if total < need:
        minimum = [int(m * total / need) for m in minimum]
    heights = [max(m, round(total * p)) for p, m in zip(proportions, minimum)]
    extra = total - sum(heights)
    # Take any excess from the rows above their minimum, the largest first.
    for i in sorted(range(len(heights)), key=lambda k: -heights[k]):
        if extra >= 0:
            break
        give = min(-extra, heights[i] - minimum[i])
        heights[i] -= give
        extra += give
    heights[0] = max(1, heights[0] + extra)
    return heights


def dragged(heights: Sequence[int], boundary: int, dy: float,
            minimum: Sequence[int]) -> tuple[float, ...]:
    """Proportions after moving the boundary below row ``boundary`` by ``dy`` pixels: only
    the two rows beside it change, neither below its minimum."""
    h = [float(v) for v in heights]
    a, b = boundary, boundary + 1
    dy = min(max(dy, minimum[a] - h[a]), h[b] - minimum[b])
    h[a] += dy
    h[b] -= dy
    return normalised(h, len(h))


class PaneSplitter(QtCore.QObject):
    """Event filter on the chart view's viewport: hover near a pane boundary shows a
    resize cursor, a drag moves it, a double click restores the default proportions.

    ``rows()`` gives the rows' current (top, bottom) in viewport pixels, ``minimum()``
    their smallest heights; ``apply(proportions)`` sets new ones. ``changed`` is emitted
    once per finished drag (for saving).
    """

    changed = QtCore.Signal(tuple)

    def __init__(self, viewport: QtWidgets.QWidget, rows: Callable[[], list[tuple[float, float]]],
                 minimum: Callable[[], list[int]], apply: Callable[[tuple[float, ...]], None]) -> None:
        super().__init__(viewport)
        self._viewport = viewport
        self._rows = rows
        self._minimum = minimum
        self._apply = apply
        self._drag: tuple[int, float, list[int]] | None = None   # boundary, start y, heights
        self._cursor_set = False
        viewport.installEventFilter(self)
        viewport.setMouseTracking(True)

    def boundaries(self) -> list[float]:
        """y of each boundary between two rows, in viewport pixels."""
        rows = self._rows()
        return [(rows[k][1] + rows[k + 1][0]) / 2 for k in range(len(rows) - 1)]

    def boundary_at(self, y: float) -> int | None:
        for k, b in enumerate(self.boundaries()):
            if abs(y - b) <= GRAB_PX:
                return k
        return None

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        kind = event.type()
        Type = QtCore.QEvent.Type
        if kind not in (Type.MouseMove, Type.MouseButtonPress, Type.MouseButtonRelease,
                        Type.MouseButtonDblClick):
            return False
        assert isinstance(event, QtGui.QMouseEvent)
        y = event.position().y()
        left = event.button() == QtCore.Qt.MouseButton.LeftButton
        if kind == Type.MouseMove:
            if self._drag is not None:
                k, y0, heights = self._drag
                self._apply(dragged(heights, k, y - y0, self._minimum()))
                return True
            self._hover(self.boundary_at(y) is not None)
            return False
        if kind == Type.MouseButtonPress and left:
            hit = self.boundary_at(y)
            if hit is None:
                return False
            rows = self._rows()
            self._drag = (hit, y, [round(b - t) for t, b in rows])
            return True
        if kind == Type.MouseButtonRelease and left and self._drag is not None:
            k, y0, heights = self._drag
            self._drag = None
            final = dragged(heights, k, y - y0, self._minimum())
            self._apply(final)
            self.changed.emit(final)
            return True
        if kind == Type.MouseButtonDblClick and left and self.boundary_at(y) is not None:
            self._apply(DEFAULT_PROPORTIONS)
            self.changed.emit(DEFAULT_PROPORTIONS)
            return True
        return False

    def _hover(self, on: bool) -> None:
        if on and not self._cursor_set:
            self._viewport.setCursor(QtCore.Qt.CursorShape.SplitVCursor)
            self._cursor_set = True
        elif not on and self._cursor_set:
            self._viewport.unsetCursor()
            self._cursor_set = False
