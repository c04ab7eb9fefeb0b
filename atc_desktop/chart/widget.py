"""``ChartWidget``: one symbol's candles, volume, family MAs and Average_Signal with the
ATC's events, crosshair readout and Layer-1 weights table.

Layout: the panes share the height by draggable proportions; the readout and weights sit
under them in a splitter that keeps its height when the chart grows (extra room goes to
the panes); in a narrow chart the readout, which repeats the legends, steps aside. The
price axis can be dragged to scale the prices (double click: fit again). Calibration
shows one family's nine member MAs instead of the six family lines.

The app computes the full ATC (detail=True) off the GUI thread and passes it in; the
widget never computes indicator values. ``update_data`` is the live refresh: it rebuilds
only the geometry from the last bar on and keeps the user's view unless it showed the
latest bar, in which case it follows new bars.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from core.config import FAMILIES, ATCConfig
from core.types import ATCResult

from atc_desktop.chart import legend
from atc_desktop.chart.calibration import family_index, member_line
from atc_desktop.chart.data import BarsLike, ChartData, price_digits, sign_classes
from atc_desktop.chart.export import render_png, write_csv
from atc_desktop.chart.geometry import visible_bars
from atc_desktop.chart.crosshair import Crosshair
from atc_desktop.chart.pane_splitter import PaneSplitter
from atc_desktop.chart.panes import SIGNAL_RANGE, ChartPanes
from atc_desktop.chart.readout import ReadoutWidget
from atc_desktop.chart.theme import BULL, NEUTRAL, Theme, theme_named
from atc_desktop.chart.toolbar import ChartToolbar
from atc_desktop.chart.weights_table import WeightsTableWidget

DEFAULT_VISIBLE_BARS = 180
RIGHT_MARGIN_BARS = 5
MIN_VISIBLE_BARS = 12
ZOOM_STEP = 1.25
Y_PAD = 0.07   # fraction of the visible price range added above and below (room for ▲/▼)
#: Below this width the readout (which repeats the legends) is hidden for the weights.
READOUT_MIN_CHART_WIDTH = 900
#: The readout/weights panel takes at most this share of the chart's height by default,
#: and starts collapsed (a drag or the calibration view opens it) in a chart shorter than
#: BOTTOM_COLLAPSE_BELOW pixels, where every pixel of the panes counts.
BOTTOM_SHARE = 0.25
BOTTOM_COLLAPSE_BELOW = 480


class ChartWidget(QtWidgets.QWidget):
    """The chart of one symbol. See the module docstring; API documented per method."""

    interval_requested = Signal(str)
    bar_hovered = Signal(int)          # crosshair bar, −1 when the cursor left the chart
    layout_changed = Signal()          # the user moved a pane boundary or the bottom splitter

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._data: ChartData | None = None
        self._forming = False
        self._theme: Theme = theme_named("dark")
        self._digits = 2
        self._ma_visible = {f: True for f in FAMILIES}
        self._calibration: int | None = None
        self._price_manual: tuple[float, float] | None = None   # y range the user scaled to
        self._bottom_px: int | None = None                        # bottom panel height asked for
        self._bottom_placed = False                               # default height applied once shown
        #: Folder the export dialogs open in (the last one exported to).
        self.export_dir = ""
        #: A live tick's readout panel and weights table follow in the next pass of the
        #: event loop (one pending at a time): then the chart's paint and theirs are two short
        #: stretches of work, not one long one that holds up input.
        self._readouts_bar = -1
        self._readouts_timer = QtCore.QTimer(self)
        self._readouts_timer.setSingleShot(True)
        self._readouts_timer.setInterval(0)
        self._readouts_timer.timeout.connect(self._show_readouts)

        self.toolbar = ChartToolbar()
        self.panes = ChartPanes()
        self.readout = ReadoutWidget()
        self.weights = WeightsTableWidget()
        self.weights_title = QtWidgets.QLabel("Layer-1 weights")
        self.empty = QtWidgets.QLabel("Select a symbol to open its chart")
        self.empty.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)

        bottom = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(bottom)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(1)
        row.addWidget(self.readout, 0)
        table_box = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(table_box)
        col.setContentsMargins(6, 2, 2, 2)
        col.setSpacing(1)
        col.addWidget(self.weights_title)
        col.addWidget(self.weights)
        row.addWidget(table_box, 1)
        self._bottom = bottom
        self._table_box = table_box
        self._stack = QtWidgets.QStackedWidget()
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.panes.view)
        self._stack.setMinimumHeight(140)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.splitter.setObjectName("chartSplitter")
        self.splitter.addWidget(self._stack)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setCollapsible(0, False)
        self.splitter.setHandleWidth(5)
        self.splitter.splitterMoved.connect(self._bottom_moved)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)

        self.crosshair = Crosshair(self.panes.view, self.panes.plots, self.panes.axis)
        self.crosshair.moved.connect(self._crosshair_moved)
        self.crosshair.set_value_digits(2, 4)
        self.crosshair.set_time_labels(self._time_label)
        self.pane_splitter = PaneSplitter(self.panes.view.viewport(), self.panes.rows_in_view,
                                          self.panes.minimum_heights, self.panes.set_proportions)
        self.pane_splitter.changed.connect(lambda _p: self.layout_changed.emit())
        self.panes.price.getViewBox().sigXRangeChanged.connect(self._fit_y)
        for plot in self.panes.plots:
            plot.getViewBox().sigResized.connect(self._panes_resized)
        self.panes.on_price_scale = self.scale_prices
        self.panes.on_price_auto = self.fit_prices
        self.toolbar.interval_requested.connect(self.interval_requested)
        self.toolbar.ma_toggled.connect(self.set_ma_visible)
        self.toolbar.zoom_in_clicked.connect(self.zoom_in)
        self.toolbar.zoom_out_clicked.connect(self.zoom_out)
        self.toolbar.reset_clicked.connect(self.reset_view)
        self.toolbar.export_png_clicked.connect(lambda: self._ask_png(None))
        self.toolbar.export_png_sized.connect(lambda w, h: self._ask_png((w, h)))
        self.toolbar.export_csv_clicked.connect(self._ask_csv)
        self.toolbar.calibration_requested.connect(lambda fam: self.set_calibration(fam or None))
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.set_theme("dark")

    # -- data --------------------------------------------------------------------------------
    @property
    def data(self) -> ChartData | None:
        return self._data

    def set_data(self, bars: BarsLike, result: ATCResult, config: ATCConfig) -> None:
        """Show ``bars`` with their full ATC ``result`` (computed with detail=True).

        The view resets to the latest bars, except when the same symbol and interval are
        shown again (e.g. recomputed with new settings): then the user's view is kept.
        """
        old = self._data
        data = ChartData.build(bars, result, config)
        same = (old is not None and old.bars.symbol == bars.symbol
                and old.bars.interval == bars.interval and old.n == data.n
                and old.bars.timestamps[0] == bars.timestamps[0])
        keep = self.x_range() if same else None
        if not same:
            self._price_manual = None
        self._data = data
        self._digits = price_digits(np.asarray(bars.close))
        self.crosshair.set_value_digits(0, self._digits)
        p = self.panes
        b, r = bars, result
        p.candles.set_data(b.open, b.high, b.low, b.close, data.candle_classes())
        p.volume_bars.set_data(b.volume, np.asarray(b.close) >= np.asarray(b.open))
        for f, fam in enumerate(FAMILIES):
            p.ma_lines[fam].set_data(*data.base_ma(f))
        self._set_member_lines()
        p.avg_line.set_data(r.average_signal, sign_classes(r.average_signal))
        self._set_markers()
        for shade in (p.warmup_price, p.warmup_volume, p.warmup_signal):
            shade.set_bars(config.warmup_bars())
        p.long_line.set_value(config.long_threshold)
        p.short_line.set_value(config.short_threshold)
        p.axis.set_times(data.local_ns, data.intraday)
        self.weights.set_config(config)
        self._set_labels()
        self.crosshair.set_bars(data.n)
        p.price.getViewBox().setLimits(xMin=-RIGHT_MARGIN_BARS - 0.5, xMax=data.n - 0.5 + 3 * RIGHT_MARGIN_BARS,
                                       minXRange=MIN_VISIBLE_BARS)
        self._stack.setCurrentIndex(1)
        if keep is not None:
            self.set_x_range(*keep)
        else:
            self.reset_view()
        self._fit_y()
        self._show_bar(-1)

    def update_data(self, bars: BarsLike, result: ATCResult) -> None:
        """Live refresh: the forming bar changed and/or bars were appended.

        Geometry is rebuilt from the previous last bar on only; the view stays where the user
        put it, unless it showed the latest bar, in which case it scrolls with new bars.
        When the history window slid (its first bars dropped, so every ATC value may change,
        spec §10) the chart is rebuilt, with the view kept on the same timestamps.
        Another symbol or interval falls back to ``set_data``.
        """
        old = self._data
        if old is None:
            raise RuntimeError("update_data before set_data: the chart has no config yet")
        n_old, n = old.n, len(bars.close)
        ts_old, ts = np.asarray(old.bars.timestamps), np.asarray(bars.timestamps)
        if bars.symbol != old.bars.symbol or bars.interval != old.bars.interval:
            self.set_data(bars, result, old.config)
            return
        x0, x1 = self.x_range()
        follow = x1 >= n_old - 1          # the latest bar was on screen: keep it there
        if n < n_old or not np.array_equal(ts[:n_old - 1], ts_old[:n_old - 1]):
            self._rebuild_keeping_view(bars, result, (x0, x1), follow)
            return
        first = n_old - 1
        local = np.concatenate([old.local_ns[:first], ChartData.build_local(bars, first)])
        data = ChartData(bars, result, old.config, local)
        if data.result.mas is None:
            raise ValueError("the chart needs the full ATC computed with detail=True")
        self._data = data
        p = self.panes
        p.candles.update_tail(bars.open, bars.high, bars.low, bars.close, data.candle_classes(), first)
        p.volume_bars.update_tail(bars.volume, np.asarray(bars.close) >= np.asarray(bars.open), first)
        for f, fam in enumerate(FAMILIES):
            p.ma_lines[fam].update_tail(*data.base_ma(f), first)
        self._set_member_lines(first)
        p.avg_line.update_tail(result.average_signal, sign_classes(result.average_signal), first)
        self._set_markers()
        if n != n_old or ts[-1] != ts_old[-1]:
            p.axis.set_times(data.local_ns, data.intraday)
        if (data.source_label != old.source_label
                or result.growth_warning != old.result.growth_warning):
            self._set_labels()          # the same symbol and interval: only these can change
        if n != n_old:
            self.crosshair.set_bars(n)
            p.price.getViewBox().setLimits(xMax=n - 0.5 + 3 * RIGHT_MARGIN_BARS)
        if follow and n != n_old:
            self.set_x_range(x0 + (n - n_old), x1 + (n - n_old))
        self._fit_panes(live=True)
        self._show_bar(self.crosshair.bar, live=True)

    def _rebuild_keeping_view(self, bars: BarsLike, result: ATCResult,
                              view: tuple[float, float], follow: bool) -> None:
        """``set_data`` for a history that shifted under the chart: the old view's bars are
        found again by timestamp (or the view stays on the latest bar when it followed it)."""
        old = self._data
        assert old is not None
        ts_old, ts = np.asarray(old.bars.timestamps), np.asarray(bars.timestamps)
        self.set_data(bars, result, old.config)
        x0, x1 = view
        if follow:
            shift = (len(ts) - 1) - (len(ts_old) - 1)
        else:
            anchor = int(min(max(round(x0), 0), len(ts_old) - 1))
            shift = int(np.searchsorted(ts, ts_old[anchor])) - anchor
        self.set_x_range(x0 + shift, x1 + shift)

    def set_last_bar_forming(self, forming: bool) -> None:
        """Mark the last bar as still forming (spec §13.3) or closed."""
        self._forming = bool(forming)
        self.toolbar.set_forming(self._forming)
        self.panes.candles.set_forming(self._forming)
        self._show_bar(self.crosshair.bar)

    def set_intervals(self, intervals: list[str], current: str) -> None:
        """The intervals the provider allows; ``current`` is selected without a signal."""
        self.toolbar.set_intervals(intervals, current)

    # -- display options -------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        """"dark" or "light"."""
        t = self._theme = theme_named(name)
        self.panes.set_theme(t)
        self.toolbar.set_theme(t)
        self.readout.set_theme(t)
        self.weights.set_theme(t)
        self.crosshair.set_colors(t.crosshair, t.panel, t.foreground)
        self.setStyleSheet(f"ChartWidget, QStackedWidget {{ background: {t.background}; }}"
                           f" QSplitter#chartSplitter::handle {{ background: {t.panel}; }}")
        for w in (self._bottom, self._table_box):
            w.setStyleSheet(f"background: {t.panel};")
        self.weights_title.setStyleSheet(f"color: {t.muted}; font-weight: 600; font-size: 8.5pt;")
        self.empty.setStyleSheet(f"color: {t.muted}; background: {t.background};")
        self._show_bar(self.crosshair.bar)

    @property
    def theme(self) -> str:
        return self._theme.name

    def set_ma_visible(self, family: str, visible: bool) -> None:
        """Show or hide one family's base-length MA (its toolbar toggle follows)."""
        self._ma_visible[family] = bool(visible)
        self.panes.ma_lines[family].setVisible(bool(visible) and self._calibration is None)
        button = self.toolbar.ma_buttons[family]
        if button.isChecked() != bool(visible):
            button.setChecked(bool(visible))
        self._show_bar(self.crosshair.bar)

    def ma_visible(self, family: str) -> bool:
        return self._ma_visible[family]

    # -- calibration -------------------------------------------------------------------------
    @property
    def calibration(self) -> str | None:
        """The family shown member by member, or None (the six family lines)."""
        return None if self._calibration is None else FAMILIES[self._calibration]

    def set_calibration(self, family: str | None) -> None:
        """Show ``family``'s nine member MAs (coloured by their crossover states, its row of
        the weights table highlighted) instead of the six family lines; None goes back."""
        f = None if family is None else family_index(family)
        self._calibration = f
        p = self.panes
        for fam, line in p.ma_lines.items():
            line.setVisible(f is None and self._ma_visible[fam])
        self._set_member_lines()
        p.show_members(self.calibration)
        self.toolbar.set_calibration(self.calibration)
        self.weights.highlight_family(f)
        if f is not None and self.bottom_height() == 0 and self.isVisible():
            self._open_bottom()          # the highlighted weights are half of the view
        self._show_bar(self.crosshair.bar)
        self._fit_y()

    def _set_member_lines(self, first: int | None = None) -> None:
        """Feed the nine member lines of the calibrated family (from bar ``first`` on: a
        live update); nothing to do outside calibration."""
        d, f = self._data, self._calibration
        if d is None or f is None:
            return
        for k, line in enumerate(self.panes.member_lines):
            values, classes = member_line(d, f, k)
            if first is None or line.bars == 0:
                line.set_data(values, classes)
            else:
                line.update_tail(values, classes, first)

    def member_values(self, bar: int) -> np.ndarray:
        """The nine member MAs of the calibrated family at ``bar`` as drawn (for tests)."""
        return np.array([line.values[bar] for line in self.panes.member_lines])

    # -- layout ------------------------------------------------------------------------------
    def pane_proportions(self) -> tuple[float, ...]:
        return self.panes.proportions()

    def set_pane_proportions(self, proportions: Any) -> None:
        """Share of the height of price, volume and Average_Signal (ValueError when not three
        positive numbers)."""
        self.panes.set_proportions(proportions)

    def bottom_height(self) -> int:
        """Height of the readout/weights panel under the panes (0: collapsed)."""
        return self.splitter.sizes()[1]

    def asked_bottom_height(self) -> int | None:
        """The readout panel height the user chose (None: the default, never dragged)."""
        return self._bottom_px

    def set_bottom_height(self, px: int) -> None:
        """Ask for a readout/weights panel ``px`` high (0 collapses it); kept as the chart
        grows and shrinks."""
        self._bottom_px = max(0, int(px))
        self._apply_bottom()

    def _apply_bottom(self) -> None:
        total = sum(self.splitter.sizes())
        if total <= 0:
            return
        want = self._bottom_px
        if want is None:             # by default: its natural height, within a share of the chart
            want = 0 if total < BOTTOM_COLLAPSE_BELOW else min(self._bottom.sizeHint().height(),
                                                                int(total * BOTTOM_SHARE))
        if want > 0:
            want = max(want, self._bottom.minimumSizeHint().height())
        want = min(want, max(total - self._stack.minimumHeight(), 0))
        self.splitter.setSizes([total - want, want])

    def _open_bottom(self) -> None:
        total = sum(self.splitter.sizes())
        want = max(self._bottom.minimumSizeHint().height(),
                   min(self._bottom.sizeHint().height(), int(total * BOTTOM_SHARE)))
        self._bottom_px = want
        self.splitter.setSizes([max(total - want, 0), want])

    def _bottom_moved(self, _pos: int, _index: int) -> None:
        self._bottom_px = self.splitter.sizes()[1]
        self.layout_changed.emit()

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._bottom_placed:
            self._bottom_placed = True
            self._apply_bottom()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        wide = self.width() >= READOUT_MIN_CHART_WIDTH
        if self.readout.isHidden() == wide:
            self.readout.setVisible(wide)
        if self._bottom_px is None and self._bottom_placed:
            self._apply_bottom()         # the default follows the chart's height

    def _panes_resized(self, _vb: Any = None) -> None:
        if self.panes.layout_headers():
            self._fit_y()

    # -- price scale ---------------------------------------------------------------------------
    @property
    def price_autoscale(self) -> bool:
        """True while the price pane fits the visible bars (False once the user scaled it)."""
        return self._price_manual is None

    def price_range(self) -> tuple[float, float]:
        """The price range shown under the legend band."""
        return self.panes.view_box(0).data_range()

    def scale_prices(self, factor: float) -> None:
        """Stretch (factor < 1) or compress (factor > 1) the price scale about its middle;
        the pane stops fitting the visible bars until ``fit_prices``."""
        if self._data is None or not np.isfinite(factor) or factor <= 0:
            return
        lo, hi = self.price_range()
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * factor
        if half > 0:
            self._price_manual = (mid - half, mid + half)
            self._fit_y()

    def fit_prices(self) -> None:
        """Fit the price pane to the visible bars again (double click on the price axis)."""
        self._price_manual = None
        self._fit_y()

    # -- view --------------------------------------------------------------------------------
    def x_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.panes.price.getViewBox().viewRange()
        return float(x0), float(x1)

    def set_x_range(self, x0: float, x1: float) -> None:
        self.panes.price.getViewBox().setXRange(x0, x1, padding=0)

    def reset_view(self) -> None:
        """Show the latest ``DEFAULT_VISIBLE_BARS`` bars with a small margin on the right."""
        if self._data is None:
            return
        n = self._data.n
        self._price_manual = None
        self.set_x_range(max(-0.5, n - DEFAULT_VISIBLE_BARS - 0.5), n - 0.5 + RIGHT_MARGIN_BARS)
        self._fit_y()

    def zoom_in(self) -> None:
        self._zoom(1.0 / ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom(ZOOM_STEP)

    def _zoom(self, factor: float) -> None:
        if self._data is None:
            return
        x0, x1 = self.x_range()
        width = max(MIN_VISIBLE_BARS, (x1 - x0) * factor)
        if x1 >= self._data.n - 1:
            self.set_x_range(x1 - width, x1)    # anchored at the right edge, as on a live chart
        else:
            mid = (x0 + x1) / 2
            self.set_x_range(mid - width / 2, mid + width / 2)

    def _fit_y(self) -> None:
        """Fit the price and volume panes to the bars inside the visible x range."""
        self._fit_panes(live=False)

    def _fit_panes(self, live: bool) -> None:
        """``_fit_y``; ``live`` (a forming bar or new bars arrived) keeps a pane's scale while
        it still shows every visible bar and is at most ``LIVE_SLACK`` looser than a fit, and
        a refit then leaves ``LIVE_HEADROOM`` more room on the side the bars left: a price or
        volume trending tick by tick rescales its pane (a repaint of all of it) every few
        ticks instead of on every one."""
        if self._data is None:
            return
        p = self.panes
        x0, x1 = self.x_range()
        if self._price_manual is not None:
            p.view_box(0).set_data_range(*self._price_manual)
        else:
            lo, hi = p.candles.dataBounds(1, orthoRange=(x0, x1))
            if lo is not None and hi is not None:
                pad = max((hi - lo) * Y_PAD, abs(hi) * 1e-4)
                # Prices are positive: never show a negative price scale below them.
                floor = 0.0 if lo >= 0 else -math.inf
                _fit_pane(p.view_box(0), lo, hi, pad, floor, live)
        _, vmax = p.volume_bars.dataBounds(1, orthoRange=(x0, x1))
        top = vmax or 1.0
        _fit_pane(p.view_box(1), 0.0, top, top * 0.08, 0.0, live, pad_below=False)
        p.view_box(2).set_data_range(*SIGNAL_RANGE)
        p.place_last_tag()

    def visible_bar_range(self) -> tuple[int, int]:
        """[first, end) of the bars inside the view."""
        n = self._data.n if self._data is not None else 0
        return visible_bars(QtCore.QRectF(self.x_range()[0], 0, self.x_range()[1] - self.x_range()[0], 1), n, 0)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """←/→ step the crosshair bar by bar (Shift: 10 bars), Home/End jump, Esc leaves;
        +/− zoom, 0 resets the view."""
        d = self._data
        Key = QtCore.Qt.Key
        key = Key(event.key())
        if d is None:
            super().keyPressEvent(event)
            return
        step = 10 if event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier else 1
        bar = self.crosshair.bar if self.crosshair.bar >= 0 else d.n - 1
        if key in (Key.Key_Left, Key.Key_Right, Key.Key_Home, Key.Key_End):
            bar = {Key.Key_Left: bar - step, Key.Key_Right: bar + step,
                   Key.Key_Home: 0, Key.Key_End: d.n - 1}[key]
            bar = min(max(bar, 0), d.n - 1)
            self.crosshair.move_to(bar)
            x0, x1 = self.x_range()
            if not x0 <= bar <= x1:   # keep the bar on screen
                width = x1 - x0
                self.set_x_range(bar - width / 2, bar + width / 2)
        elif key == Key.Key_Escape:
            self.crosshair.hide()
        elif key in (Key.Key_Plus, Key.Key_Equal):
            self.zoom_in()
        elif key == Key.Key_Minus:
            self.zoom_out()
        elif key == Key.Key_0:
            self.reset_view()
        else:
            super().keyPressEvent(event)

    # -- readout -----------------------------------------------------------------------------
    def readout_at(self, i: int) -> dict[str, Any]:
        """Values the readout shows at bar ``i`` (−1 = last): time, OHLCV, Average_Signal, the
        six ``F_Signal`` and the six base MAs, under their spec names."""
        if self._data is None:
            raise RuntimeError("no data: call set_data first")
        return self._data.readout(i)

    def marker_bars(self) -> dict[str, np.ndarray]:
        """Bars carrying a marker: arrows ▲/▼ on the price pane, alerts on the signal pane."""
        p = self.panes
        return {"arrow_long": p.arrow_up.positions(), "arrow_short": p.arrow_down.positions(),
                "long": p.alert_long.positions(), "short": p.alert_short.positions()}

    def warmup_extent(self) -> tuple[int, int]:
        return self.panes.warmup_price.extent()

    def growth_warning_text(self) -> str | None:
        """The growth-factor warning on screen (spec §13.7), or None when none is shown."""
        return self.panes.warning_text()

    def _time_label(self, bar: int) -> str:
        d = self._data
        return d.format_time(bar) if d is not None and 0 <= bar < d.n else ""

    def _crosshair_moved(self, bar: int) -> None:
        self._show_bar(bar)
        self.bar_hovered.emit(bar)

    def _show_bar(self, bar: int, live: bool = False) -> None:
        """Legends, readout and weights at ``bar`` (−1: the last); ``live`` (a tick) leaves
        the readout and the weights to the next loop pass."""
        d = self._data
        if d is None:
            return
        i = d.n - 1 if bar < 0 or bar >= d.n else bar
        values = d.readout(i)
        t = self._theme
        p = self.panes
        _set_label(p.price_legend, legend.price_legend(d, values, t, self._digits, self._forming,
                                                       self._ma_visible, self._calibration), "8.5pt")
        _set_label(p.volume_legend, legend.volume_legend(values, t), "8pt")
        _set_label(p.signal_legend, legend.signal_legend(d, values, t), "8pt")
        if p.layout_headers(grow_only=bar >= 0):    # a hover never shrinks a band (no jumping)
            self._fit_y()
        self._readouts_bar = i
        if live:
            self._readouts_timer.start()
        else:
            self._readouts_timer.stop()
            self._show_readouts(values)

    def _show_readouts(self, values: dict[str, Any] | None = None) -> None:
        """Readout panel and weights at ``_readouts_bar``; ``values``: its readout, when
        the caller has it."""
        d = self._data
        if d is None:
            return
        i = min(self._readouts_bar, d.n - 1)
        if values is None:
            values = d.readout(i)
        last = i == d.n - 1
        title = ("Last bar" + (" (forming)" if self._forming else "")) if last else f"Bar {i}"
        prev = float(d.bars.close[i - 1]) if i > 0 else None
        self.readout.show_values(values, f"{title} · {values['time']}", self._digits, prev)
        self.weights.show_bar(d.member_equities(i), d.member_states(i))
        self.weights_title.setText(f"Layer-1 weights (member equities) at {values['time']}"
                                   + ("" if not last else " · last bar"))

    # -- labels, markers ---------------------------------------------------------------------
    def _set_markers(self) -> None:
        d = self._data
        assert d is not None
        r, b, p = d.result, d.bars, self.panes
        up, down = np.flatnonzero(r.arrow_long), np.flatnonzero(r.arrow_short)
        p.arrow_up.set_markers(up, np.asarray(b.low)[up])
        p.arrow_down.set_markers(down, np.asarray(b.high)[down])
        lg, sh = np.flatnonzero(r.long), np.flatnonzero(r.short)
        p.alert_long.set_markers(lg, r.average_signal[lg])
        p.alert_short.set_markers(sh, r.average_signal[sh])
        cls = int(d.candle_classes()[-1])
        close = float(b.close[-1])
        p.set_last_price(close, None if cls == NEUTRAL else cls == BULL, f"{close:,.{self._digits}f}")

    def _set_labels(self) -> None:
        d = self._data
        assert d is not None
        self.toolbar.set_labels(f"{d.bars.symbol} · {d.bars.interval}", d.source_label)
        self.toolbar.set_current_interval(d.bars.interval)
        self.toolbar.set_family_tooltip("HMA", legend.hma_legend(d.config))
        self.toolbar.ma_buttons["HMA"].setText("HMA*" if d.config.hma_kind == "hull" else "HMA")
        self.panes.set_warning(d.result.growth_warning)

    # -- export ------------------------------------------------------------------------------
    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write time, OHLCV and every ATC output (spec names, detail included) to CSV."""
        if self._data is None:
            raise RuntimeError("nothing to export: no data shown")
        return write_csv(path, self._data)

    def png_title(self) -> str:
        """The title line of a PNG export: symbol, interval, source, dates, what is drawn."""
        d = self._data
        if d is None:
            return ""
        lines = "six family MAs" if self._calibration is None else f"{self.calibration} members (calibration)"
        return (f"{d.bars.symbol} · {d.bars.interval} · {d.source_label} · "
                f"{d.format_time(0)} – {d.format_time(d.n - 1)} · ATC, {lines}")

    def export_png(self, path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> QtCore.QSize:
        """Save the chart panes (with their legends) under a title line as PNG, at the
        on-screen size (None) or ``size`` = (width, height) pixels; returns the image size."""
        if self._data is None:
            raise RuntimeError("nothing to export: no data shown")
        return render_png(self.panes, self.png_title(), self._theme, path, size, self._refit_for_render)

    def _refit_for_render(self) -> None:
        """The panes changed size for an export (or back): bands and y ranges follow."""
        self.panes.layout_headers()
        self._fit_y()

    def _ask_png(self, size: tuple[int, int] | None) -> None:
        self._ask_and_export("PNG image (*.png)", ".png", lambda path: self.export_png(path, size))

    def _ask_csv(self) -> None:
        self._ask_and_export("CSV file (*.csv)", ".csv", self.export_csv)

    def _ask_and_export(self, filt: str, suffix: str, export: Any) -> None:
        if self._data is None:
            return
        name = f"{self._data.bars.symbol}_{self._data.bars.interval}{suffix}"
        start = os.path.join(self.export_dir, name) if self.export_dir else name
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export chart", start, filt)
        if not path:
            return
        try:
            export(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(self, "Export failed", f"{path}: {exc}")
            return
        self.export_dir = os.path.dirname(os.path.abspath(path))


#: Live ticks: how much looser than a fit a pane's scale may be before it is refitted, and
#: the extra room (in pads) a refit leaves on the side the bars went past.
LIVE_SLACK = 1.25
LIVE_HEADROOM = 2.0


def _fit_pane(box: Any, lo: float, hi: float, pad: float, floor: float, live: bool,
              pad_below: bool = True) -> None:
    """Show [lo, hi] with ``pad`` around it (none below when not ``pad_below``), never
    below ``floor``; see ``ChartWidget._fit_panes`` for ``live``."""
    bottom = max(lo - pad, floor) if pad_below else lo
    top = hi + pad
    if live:
        cur_lo, cur_hi = box.data_range()
        fits = cur_lo <= lo and hi <= cur_hi
        if fits and cur_hi - cur_lo <= LIVE_SLACK * (top - bottom):
            return
        if hi > cur_hi:
            top += LIVE_HEADROOM * pad
        if lo < cur_lo and pad_below:
            bottom = max(bottom - LIVE_HEADROOM * pad, floor)
    box.set_data_range(bottom, top)


def _set_label(label: pg.LabelItem, html: str, size: str) -> None:
    """Set a legend's text unless it is already shown: re-laying out rich text costs about a
    millisecond, and a live tick re-shows the same bar's legend when the crosshair rests on
    a closed bar."""
    if label.text != html or label.opts.get("size") != size:
        label.setText(html, size=size)
