"""The three stacked panes (price, volume, Average_Signal) sharing one x axis, and the
items in them. Building and theming only: the chart widget feeds data and drives the view."""
from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from core.config import FAMILIES

from atc_desktop.chart.axis import BarTimeAxisItem, CompactAxisItem
from atc_desktop.chart.candles_item import CandlesItem
from atc_desktop.chart.grid_item import GridItem
from atc_desktop.chart.level_line_item import LevelLineItem
from atc_desktop.chart.markers_item import MarkersItem
from atc_desktop.chart.theme import DARK, Theme
from atc_desktop.chart.trend_line_item import TrendLineItem
from atc_desktop.chart.volume_item import VolumeItem
from atc_desktop.chart.warmup_item import WarmupShadeItem

AXIS_WIDTH = 72            # the same right-axis width in every pane keeps the x axes aligned
ROW_STRETCH = (7, 2, 3)    # price, volume, Average_Signal
SIGNAL_RANGE = (-1.2, 1.45)   # headroom above +1 keeps the legend off the line


def _plot(layout: pg.GraphicsLayout, row: int, bottom: pg.AxisItem | None = None,
          right: pg.AxisItem | None = None) -> pg.PlotItem:
    axis_items: dict[str, pg.AxisItem] = {}
    if bottom is not None:
        axis_items["bottom"] = bottom
    if right is not None:
        axis_items["right"] = right
    plot = layout.addPlot(row=row, col=0, axisItems=axis_items or None)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.disableAutoRange()
    plot.setMouseEnabled(x=True, y=False)   # y is always fitted to the visible bars
    plot.hideAxis("left")
    plot.showAxis("right")
    plot.getAxis("right").setWidth(AXIS_WIDTH)
    plot.setClipToView(False)
    if bottom is None:
        plot.hideAxis("bottom")
    plot.getViewBox().setDefaultPadding(0.0)
    return plot


def _legend(plot: pg.PlotItem) -> pg.LabelItem:
    # A label pinned to the pane's top-left corner, not to data coordinates: it stays put
    # while the user pans, and it is part of the scene, so PNG exports include it.
    label = pg.LabelItem(justify="left")
    label.setParentItem(plot.getViewBox())
    label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(6, 2))
    label.setZValue(200)
    return label


class ChartPanes:
    """Plots and items of the chart; ``view`` is the Qt widget to embed."""

    def __init__(self) -> None:
        self.view = pg.GraphicsLayoutWidget()
        self.view.setAntialiasing(False)
        layout = self.view.ci
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        self.axis = BarTimeAxisItem()
        self.price = _plot(layout, 0)
        self.volume = _plot(layout, 1, right=CompactAxisItem("right"))
        self.signal = _plot(layout, 2, self.axis)
        for row, stretch in enumerate(ROW_STRETCH):
            layout.layout.setRowStretchFactor(row, stretch)
        self.volume.setXLink(self.price)
        self.signal.setXLink(self.price)
        self.signal.setYRange(*SIGNAL_RANGE, padding=0)
        self.volume.getAxis("right").setTicks(None)

        self.warmup_price = WarmupShadeItem(label=True)
        self.warmup_volume = WarmupShadeItem(label=False)
        self.warmup_signal = WarmupShadeItem(label=False)
        self.candles = CandlesItem()
        self.volume_bars = VolumeItem()
        self.ma_lines: dict[str, TrendLineItem] = {f: TrendLineItem(width=1.0) for f in FAMILIES}
        self.arrow_up = MarkersItem(up=True)
        self.arrow_down = MarkersItem(up=False)
        self.avg_line = TrendLineItem(width=1.0)
        self.alert_long = MarkersItem(up=True, size=8, offset=4)
        self.alert_short = MarkersItem(up=False, size=8, offset=4)
        self.last_price = LevelLineItem()
        self.last_tag = pg.TextItem(anchor=(1.0, 0.5))
        self.long_line = LevelLineItem()
        self.short_line = LevelLineItem()
        self.zero_line = LevelLineItem(0.0)

        self.price.addItem(self.warmup_price, ignoreBounds=True)
        self.price.addItem(self.candles)
        for f in FAMILIES:
            self.price.addItem(self.ma_lines[f])
        self.price.addItem(self.arrow_up)
        self.price.addItem(self.arrow_down)
        self.price.addItem(self.last_price, ignoreBounds=True)
        self.price.addItem(self.last_tag, ignoreBounds=True)
        self.last_tag.setZValue(90)
        self.volume.addItem(self.warmup_volume, ignoreBounds=True)
        self.volume.addItem(self.volume_bars)
        self.signal.addItem(self.warmup_signal, ignoreBounds=True)
        for line in (self.zero_line, self.long_line, self.short_line):
            self.signal.addItem(line, ignoreBounds=True)
        self.signal.addItem(self.avg_line)
        self.signal.addItem(self.alert_long)
        self.signal.addItem(self.alert_short)
        self.candles.setZValue(5)
        for i, f in enumerate(FAMILIES):
            self.ma_lines[f].setZValue(10 + i)
        for item in (self.arrow_up, self.arrow_down, self.alert_long, self.alert_short):
            item.setZValue(30)
        self.avg_line.setZValue(10)

        # Own grids (see grid_item): the axes draw none.
        self.grids = [GridItem(self.axis, plot.getAxis("right")) for plot in self.plots]
        for plot, grid in zip(self.plots, self.grids):
            plot.addItem(grid, ignoreBounds=True)

        self.price_legend = _legend(self.price)
        self.volume_legend = _legend(self.volume)
        self.signal_legend = _legend(self.signal)
        # The growth warning sits in the price pane's top-right corner: no relayout when it
        # comes and goes between symbols, and PNG exports carry it.
        self.warning = pg.LabelItem(justify="right")
        self.warning.setParentItem(self.price.getViewBox())
        self.warning.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-8, 4))
        self.warning.setZValue(210)
        self.warning.setVisible(False)
        self._warning = ""
        self.theme = DARK
        self.set_theme(DARK)

    @property
    def plots(self) -> list[pg.PlotItem]:
        return [self.price, self.volume, self.signal]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        t = theme
        self.view.setBackground(t.background)
        axis_pen = pg.mkPen(t.muted, width=1)
        font = QtGui.QFont()
        font.setPointSizeF(8.0)
        for plot in self.plots:
            for name in ("right", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(axis_pen)
                axis.setTextPen(pg.mkPen(t.axis))
                axis.setTickFont(font)
        for grid in self.grids:
            grid.set_color(t.foreground, t.grid_alpha * 0.6)
        self.candles.set_theme(t)
        self.volume_bars.set_theme(t)
        for f, line in self.ma_lines.items():
            c = t.family(f)
            line.set_colors((c.bull, c.bear, c.flat))
        self.avg_line.set_colors((t.bull, t.bear, t.neutral))
        self.avg_line.set_fill(0.0, 38)
        self.arrow_up.set_color(t.bull)
        self.alert_long.set_color(t.bull)
        self.arrow_down.set_color(t.bear)
        self.alert_short.set_color(t.bear)
        for shade in (self.warmup_price, self.warmup_volume, self.warmup_signal):
            shade.set_colors(t.warmup, t.muted)
        dash = QtCore.Qt.PenStyle.DashLine
        dot = QtCore.Qt.PenStyle.DotLine
        self.long_line.set_pen(t.threshold_long, dash)
        self.short_line.set_pen(t.threshold_short, dash)
        self.zero_line.set_pen(t.muted, dot)
        self.last_price.set_pen(t.muted, dot)
        self.last_tag.setColor(t.background)
        if getattr(self, "_warning", ""):
            self.set_warning(self._warning)

    def set_warning(self, text: str | None) -> None:
        """Show the growth-factor warning (spec §13.7), or hide it when ``text`` is None."""
        self._warning = text or ""
        t = self.theme
        if text:
            body = html.escape("⚠ " + text)
            self.warning.setText(f'<span style="background-color:{t.warning_bg};'
                                 f' color:{t.warning_fg}; font-weight:600;">&nbsp;{body}&nbsp;</span>',
                                 size="8.5pt")
        self.warning.setVisible(bool(text))

    def warning_text(self) -> str | None:
        return ("⚠ " + self._warning) if self._warning and self.warning.isVisible() else None

    def set_last_price(self, price: float, bull: bool | None, text: str) -> None:
        """The dotted last-close line and its tag (coloured by the last bar's trend)."""
        t = self.theme
        color = t.neutral if bull is None else t.bull if bull else t.bear
        self.last_price.set_value(price)
        self.last_tag.fill = pg.mkBrush(color)
        self.last_tag.border = pg.mkPen(color)
        self.last_tag.setText(text)
        self.last_tag.setColor(t.background if bull is not None else t.foreground)
        self.place_last_tag()

    def place_last_tag(self) -> None:
        (_, x1), _ = self.price.getViewBox().viewRange()
        self.last_tag.setPos(x1, self.last_price.value())
