"""The main window: docks for the watchlist, the chart, settings/backends, log and alerts;
menus, toolbar and shortcuts; the status bar; layout saved and restored.

Layout: the window fits 1024 pixels wide (status texts elide, the chart folds optional
controls); when it grows or shrinks, the watchlist keeps its width and the log/alerts
strip its height, so the change goes to the chart. The last charted symbol, the CSV
folder, the export folder and the chart's pane proportions come back on restart."""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox,
    QStyle, QSystemTrayIcon, QTableView, QTabWidget, QWidget,
)

from atc_desktop.alert_menu import AlertMenu
from atc_desktop.chart.export import PNG_SIZES, size_label
from atc_desktop.chart_dock import ChartPane
from atc_desktop.data_status import CompileIndicator, ProblemBanner, with_banner
from atc_desktop.elided_label import ElidedLabel
from atc_desktop.export import write_watchlist_csv
from atc_desktop.guard import error_sink, guarded
from atc_desktop.icon import app_icon
from atc_desktop.layout_state import (
    LAYOUT_VERSION, restore_geometry, restore_layout, save_layout, saved_view_state,
)
from atc_desktop.log_dock import LogWidget, QtLogHandler
from atc_desktop.screening import ScreenOutcome
from atc_desktop.session import AppSession
from atc_desktop.settings.backends_view import BackendsView
from atc_desktop.settings.panel import SettingsPanel
from atc_desktop.theme import THEMES, apply_theme
from atc_desktop.watchlist.symbol_entry import install_symbol_entry
from atc_desktop.watchlist.view import WatchlistWidget

log = logging.getLogger("atc_desktop")

DockArea = Qt.DockWidgetArea
#: Default share of the window's width for the watchlist, and its largest default width.
WATCHLIST_SHARE, WATCHLIST_MAX_PX = 0.32, 520
#: Default share of the window's height for the log/alerts strip, and its smallest height.
LOG_SHARE, LOG_MIN_PX = 0.14, 90


class MainWindow(QMainWindow):
    """A view over :class:`AppSession`; every slot is guarded."""

    def __init__(self, session: AppSession, log_handler: QtLogHandler | None = None) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("mainWindow")
        self.setWindowTitle("ATC Desktop — Adaptive Trend Classification monitor")
        self.setWindowIcon(app_icon())
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self._csv_folder = ""
        self._own_handler = log_handler is None
        self.log_handler = log_handler or QtLogHandler()
        if self._own_handler:                 # no app.main(): show the root logger's records
            logging.getLogger().addHandler(self.log_handler)
            if logging.getLogger().level > logging.INFO:
                logging.getLogger().setLevel(logging.INFO)
        self._build_docks()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self.apply_theme(session.settings.theme)
        self._default_state = QByteArray()
        self._arranged = False
        self.layout_ready = False
        # Sizes the user gave the watchlist (width) and the log strip (height): a window
        # resize keeps them and gives the difference to the chart.
        self._kept_width: int | None = None
        self._kept_height: int | None = None
        self._sized_for = self.size()
        for dock in (self.watchlist_dock, self.log_dock, self.alerts_dock):
            dock.installEventFilter(self)
        restore_geometry(self, session.paths.layout_file)
        self._tray = self._make_tray()

    # -- building -----------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        s = self.session
        self.watchlist = WatchlistWidget(s.model, self)
        self.watchlist.set_lists(s.watchlists.names(), s.watchlists.active)
        self.chart_pane = ChartPane(self)
        s.analysis.attach_chart(self.chart_pane.chart)   # created on first use
        self.settings_panel = SettingsPanel(s.settings, s.registry.names, [s.settings.interval], self)
        self.backends = BackendsView(self)
        self.backends.set_fallbacks(s.registry.fallbacks())
        self.settings_tabs = QTabWidget(self)
        self.settings_tabs.addTab(self.settings_panel, "Parameters")
        self.settings_tabs.addTab(self.backends, "Backends")
        self.log_widget = LogWidget(self.log_handler, self)
        self.alerts_table = QTableView(self)
        self.alerts_table.setObjectName("alertsTable")
        self.alerts_table.setModel(s.alerts.model)
        self.alerts_table.verticalHeader().setVisible(False)
        self.alerts_table.horizontalHeader().setStretchLastSection(True)

        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.problem_banner = ProblemBanner(self)
        self.watchlist_dock = self._dock("Watchlist", "watchlistDock",
                                         with_banner(self.watchlist, self.problem_banner), left)
        self.chart_dock = self._dock("Chart", "chartDock", self.chart_pane, right)
        self.settings_dock = self._dock("Settings and backends", "settingsDock", self.settings_tabs, right)
        self.log_dock = self._dock("Log", "logDock", self.log_widget, bottom)
        self.alerts_dock = self._dock("Alerts", "alertsDock", self.alerts_table, bottom)
        self.resize(1440, 900)

    def _arrange_default(self) -> None:
        """Chart and settings share a tab group, log and alerts another; watchlist ~45 % of
        the width, log a short strip. Done once the window is shown: tabifying earlier
        leaves a stray second tab bar (Qt 6.12), and dock sizes need the window's size."""
        self.tabifyDockWidget(self.chart_dock, self.settings_dock)
        self.tabifyDockWidget(self.log_dock, self.alerts_dock)
        self.chart_dock.raise_()
        self.log_dock.raise_()

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setStatusTip(tip or text)
        act.triggered.connect(slot)
        self.addAction(act)              # shortcuts work whichever dock has the focus
        return act

    def _build_actions(self) -> None:
        w, s = self.watchlist, self.session
        K = QKeySequence.StandardKey
        self.act_add = self._action("&Add symbol…", w.focus_add_field, "Ctrl+N", "add a symbol to the watchlist")
        self.act_remove = self._action("&Remove symbol", w.remove_selected, K.Delete, "remove the selected symbols")
        self.act_undo, self.act_redo = s.undo.actions(self)
        self.act_refresh = self._action("Refresh &now", lambda: s.refresh.request(fetch=True), K.Refresh,
                                        "fetch new bars and screen the watchlist now")
        self.act_chart = self._action("&Open chart", w.open_current_chart, "Ctrl+O", "chart the current symbol")
        self.act_up = self._action("Move &up", lambda: w.move_current(-1), "Alt+Up")
        self.act_down = self._action("Move do&wn", lambda: w.move_current(1), "Alt+Down")
        self.act_zoom_in = self._action("Zoom &in", lambda: self._chart_call("zoom_in"), K.ZoomIn)
        self.act_zoom_out = self._action("Zoom &out", lambda: self._chart_call("zoom_out"), K.ZoomOut)
        self.act_reset = self._action("&Reset view", lambda: self._chart_call("reset_view"), "Ctrl+0")
        self.act_export_list = self._action("Export &watchlist to CSV…", self.export_watchlist, "Ctrl+E")
        self.act_export_csv = self._action("Export chart &data to CSV…", self.export_chart_csv, "Ctrl+Shift+E")
        self.act_export_png = self._action("Export chart as &PNG…", lambda: self.export_chart_png(),
                                           "Ctrl+Shift+P", "save the chart at its on-screen size")
        self.act_parity = self._action("&Compare with TradingView export…",
                                       lambda: self.compare_with_tradingview(),
                                       tip="compare our numbers with a chart-data CSV exported from TradingView")
        self.act_sweep = self._action("Parameter &sweep…", self.show_sweep,
                                      tip="backtest a grid of parameters on the watchlist or a "
                                          "universe, here or on a Dask cluster")
        self.act_quit = self._action("&Quit", self.close, K.Quit)
        self.act_reset_layout = self._action("Reset &layout", self.reset_layout)

        menu = self.menuBar()
        f = menu.addMenu("&File")
        for a in (self.act_export_list, self.act_export_csv, self.act_export_png):
            f.addAction(a)
        sized = f.addMenu("Export chart as PNG &at")
        for size in PNG_SIZES:
            sized.addAction(size_label(size) + "…", self._export_png_at(size))
        f.addSeparator()
        f.addAction(self.act_quit)
        wl = menu.addMenu("&Watchlist")
        for a in (self.act_add, self.act_remove, self.act_undo, self.act_redo, self.act_up, self.act_down,
                  self.act_refresh, self.act_chart):
            wl.addAction(a)
        wl.addSeparator()
        wl.addAction("New watchlist…", self.new_list)
        wl.addAction("Rename watchlist…", self.rename_list)
        wl.addAction("Delete watchlist", self.delete_list)
        ch = menu.addMenu("&Chart")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_reset):
            ch.addAction(a)
        ch.addSeparator()
        ch.addAction(self.act_parity)
        ch.addAction(self.act_sweep)
        view = menu.addMenu("&View")
        for dock in (self.watchlist_dock, self.chart_dock, self.settings_dock, self.log_dock, self.alerts_dock):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            act = QAction(f"{name.title()} theme", self, checkable=True)
            act.triggered.connect(lambda _c=False, n=name: self.apply_theme(n))
            group.addAction(act)
            view.addAction(act)
            self.theme_actions[name] = act
        view.addSeparator()
        view.addAction(self.act_reset_layout)
        menu.addMenu("&Help").addAction("&About ATC Desktop", self.about)

        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        for a in (self.act_refresh, self.act_add, self.act_remove, self.act_chart):
            bar.addAction(a)
        bar.addSeparator()
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_reset):
            bar.addAction(a)


    def _export_png_at(self, size: tuple[int, int]) -> Callable[[], None]:
        return lambda: self.export_chart_png(size)
    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        # Elided, not wrapped or clipped: the status bar must not set the window's width.
        self.source_badge = ElidedLabel("", self, min_chars=12)
        self.source_badge.setObjectName("sourceBadge")
        self.backend_label = ElidedLabel("backends: probing…", self, min_chars=8)
        self.refresh_label = ElidedLabel("waiting for the first refresh", self, min_chars=12)
        self.error_badge = QLabel("", self)
        self.error_badge.setObjectName("errorBadge")
        self.compile_indicator = CompileIndicator(self.session.kernels, self)
        sb.addWidget(self.compile_indicator)
        for w in (self.error_badge, self.refresh_label, self.backend_label, self.source_badge):
            sb.addPermanentWidget(w)
        self._show_source()
        self.session.live.state_changed.connect(self._show_source)

    def _connect(self) -> None:
        s, w = self.session, self.watchlist
        w.add_requested.connect(s.add_symbol)
        w.remove_requested.connect(s.remove_symbols)
        w.move_requested.connect(s.move_symbol)
        w.list_switched.connect(s.switch_list)
        w.list_new_requested.connect(self.new_list)
        w.list_rename_requested.connect(self.rename_list)
        w.list_delete_requested.connect(self.delete_list)
        w.symbol_selected.connect(self._symbol_selected)
        w.chart_requested.connect(self._chart_requested)
        self.symbol_completer = install_symbol_entry(w.add_field, s)
        self.alert_menus = (
            AlertMenu(w.table, s.alerts, w.proxy.source_symbol, [self.act_chart, self.act_remove, self.act_undo]),
            AlertMenu(self.alerts_table, s.alerts, lambda row: s.alerts.model.alert(row).symbol))
        s.add_failed.connect(self._add_failed)
        s.symbol_added.connect(self._symbol_added)
        s.lists_changed.connect(lambda: w.set_lists(s.watchlists.names(), s.watchlists.active))
        s.backends_probed.connect(self._backends_probed)
        s.backends_probe_failed.connect(self.backends.set_status_error)
        s.fallbacks.fallback_recorded.connect(self._fallback)
        self.backends.reprobe_requested.connect(lambda: s.probe_backends(again=True))
        self.settings_panel.settings_changed.connect(s.apply_settings)
        s.settings_applied.connect(lambda _n: self._show_source())
        s.refresh.refreshed.connect(self._refreshed)
        s.refresh.refresh_failed.connect(lambda m: self._problem(f"refresh failed: {m}"))
        s.refresh.provider_changed.connect(self._provider_changed)
        s.analysis.started.connect(self.chart_pane.show_busy)
        s.analysis.analysed.connect(self.chart_pane.show_result)
        s.analysis.analysis_failed.connect(self._analysis_failed)
        s.alerts.alert_raised.connect(lambda a: self.statusBar().showMessage("ALERT: " + a.message(), 15000))
        self.chart_pane.interval_requested.connect(s.analysis.set_interval)
        error_sink().error_reported.connect(self._problem)
        s.intervals_known.connect(self._intervals_known)

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            log.info("no system tray here: alerts go to the log, the status bar and the alerts table")
            return None
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip("ATC Desktop")
        tray.show()
        self.session.alerts.set_notifier(tray)
        return tray

    # -- slots --------------------------------------------------------------------------------
    @guarded
    def _symbol_selected(self, symbol: str) -> None:
        if symbol != self.session.analysis.symbol:
            self.session.analysis.show(symbol)

    @guarded
    def _chart_requested(self, symbol: str) -> None:
        self.chart_dock.show()
        self.chart_dock.raise_()
        if symbol != self.session.analysis.symbol:
            self.session.analysis.show(symbol)

    def _add_failed(self, message: str) -> None:
        self.watchlist.show_add_error(message)
        self.statusBar().showMessage(message, 8000)

    def _symbol_added(self, symbol: str) -> None:
        self.watchlist.clear_add_field()
        self.statusBar().showMessage(f"{symbol} added", 4000)

    def _backends_probed(self, rows: list[Any]) -> None:
        self.backends.set_status(rows, self.session.settings.backend)
        active = next((r.name for r in rows if r.active), "none")
        self.backend_label.setText(f"full ATC: {active}")

    @guarded
    def _intervals_known(self, intervals: list[Any]) -> None:
        self.settings_panel.set_intervals(intervals)
        self.chart_pane.set_intervals(intervals, self.session.analysis.current_interval())

    def _fallback(self, event: Any) -> None:
        self.backends.add_fallback(event)
        self.statusBar().showMessage(f"backend {event.backend} failed → {event.fallback_to}: "
                                     f"{event.reason}", 10000)

    def _refreshed(self, out: ScreenOutcome) -> None:
        n_err = sum(1 for r in out.rows if r.error)
        n_stale = sum(1 for r in out.rows if r.stale and not r.error)
        when = time.strftime("%H:%M:%S")
        self.refresh_label.setText(f"refreshed {when} · {len(out.rows)} symbols · screening on "
                                   f"{out.backend or '—'} in {out.compute_s * 1e3:.0f} ms")
        self.refresh_label.setToolTip("; ".join(out.notes))
        parts = [f"{n_err} error{'s' if n_err != 1 else ''}" if n_err else "",
                 f"{n_stale} stale" if n_stale else ""]
        self.error_badge.setText(" · ".join(p for p in parts if p))
        if out.error:
            self._problem(out.error)
        if s := self.session.refresh.provider_problem:
            self.refresh_label.setText(f"⚠ {s}")

    def _provider_changed(self, problem: str, detail: str) -> None:
        self.problem_banner.show_problem(problem, detail)
        self._show_source()

    def _analysis_failed(self, symbol: str, message: str) -> None:
        self.chart_pane.show_error(symbol, message)
        self._problem(f"chart of {symbol}: {message}")

    def _problem(self, message: str) -> None:
        self.statusBar().showMessage("⚠ " + message, 12000)

    def _show_source(self, *_: object) -> None:
        s = self.session.settings
        quotes = {"live": " · quotes live", "connecting": " · quotes connecting…",
                  "polling": " · polling (quote stream reconnecting)",
                  "replay": " · forming bar replayed"}.get(self.session.live.state, "")
        label = f"{s.source} (not answering)" if self.session.refresh.provider_problem else s.source_label
        self.source_badge.setText(f"Data: {label}{quotes}")
        self.source_badge.setToolTip(
            "bundled and synthetic data are not live market data" if s.source != "yahoo" else
            "live: quotes stream into the forming bar; polling: the stream is down and bars "
            "arrive with each history refresh")

    def _chart_call(self, name: str) -> None:
        if self.chart_pane.has_chart:
            getattr(self.chart_pane.chart(), name)()

    # -- theme, lists, export -----------------------------------------------------------------
    @guarded
    def apply_theme(self, name: str) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme = apply_theme(app, name)
        self.session.model.set_tone_colors(theme.tones())
        self.log_widget.set_level_colors(theme.tones()["warn"], theme.tones()["error"])
        self.chart_pane.set_theme(name)
        self.theme_actions[name].setChecked(True)
        self.session.set_theme(name)

    @guarded
    def new_list(self) -> None:
        name, ok = QInputDialog.getText(self, "New watchlist", "Name:")
        if ok and name.strip():
            self._list_call(self.session.create_list, name)

    @guarded
    def rename_list(self) -> None:
        name, ok = QInputDialog.getText(self, "Rename watchlist", "New name:",
                                        text=self.session.watchlists.active)
        if ok and name.strip():
            self._list_call(self.session.rename_list, name)

    @guarded
    def delete_list(self) -> None:
        name = self.session.watchlists.active
        if QMessageBox.question(self, "Delete watchlist", f"Delete the watchlist {name!r}?") \
                == QMessageBox.StandardButton.Yes:
            self._list_call(self.session.delete_list)

    def _list_call(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except (ValueError, KeyError) as exc:
            QMessageBox.warning(self, "Watchlist", str(exc))

    @guarded
    def export_watchlist(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export watchlist",
                                                  self._in_export_dir(f"{self.session.watchlists.active}.csv"),
                                                  "CSV (*.csv)")
        if path:
            n = write_watchlist_csv(path, self.session.model.states())
            self.chart_pane.export_dir = os.path.dirname(os.path.abspath(path))
            self.statusBar().showMessage(f"{n} rows written to {path}", 6000)

    def _in_export_dir(self, name: str) -> str:
        folder = self.chart_pane.export_dir
        return os.path.join(folder, name) if folder else name

    @guarded
    def export_chart_csv(self) -> None:
        self._export_chart("export_csv", "CSV (*.csv)", ".csv")

    @guarded
    def export_chart_png(self, size: tuple[int, int] | None = None) -> None:
        """PNG of the chart under its title line, at the on-screen size or ``size``."""
        self._export_chart("export_png", "PNG image (*.png)", ".png", size)

    def _export_chart(self, method: str, filt: str, suffix: str, *args: Any) -> None:
        out = self.session.analysis.last_outcome
        if out is None or not self.chart_pane.has_chart:
            self._problem("nothing to export: select a symbol first")
            return
        chart = self.chart_pane.chart()
        name = f"{out.request.symbol}_{out.request.interval}{suffix}"
        path, _ = QFileDialog.getSaveFileName(self, "Export chart", self._in_export_dir(name), filt)
        if path:
            getattr(chart, method)(path, *args)
            self.chart_pane.export_dir = os.path.dirname(os.path.abspath(path))
            self.statusBar().showMessage(f"chart written to {path}", 6000)

    @guarded
    def compare_with_tradingview(self, path: str | None = None) -> None:
        """Chart → Compare with TradingView export… (the dialog runs `atc parity`'s comparison)."""
        from atc_desktop.chart.parity_dialog import compare_with_export

        dialog = compare_with_export(self, path)
        if dialog is not None:
            self.parity_dialog = dialog

    sweep_window: QWidget | None = None

    def show_sweep(self) -> None:
        """Chart → Parameter sweep…: the Sweep panel in its own window, made on first use
        (it never touches the dock layout) and closed with the main window."""
        if self.sweep_window is None:
            from atc_desktop.sweep_panel import panel_for_session

            self.sweep_window = panel_for_session(self.session, self)
            self.sweep_window.setWindowFlag(Qt.WindowType.Window)
            self.sweep_window.setWindowTitle("Parameter sweep — ATC Desktop")
            self.sweep_window.resize(1100, 760)
        self.sweep_window.show()
        self.sweep_window.raise_()
        self.sweep_window.activateWindow()

    def about(self) -> None:
        QMessageBox.about(self, "ATC Desktop",
                          "Adaptive Trend Classification monitor.\nScreening: EMA-only ATC (numba); "
                          "chart: full ATC on the preferred backend.\nBundled data are historical "
                          "(2000–2013), replayed one day per refresh; synthetic data are random walks.")

    # -- layout -------------------------------------------------------------------------------
    def save_layout(self) -> None:
        save_layout(self, self.session.paths.layout_file)

    def restore_layout(self) -> bool:
        """Dock arrangement and column state of the last session; False when none."""
        return restore_layout(self, self.session.paths.layout_file)

    @guarded
    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._arranged:
            self._arranged = True
            self._arrange_default()
            # Dock sizes take effect once the shown window has laid itself out.
            QTimer.singleShot(0, self._finish_arranging)

    def _finish_arranging(self) -> None:
        width, height = self.width(), self.height()
        list_width = min(int(width * WATCHLIST_SHARE), WATCHLIST_MAX_PX)
        self.resizeDocks([self.watchlist_dock, self.chart_dock], [list_width, width - list_width],
                         Qt.Orientation.Horizontal)
        log_height = max(LOG_MIN_PX, int(height * LOG_SHARE))
        # Without a central widget Qt only honours a vertical size given against a neighbour.
        self.resizeDocks([self.watchlist_dock, self.log_dock], [height - log_height, log_height],
                         Qt.Orientation.Vertical)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.restore_layout()
        self.restore_view_state()
        self._sized_for = self.size()
        self.layout_ready = True
        # The arrangement settles on the next turn: remember it as the user's sizes then.
        QTimer.singleShot(0, self._remember_dock_sizes)

    # -- giving a resize to the chart -----------------------------------------------------------
    def _side_dock(self) -> QDockWidget | None:
        """The docked, visible dock beside the watchlist (the chart or its tab mate)."""
        wl_area = self.dockWidgetArea(self.watchlist_dock)
        for dock in (self.chart_dock, self.settings_dock):
            area = self.dockWidgetArea(dock)
            if (dock.isVisible() and not dock.isFloating() and area != wl_area
                    and area in (DockArea.LeftDockWidgetArea, DockArea.RightDockWidgetArea)):
                return dock
        return None

    def _bottom_dock(self) -> QDockWidget | None:
        for dock in (self.log_dock, self.alerts_dock):
            if (dock.isVisible() and not dock.isFloating()
                    and self.dockWidgetArea(dock) == DockArea.BottomDockWidgetArea):
                return dock
        return None

    def _watchlist_docked(self) -> bool:
        wl = self.watchlist_dock
        return (wl.isVisible() and not wl.isFloating()
                and self.dockWidgetArea(wl) in (DockArea.LeftDockWidgetArea, DockArea.RightDockWidgetArea))

    def _remember_dock_sizes(self) -> None:
        self._kept_width = self.watchlist_dock.width() if self._watchlist_docked() else None
        bottom = self._bottom_dock()
        self._kept_height = bottom.height() if bottom is not None else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # A dock resized while the window keeps its size is the user's doing (a separator
        # dragged, a dock shown or moved): remember it. Resizes from a window resize are not.
        if (event.type() == QEvent.Type.Resize and self.layout_ready
                and self.size() == self._sized_for):
            self._remember_dock_sizes()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if not self.layout_ready:
            return
        self._sized_for = self.size()
        side, bottom = self._side_dock(), self._bottom_dock()
        middle = [d for d in (self.watchlist_dock if self._watchlist_docked() else None, side) if d is not None]
        if self._kept_width and side is not None and self._watchlist_docked():
            total = self.watchlist_dock.width() + side.width()
            self.resizeDocks([self.watchlist_dock, side], [self._kept_width, max(total - self._kept_width, 1)],
                             Qt.Orientation.Horizontal)
        if self._kept_height and bottom is not None and middle:
            # Without a central widget Qt gives a taller window to the bottom area and reads
            # resizeDocks' sizes as area heights (tab bar included) that must add up to the
            # whole: hand it exact areas for the middle row and the bottom strip.
            sep = self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent, None, self)
            floor = self.statusBar().y() if self.statusBar().isVisible() else self.height()
            middle_h = bottom.y() - sep - min(d.y() for d in middle)
            bottom_h = floor - bottom.y()
            want = bottom_h - (bottom.height() - self._kept_height)
            if want != bottom_h and want > 0 and middle_h + bottom_h - want > 0:
                grown = middle_h + bottom_h - want
                self.resizeDocks([*middle, bottom], [grown] * len(middle) + [want], Qt.Orientation.Vertical)

    # -- view state kept across sessions --------------------------------------------------------
    def view_state(self) -> dict[str, str]:
        """What ``layout_state`` saves beside the layout (strings; '' saves nothing)."""
        proportions, bottom = self.chart_pane.chart_layout()
        csv_folder = self.settings_panel.csv_dir.text().strip() or self._csv_folder
        return {"last_symbol": self.session.analysis.symbol or "",
                "csv_folder": csv_folder,
                "export_dir": self.chart_pane.export_dir,
                "pane_proportions": ",".join(f"{p:.4f}" for p in proportions) if proportions else "",
                "chart_bottom_px": "" if bottom is None else str(bottom)}

    def restore_view_state(self) -> None:
        """Bring back the last session's view state; a damaged entry is logged and skipped."""
        saved = saved_view_state(self.session.paths.layout_file)
        self._csv_folder = saved.get("csv_folder", "")
        if self._csv_folder and not self.settings_panel.csv_dir.text().strip():
            # The folder stays on offer after the source was switched away from CSV.
            self.settings_panel.csv_dir.setText(self._csv_folder)
        self.chart_pane.export_dir = saved.get("export_dir", "")
        try:
            proportions = tuple(float(v) for v in saved["pane_proportions"].split(",")) \
                if saved.get("pane_proportions") else None
            bottom = int(saved["chart_bottom_px"]) if saved.get("chart_bottom_px") else None
            self.chart_pane.restore_chart_layout(proportions, bottom)
        except ValueError as exc:
            log.warning("saved chart layout ignored: %s", exc)
        symbol = saved.get("last_symbol", "")
        if symbol and self.session.model.row_of(symbol) >= 0:
            self.watchlist.select_symbol(symbol)          # charts it, as a click would

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        try:
            self.save_layout()
        except Exception as exc:        # a read-only profile must not block quitting
            log.error("cannot save the layout: %s", exc)
        self.session.shutdown()
        if self._own_handler:
            logging.getLogger().removeHandler(self.log_handler)
        if self._tray is not None:
            self._tray.hide()
        super().closeEvent(event)

    def start(self) -> None:
        """Begin refreshing once the window is on screen."""
        QTimer.singleShot(0, self.session.start)
