"""A bottom axis over bar indices that labels calendar boundaries (year, month, day, hour)
of the bars' exchange-local times, as trading charts do: ticks fall on the first bar of a
new period, never between bars, and nights and weekends take no room."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from atc_desktop.chart.data import to_datetime

#: Candidate tick periods, finest first: (numpy datetime unit, periods per tick).
_PERIODS: tuple[tuple[str, int], ...] = (
    ("m", 1), ("m", 5), ("m", 15), ("m", 30), ("h", 1), ("h", 2), ("h", 4), ("h", 12),
    ("D", 1), ("D", 2), ("D", 5), ("D", 10), ("M", 1), ("M", 3), ("M", 6),
    ("Y", 1), ("Y", 2), ("Y", 5), ("Y", 10), ("Y", 25),
)
TICK_SPACING_PX = 85.0


class BarTimeAxisItem(pg.AxisItem):
    """Bottom axis: x = bar index, labels from the bars' local wall-clock times."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("bottom", **kwargs)
        self._local = np.empty(0, dtype="datetime64[ns]")
        self._intraday = False
        self._unit = "D"
        #: Counts ``set_times`` calls: what the grid's cached lines are checked against.
        self.version = 0

    def set_times(self, local_ns: np.ndarray, intraday: bool) -> None:
        self._local = np.asarray(local_ns, dtype=np.int64).view("datetime64[ns]")
        self._intraday = intraday
        self.version += 1
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        n = self._local.shape[0]
        i0, i1 = max(0, int(np.ceil(minVal))), min(n, int(np.floor(maxVal)) + 1)
        if i1 - i0 < 2:
            return []
        t = self._local[i0:i1]
        max_ticks = max(2, int(size / TICK_SPACING_PX))
        for unit, step in _PERIODS:
            if not self._intraday and unit in ("m", "h"):
                continue
            keys = t.astype(f"datetime64[{unit}]").astype(np.int64) // step
            starts = np.flatnonzero(np.diff(keys)) + 1
            if starts.size <= max_ticks:
                self._unit = unit
                return [(float(step), [float(i0 + s) for s in starts])]
        return []

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        n = self._local.shape[0]
        out: list[str] = []
        for v in values:
            i = int(round(v))
            if not 0 <= i < n:
                out.append("")
                continue
            now = to_datetime(int(self._local[i].astype(np.int64)))
            prev = to_datetime(int(self._local[i - 1].astype(np.int64))) if i > 0 else None
            out.append(self._label(now, prev))
        return out

    def _label(self, now: dt.datetime, prev: dt.datetime | None) -> str:
        # The label names the largest calendar unit that changed at this bar.
        if prev is None:
            return now.strftime("%Y-%m-%d")
        if now.year != prev.year:
            return now.strftime("%Y")
        if self._unit in ("Y",):
            return now.strftime("%Y")
        if now.month != prev.month:
            return now.strftime("%b")
        if now.date() != prev.date() or self._unit in ("D", "M"):
            return now.strftime("%d %b")
        return now.strftime("%H:%M")


class ValueAxisItem(pg.AxisItem):
    """A pane's value axis: no ticks beside the legend band (where no data is drawn)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802,N803
        levels: list[tuple[float, list[float]]] = super().tickValues(minVal, maxVal, size)
        view = self.linkedView()
        data_range = getattr(view, "data_range", None)
        if data_range is None:
            return levels
        lo, hi = data_range()
        slack = (hi - lo) * 1e-9
        return [(spacing, [v for v in values if v <= hi + slack]) for spacing, values in levels]


class CompactAxisItem(ValueAxisItem):
    """Value axis with K/M/B suffixes (volume): "20M" instead of "2e+07"."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for v in values:
            v *= scale
            for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")):
                if abs(v) >= div or div == 1.0:
                    q = v / div
                    out.append(f"{q:.0f}{unit}" if abs(q - round(q)) < 1e-9 else f"{q:.1f}{unit}")
                    break
        return out


class PriceScaleAxisItem(ValueAxisItem):
    """The price pane's right axis: dragging it scales the prices (down compresses, up
    stretches, as on trading charts); a double click returns to fitting the visible bars.
    The axis only reports; the chart decides what scaling means."""

    #: Range factor per pixel dragged.
    SCALE_PER_PX = 0.008

    def __init__(self, on_scale: Callable[[float], None], on_auto: Callable[[], None],
                 **kwargs: object) -> None:
        super().__init__("right", **kwargs)
        self._on_scale = on_scale
        self._on_auto = on_auto
        self.setCursor(QtCore.Qt.CursorShape.SizeVerCursor)
        self.setToolTip("Drag to scale the prices; double-click to fit the visible bars again")

    def mouseDragEvent(self, event: Any) -> None:  # noqa: N802 - pyqtgraph's name
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            event.ignore()
            return
        event.accept()
        dy = float(event.pos().y() - event.lastPos().y())
        if dy:
            self._on_scale(math.exp(dy * self.SCALE_PER_PX))

    def mouseClickEvent(self, event: Any) -> None:  # noqa: N802 - pyqtgraph's name
        if event.button() == QtCore.Qt.MouseButton.LeftButton and event.double():
            event.accept()
            self._on_auto()
        else:
            event.ignore()
