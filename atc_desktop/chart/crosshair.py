"""Crosshair over the stacked panes: a vertical line snapped to the bar under the cursor in
every pane with the bar's time in a tag on the time axis, a horizontal line with a value
tag in the pane under the cursor. It reports the bar through ``moved`` (−1 when the
cursor leaves the chart) and touches no data."""
from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6 import QtCore
from PySide6.QtCore import Signal

from atc_desktop.chart.level_line_item import LevelLineItem


class Crosshair(QtCore.QObject):
    """Crosshair lines for ``plots`` (sharing x) shown in ``view``."""

    moved = Signal(int)

    def __init__(self, view: pg.GraphicsView, plots: list[pg.PlotItem],
                 time_axis: pg.AxisItem | None = None) -> None:
        super().__init__(view)
        self._view = view
        self._plots = plots
        self._bars = 0
        self._bar = -1
        self._vlines: list[LevelLineItem] = []
        self._hlines: list[LevelLineItem] = []
        self._tags: list[pg.TextItem] = []
        self._digits = [2] * len(plots)
        for plot in plots:
            v = LevelLineItem(vertical=True)
            h = LevelLineItem()
            tag = pg.TextItem(anchor=(1.0, 0.5))
            for item in (v, h, tag):
                item.setVisible(False)
                item.setZValue(100)
                plot.addItem(item, ignoreBounds=True)
            self._vlines.append(v)
            self._hlines.append(h)
            self._tags.append(tag)
        # The time tag lives on the axis (in its pixels), over the tick labels it names.
        self._time_axis = time_axis
        self._time_label: Callable[[int], str] = str
        self.time_tag = pg.TextItem(anchor=(0.5, 0.0))
        self.time_tag.setVisible(False)
        self.time_tag.setZValue(100)
        if time_axis is not None:
            self.time_tag.setParentItem(time_axis)
        self.set_colors("#9598a1", "#1e222d", "#d1d4dc")
        view.scene().sigMouseMoved.connect(self._mouse_moved)
        view.viewport().installEventFilter(self)

    @property
    def bar(self) -> int:
        """Bar under the cursor, −1 when the cursor is outside the chart."""
        return self._bar

    def set_bars(self, n: int) -> None:
        self._bars = n
        self.hide()

    def set_time_labels(self, label: Callable[[int], str]) -> None:
        """How the time tag names bar ``i``."""
        self._time_label = label

    def time_text(self) -> str:
        """The time tag's text ('' while hidden)."""
        return self.time_tag.toPlainText() if self.time_tag.isVisible() else ""

    def set_value_digits(self, plot_index: int, digits: int) -> None:
        self._digits[plot_index] = digits

    def set_colors(self, line: str, tag_bg: str, tag_fg: str) -> None:
        for item in self._vlines + self._hlines:
            item.set_pen(line, QtCore.Qt.PenStyle.DashLine)
        for tag in self._tags + [self.time_tag]:
            tag.fill = pg.mkBrush(tag_bg)
            tag.border = pg.mkPen(line)
            tag.setColor(tag_fg)

    def move_to(self, bar: int, plot_index: int | None = None, y: float | None = None) -> None:
        """Put the crosshair on ``bar`` (what a mouse move does; used by tests and keys)."""
        if self._bars == 0:
            return
        bar = min(max(int(bar), 0), self._bars - 1)
        for v in self._vlines:
            v.set_value(bar)
            v.setVisible(True)
        self._place_time_tag(bar)
        for k, (h, tag) in enumerate(zip(self._hlines, self._tags)):
            show = k == plot_index and y is not None
            h.setVisible(show)
            tag.setVisible(show)
            if show:
                assert y is not None
                h.set_value(y)
                vb = self._plots[k].getViewBox()
                tag.setText(f"{y:,.{self._digits[k]}f}")
                tag.setPos(vb.viewRange()[0][1], y)
        if bar != self._bar:
            self._bar = bar
            self.moved.emit(bar)

    def _place_time_tag(self, bar: int) -> None:
        axis = self._time_axis
        if axis is None:
            return
        scene_x = self._plots[-1].getViewBox().mapViewToScene(QtCore.QPointF(bar, 0)).x()
        x = axis.mapFromScene(QtCore.QPointF(scene_x, 0)).x()
        self.time_tag.setText(self._time_label(bar))
        self.time_tag.setPos(x, 1.0)
        self.time_tag.setVisible(True)

    def hide(self) -> None:
        for item in self._vlines + self._hlines + self._tags + [self.time_tag]:
            item.setVisible(False)
        if self._bar != -1:
            self._bar = -1
            self.moved.emit(-1)

    def _mouse_moved(self, pos: QtCore.QPointF) -> None:
        for k, plot in enumerate(self._plots):
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                point = vb.mapSceneToView(pos)
                self.move_to(int(round(point.x())), k, point.y())
                return
        self.hide()

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Leave:
            self.hide()
        return False

