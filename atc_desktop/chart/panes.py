"""The three stacked panes (price, volume, Average_Signal) sharing one x axis, and the
items in them. Building, theming and the panes' geometry (row proportions, the legend
band at the top of each pane); the chart widget feeds data and drives the view.

Each pane's legend sits in a band at the top of the pane that its data never enters: the
view box clips its items below the band and the chart fits the y range under it, so
legends and the growth-factor banner never cover candles or lines.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from core.config import FAMILIES

from atc_desktop.chart.axis import BarTimeAxisItem, CompactAxisItem, PriceScaleAxisItem, ValueAxisItem
from atc_desktop.chart.pane_splitter import DEFAULT_PROPORTIONS, MIN_DATA_PX, normalised, row_heights
from atc_desktop.chart.candles_item import CandlesItem
from atc_desktop.chart.exposure import ChartView
from atc_desktop.chart.grid_item import GridItem
from atc_desktop.chart.level_line_item import LevelLineItem
from atc_desktop.chart.markers_item import MarkersItem
from atc_desktop.chart.theme import DARK, Theme
from atc_desktop.chart.trend_line_item import TrendLineItem
from atc_desktop.chart.volume_item import VolumeItem
from atc_desktop.chart.warmup_item import WarmupShadeItem

AXIS_WIDTH = 72            # the same right-axis width in every pane keeps the x axes aligned
SIGNAL_RANGE = (-1.2, 1.2)   # the signal pane's data range, below its legend band
LEGEND_POS = (6.0, 2.0)      # legend offset from the pane's top-left corner, pixels
BAND_GAP = 4.0               # free pixels between a legend and the data under it
MIN_LEGEND_WIDTH = 320.0     # narrower than this beside the banner: the banner goes below


class BandViewBox(pg.ViewBox):
    """A view box whose top ``band`` pixels hold the pane's legend: its items (data, grid,
    crosshair lines) are clipped to the part below the band."""

    def __init__(self) -> None:
        super().__init__(defaultPadding=0.0)
        self._band = 0.0

    @property
    def band(self) -> float:
        return self._band

    def set_band(self, px: float) -> bool:
        """Set the band height; True when it changed."""
        px = max(0.0, float(px))
        if px == self._band:
            return False
        self.prepareGeometryChange()
        self._band = px
        self.update()
        return True

    def data_height(self) -> float:
        """Pixels left for the data under the band."""
        return max(float(self.height()) - self._band, 1.0)

    def shape(self) -> QtGui.QPainterPath:
        rect = self.rect()
        rect.setTop(min(rect.top() + self._band, rect.bottom()))
        path = QtGui.QPainterPath()
        path.addRect(rect)
        return path

    def set_data_range(self, lo: float, hi: float) -> None:
        """Show y in [lo, hi] in the part below the band (the band's share is added above)."""
        h = self.height()
        top = hi
        if hi > lo and h - self._band >= 8:
            top = hi + (hi - lo) * self._band / (h - self._band)
        self.setYRange(lo, top, padding=0)

    def data_range(self) -> tuple[float, float]:
        """The y range shown below the band (inverse of ``set_data_range``)."""
        _, (lo, top) = self.viewRange()
        h = self.height()
        if h <= 0 or h - self._band < 8:
            return float(lo), float(top)
        return float(lo), float(top - (top - lo) * self._band / h)


def _plot(layout: pg.GraphicsLayout, row: int, bottom: pg.AxisItem | None = None,
          right: pg.AxisItem | None = None) -> pg.PlotItem:
    axis_items: dict[str, pg.AxisItem] = {}
    if bottom is not None:
        axis_items["bottom"] = bottom
    if right is not None:
        axis_items["right"] = right
    plot = layout.addPlot(row=row, col=0, axisItems=axis_items or None, viewBox=BandViewBox())
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


def _legend(plot: pg.PlotItem, justify: str = "left") -> pg.LabelItem:
    # A label in the pane's band, not in data coordinates: it stays put while the user
    # pans, and it is part of the scene, so PNG exports include it. Its parent is the plot,
    # not the view box, which clips its children below the band.
    label = pg.LabelItem(justify=justify)
    label.setParentItem(plot)
    label.setZValue(200)
    return label


def _text_size(label: pg.LabelItem) -> QtCore.QSizeF:
    size: QtCore.QSizeF = label.item.boundingRect().size()
    return size


def _wrap(label: pg.LabelItem, width: float) -> None:
    if label.item.textWidth() != width:
        label.item.setTextWidth(width)
        label.updateMin()


class ChartPanes:
    """Plots and items of the chart; ``view`` is the Qt widget to embed."""

    def __init__(self) -> None:
        self.view = ChartView()
        self.view.setAntialiasing(False)
        layout = self.view.ci
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        self.axis = BarTimeAxisItem()
        #: Called with a factor when the user drags the price axis, and with no argument
        #: (``on_price_auto``) on a double click; the chart widget sets both.
        self.on_price_scale: Callable[[float], None] = lambda factor: None
        self.on_price_auto: Callable[[], None] = lambda: None
        self.price_axis = PriceScaleAxisItem(lambda f: self.on_price_scale(f), lambda: self.on_price_auto())
        self.price = _plot(layout, 0, right=self.price_axis)
        self.volume = _plot(layout, 1, right=CompactAxisItem("right"))
        self.signal = _plot(layout, 2, self.axis, right=ValueAxisItem("right"))
        self._proportions: tuple[float, ...] = DEFAULT_PROPORTIONS
        layout.geometryChanged.connect(self.apply_row_heights)
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
        # Calibration: one family's nine members instead of the six family lines.
        self.member_lines: list[TrendLineItem] = [TrendLineItem(width=1.8 if k == 0 else 1.0)
                                                  for k in range(9)]
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
        for k, line in enumerate(self.member_lines):
            line.setVisible(False)
            line.setZValue(10 + k)
            self.price.addItem(line)
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
        # The growth warning sits in the price pane's band, top right (under the legend when
        # the pane is too narrow for both): PNG exports carry it.
        self.warning = _legend(self.price, "right")
        self.warning.setZValue(210)
        self.warning.setVisible(False)
        self._warning = ""
        self._members_of: str | None = None
        self.theme = DARK
        self.set_theme(DARK)

    @property
    def plots(self) -> list[pg.PlotItem]:
        return [self.price, self.volume, self.signal]

    @property
    def legends(self) -> list[pg.LabelItem]:
        return [self.price_legend, self.volume_legend, self.signal_legend]

    def view_box(self, index: int) -> BandViewBox:
        vb = self.plots[index].getViewBox()
        assert isinstance(vb, BandViewBox)
        return vb

    # -- geometry ----------------------------------------------------------------------------
    def proportions(self) -> tuple[float, ...]:
        """Share of the panes' height of price, volume and Average_Signal (sums to 1)."""
        return self._proportions

    def set_proportions(self, proportions: Sequence[float]) -> None:
        """New row proportions (ValueError unless three positive numbers), applied now."""
        self._proportions = normalised(proportions)
        self.apply_row_heights()

    def row_heights(self) -> list[int]:
        return [round(plot.geometry().height()) for plot in self.plots]

    def rows_in_view(self) -> list[tuple[float, float]]:
        """(top, bottom) of each row in the view's viewport pixels."""
        out = []
        for plot in self.plots:
            rect = self.view.mapFromScene(plot.sceneBoundingRect()).boundingRect()
            out.append((float(rect.top()), float(rect.bottom() + 1)))
        return out

    def minimum_heights(self) -> list[int]:
        """Smallest height of each row: its legend band, its bottom axis and a data area."""
        out = []
        for k, plot in enumerate(self.plots):
            axis = plot.getAxis("bottom")
            extra = axis.height() if axis.isVisible() else 0.0
            out.append(int(self.view_box(k).band + extra + MIN_DATA_PX[k]))
        return out

    def apply_row_heights(self) -> None:
        """Fix each row's height from the proportions (the layout's whole height is shared,
        so extra room goes to every pane in proportion)."""
        ci = self.view.ci
        _, top, _, bottom = ci.layout.getContentsMargins()
        total = int(ci.geometry().height() - top - bottom)
        if total <= 0:
            return
        grid = ci.layout
        heights = row_heights(total, self._proportions, self.minimum_heights())
        if [grid.rowPreferredHeight(r) for r in range(3)] != heights:
            # Preferred heights summing to the layout's height are what each row gets. No
            # minimum or maximum: those would stop the view from resizing the layout; a new
            # height shares out by the stretch factors until this runs again.
            for row, h in enumerate(heights):
                grid.setRowMinimumHeight(row, 0)
                grid.setRowPreferredHeight(row, h)
                grid.setRowStretchFactor(row, max(1, h))
            grid.activate()

    def layout_headers(self, grow_only: bool = False) -> bool:
        """Wrap each legend to its pane's width, place the growth banner beside the price
        legend (or under it when the pane is narrow) and size each pane's band to what it
        holds. ``grow_only`` keeps bands from shrinking (a crosshair move must not make the
        data jump). True when a band changed: the y ranges need fitting again."""
        changed = False
        warn = self.warning.isVisible()
        warn_size = _text_size(self.warning) if warn else QtCore.QSizeF(0, 0)
        for k, (plot, label) in enumerate(zip(self.plots, self.legends)):
            vb = self.view_box(k)
            box = vb.geometry()
            width = box.width() - 2 * LEGEND_POS[0]
            beside = warn and k == 0 and width - warn_size.width() - 12 >= MIN_LEGEND_WIDTH
            _wrap(label, max(60.0, width - (warn_size.width() + 12 if beside else 0.0)))
            label.setPos(box.left() + LEGEND_POS[0], box.top() + LEGEND_POS[1])
            bottom = LEGEND_POS[1] + _text_size(label).height() if label.text else 0.0
            if warn and k == 0:
                y = 4.0 if beside else bottom + 2.0
                self.warning.setPos(box.right() - 8 - warn_size.width(), box.top() + y)
                bottom = max(bottom, y + warn_size.height())
            band = bottom + BAND_GAP if bottom else 0.0
            if grow_only and band <= vb.band:
                continue
            changed = vb.set_band(band) or changed
        if changed:
            self.apply_row_heights()     # the rows' minimum heights follow their bands
        return changed

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
        self.show_members(self._members_of)
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

    def show_members(self, family: str | None) -> None:
        """Show the member lines in ``family``'s state colours instead of the six family
        lines (which the caller hides); None hides them."""
        self._members_of = family
        if family is not None:
            c = self.theme.family(family)
            for line in self.member_lines:
                line.set_colors((c.bull, c.bear, c.flat))
        for line in self.member_lines:
            line.setVisible(family is not None)

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
        self.layout_headers()

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
