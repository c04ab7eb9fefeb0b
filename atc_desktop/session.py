"""Everything the window shows, without the window: settings, watchlists, the model, the
data service, the refresh and chart controllers, alerts and the registry bridge."""
from __future__ import annotations

import dataclasses
import importlib
import logging
import math
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from atc_desktop.alerts import AlertCenter, fresh_latest
from atc_desktop.analysis import AnalysisController, AnalysisOutcome
from atc_desktop.app_settings import AppSettings, SettingsFile
from atc_desktop.data_service import DataService
from atc_desktop.guard import error_sink, freeze_long_lived, guarded, install_gui_gc
from atc_desktop.kernel_warmup import KernelWarmup
from atc_desktop.live_feed import CHART_UPDATES_PER_S, LiveFeed, PacedCall
from atc_desktop.paths import AppPaths
from atc_desktop.persist import SetAside
from atc_desktop.refresh import RefreshController, refresh_period
from atc_desktop.screening import ScreenOutcome
from atc_desktop.settings.backends_view import FallbackBridge
from atc_desktop.watchlist.model import WatchlistModel
from atc_desktop.watchlist.store import WatchlistStore
from atc_desktop.watchlist.symbol_entry import Entry, parse_entry, settle
from atc_desktop.watchlist.undo import WatchlistUndo
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.backends.registry import Registry, default_registry
from core.errors import ATCInputError

log = logging.getLogger("atc_desktop")
#: How long after the first fetched values the long-lived objects are frozen.
FREEZE_AFTER_MS = 2000


def preload_chart() -> None:
    """Import the chart's modules (pyqtgraph: most of a second) on the next turn of the
    event loop. Called once the first values are on screen, so that the first click on a
    symbol does not pay for it. On the GUI thread: Qt's and pyqtgraph's classes are not
    made on other threads."""
    def load() -> None:
        try:
            importlib.import_module("atc_desktop.chart.widget")
        except Exception as exc:          # the chart will say why when it is opened
            log.debug("chart preload failed: %s", exc)

    QTimer.singleShot(0, load)


class AppSession(QObject):
    """The app's state and its background work; the main window is a view over it."""

    add_failed = Signal(str)             # message for the add field
    add_kept = Signal(str)               # after a partial add: the typed symbols to correct
    symbol_added = Signal(str)
    lists_changed = Signal()
    backends_probed = Signal(list)       # list[BackendStatus]
    backends_probe_failed = Signal(str)
    settings_applied = Signal(object)    # AppSettings
    intervals_known = Signal(list)       # the data source's intervals (``DataService.intervals``)
    warmed_up = Signal(str)              # numba's screening kernels: "ready" or "failed"

    def __init__(self, paths: AppPaths, registry: Registry | None = None, provider: Any = None,
                 pool: QThreadPool | None = None, chart: Callable[[], Any] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        install_gui_gc()                 # jobs must never run the collector on Qt objects
        self.paths = paths.ensure()
        self.settings_file = SettingsFile(paths.settings_file)
        self.settings = self.settings_file.load()
        self.registry = registry or default_registry()
        try:
            self.registry.set_preferred(self.settings.backend)
        except ATCInputError as exc:
            log.error("%s; using auto", exc)
            self.settings = self.settings.replace(backend="auto")
        self.fallbacks = FallbackBridge(self)
        self.registry.add_listener(self.fallbacks.listener)
        self.watchlists = WatchlistStore(paths.watchlists_file)
        self.model = WatchlistModel(self)
        self.model.set_symbols(self.watchlists.symbols())
        self.model.symbols_edited.connect(self._save_symbols)
        self.undo = WatchlistUndo(self.model, self)      # every edit of the list goes through it
        self.undo.removed.connect(self._symbols_removed)
        self.undo.restored.connect(self._symbols_restored)
        self.runner = JobRunner(pool, self)
        self._provider_override = provider
        self.data = self._make_data(self.settings)
        self.refresh = RefreshController(self.model, self.runner, self.registry, lambda: self.data,
                                         lambda: self.settings, self)
        # A first start screens on Rust while numba's kernels compile in another process;
        # the chart never touches numba (the registry's preferred backend: cuda → rust).
        self.kernels = KernelWarmup(self)
        self.refresh.kernels_ready = lambda: self.kernels.ready
        self.kernels.state_changed.connect(self._kernels_changed)
        self.analysis = AnalysisController(self.runner, self.registry, lambda: self.data,
                                           lambda: self.settings, chart, self)
        self.alerts = AlertCenter(paths.alerts_file, self)
        self.refresh.refreshed.connect(self._screened)
        self.analysis.analysed.connect(self._analysed)
        self.live = LiveFeed(lambda: self.data, self.model.symbols, lambda: self.settings,
                             parent=self)
        self.live.forming.connect(self._forming)
        self._chart_forming = PacedCall(self.analysis.show_forming, CHART_UPDATES_PER_S, self)
        self._closed_last: dict[str, float] = {}     # each symbol's last closed close
        self._chart_bar: dict[str, int | None] = {}
        self._shut = False
        self._after_first: set[str] = set()
        self._freeze_planned = False
        self.refresh.refresh_failed.connect(lambda _m: self._first_results(True))
        #: User files that were unusable at start and moved aside (told once, by start()).
        self.set_aside: list[SetAside] = [f for f in (self.settings_file.set_aside,
                                                      self.watchlists.set_aside,
                                                      self.alerts.set_aside) if f is not None]
        self._told_set_aside = False

    def _make_data(self, s: AppSettings) -> DataService:
        return DataService(self.paths.bar_store, s.source, s.replay, provider=self._provider_override)

    # -- lifetime -----------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """First screening from the store at once, then a fetch, then the timer. With
        ``warm``, numba's screening kernels are compiled in the background when the cache
        lacks them (``KernelWarmup``); nothing waits for them."""
        self.tell_set_aside()
        if warm:
            self.kernels.start()
        self.refresh.request(fetch=False)
        self.refresh.request(fetch=True)        # queued behind the first: no overlap
        self.refresh.start(refresh_period(self.settings))
        # Nothing else competes with the first values: the quote feed starts with the first
        # screening (by then a worker has built the provider, which the GUI thread would
        # otherwise build itself: a stall of ~0.5 s); the backends are probed and the chart's
        # modules loaded after the first fetch.
        self._after_first = {"live", "probe", "chart"} if warm else {"live", "probe"}
        if not self.model.symbols():          # no screening to wait for
            self._first_results(True)

    def tell_set_aside(self) -> None:
        """Tell the user, once, which files were unusable and where they were kept: in the
        log (dock and file) and in the window's status bar (the error sink). Called once
        the window is up, so that it sees the message."""
        if self._told_set_aside or not self.set_aside:
            return
        self._told_set_aside = True
        for item in self.set_aside:
            log.warning("%s", item.message())
        error_sink().error_reported.emit("; ".join(item.message() for item in self.set_aside))

    def shutdown(self, wait_ms: int = 10_000) -> None:
        """Stop scheduling, let running jobs end, put everything on disk (idempotent)."""
        if self._shut:
            return
        self._shut = True
        self.kernels.stop()
        self.live.stop()
        self.refresh.shutdown()
        self.analysis.shutdown()
        self.registry.remove_listener(self.fallbacks.listener)
        self.runner.wait(wait_ms)
        self.alerts.flush()
        self.data.close()

    # -- watchlist editing --------------------------------------------------------------------
    @guarded
    def add_symbol(self, text: str) -> None:
        """Check the typed symbol(s) — "AAPL, MSFT NVDA" adds three — with the provider
        (off the GUI thread), then add those it knows."""
        entry = parse_entry(text, self.model.symbols())
        if not entry.wanted:
            self.add_failed.emit("; ".join(entry.problems))
            return
        data = self.data
        self.runner.submit("validate", lambda: (entry, data.validate(list(entry.wanted))),
                           on_done=lambda r: self._validated(*r.value), on_failed=self._validate_failed)

    @guarded
    def remove_symbols(self, symbols: list[str]) -> None:
        removed = self.undo.remove(symbols)
        if removed:
            log.info("removed %s from %s (Ctrl+Z undoes)", ", ".join(removed), self.watchlists.active)

    def _symbols_restored(self, _symbols: object) -> None:
        self.refresh.request(fetch=False)

    def _symbols_removed(self, removed: list[str]) -> None:
        if self.analysis.symbol in removed:
            self.analysis.clear()

    @guarded
    def move_symbol(self, symbol: str, step: int) -> None:
        row = self.model.row_of(symbol)
        if row >= 0:
            self.undo.move(symbol, min(max(row + step, 0), self.model.rowCount() - 1))

    @guarded
    def switch_list(self, name: str) -> None:
        if name == self.watchlists.active:
            return
        self.watchlists.set_active(name)
        self._load_active_list()

    def create_list(self, name: str) -> None:
        """Create and switch to a new list (ValueError: empty or taken name)."""
        self.watchlists.create(name)
        self._load_active_list()

    def rename_list(self, new: str) -> None:
        self.watchlists.rename(self.watchlists.active, new)
        self.lists_changed.emit()

    def delete_list(self) -> None:
        self.watchlists.delete(self.watchlists.active)
        self._load_active_list()

    def _load_active_list(self) -> None:
        self.undo.clear()                    # its commands edit the list being replaced
        self.model.set_symbols(self.watchlists.symbols())
        self.lists_changed.emit()
        self.refresh.invalidate(refetch=True)

    def _save_symbols(self) -> None:
        self.watchlists.set_symbols(self.model.symbols())
        self.live.set_symbols(self.model.symbols())

    # -- settings -----------------------------------------------------------------------------
    @guarded
    def apply_settings(self, new: AppSettings) -> None:
        old, self.settings = self.settings, new
        self.settings_file.save(new)
        if new.backend != old.backend:
            self.registry.set_preferred(new.backend)
            self.probe_backends()
        if (new.source, new.replay) != (old.source, old.replay):
            self.data = self._make_data(new)
            log.info("data source: %s", new.source_label)
        if refresh_period(new) != refresh_period(old):
            self.refresh.set_interval(refresh_period(new))
        inputs = ("config", "source", "replay", "interval", "history_bars")
        if any(getattr(new, k) != getattr(old, k) for k in (*inputs, "screening_family")):
            refetch = (new.source, new.replay, new.interval) != (old.source, old.replay, old.interval)
            self.refresh.invalidate(refetch=refetch)
            if refetch:
                self.live.restart()
        if any(getattr(new, k) != getattr(old, k) for k in (*inputs, "backend")):
            self.analysis.recompute()
        self.settings_applied.emit(new)
        self.ask_intervals()                 # a new source, a new list

    def set_theme(self, name: str) -> None:
        if name != self.settings.theme:
            self.settings = self.settings.replace(theme=name)
            self.settings_file.save(self.settings)

    # -- backends -----------------------------------------------------------------------------
    def probe_backends(self, again: bool = False) -> None:
        """Backend status off the GUI thread (probing imports them); ``again`` forgets the
        cached probes first (after installing a backend)."""
        reg = self.registry

        def probe() -> list[Any]:
            if again:
                reg.refresh()
            return reg.status()

        self.runner.submit("probe", probe, on_done=self._probed,
                           on_failed=lambda f: self.backends_probe_failed.emit(f.message))

    def _probed(self, result: JobResult[list[Any]]) -> None:
        self.backends_probed.emit(result.value)
        self.ask_intervals()

    # -- data source --------------------------------------------------------------------------
    def ask_intervals(self) -> None:
        """Find the intervals the data source offers off the GUI thread (building the
        provider may import it or read its files); ``intervals_known`` carries them. A
        failure leaves the interval boxes as they are (the runner logs it)."""
        if self._shut:
            return
        self.runner.submit("intervals", self.data.intervals,
                           on_done=lambda r: self.intervals_known.emit(list(r.value)),
                           on_failed=lambda _f: None)

    # -- job results --------------------------------------------------------------------------
    def _kernels_changed(self, state: str) -> None:
        if state == "compiling" or self._shut:
            return
        self.warmed_up.emit(state)
        if state == "ready":
            self.refresh.request(fetch=False)     # the numba state replaces the Rust batch now

    def _validated(self, entry: Entry, unknown: dict[str, str]) -> None:
        done = settle(entry, unknown)
        added = self.undo.add(done.accepted)
        if added:
            log.info("added %s to %s", ", ".join(added), self.watchlists.active)
            for sym in added:
                self.symbol_added.emit(sym)
            self.refresh.request(fetch=True)
            if done.keep:
                self.add_kept.emit(done.keep)
        if done.problems:
            log.warning("not added: %s", "; ".join(done.problems))
            self.add_failed.emit("; ".join(done.problems))

    def _validate_failed(self, failure: JobFailure) -> None:
        msg = f"could not check the symbol: {failure.message}"
        log.warning(msg)
        self.add_failed.emit(msg)

    def _first_results(self, fetched: bool) -> None:
        """What ``start`` leaves until the first screening (and the first fetch) ended."""
        if self._shut or not self._after_first:
            return
        if "live" in self._after_first:
            self._after_first.discard("live")
            self.live.restart()
        if fetched and "probe" in self._after_first:
            self._after_first.discard("probe")
            self.probe_backends()
        if fetched and "chart" in self._after_first:
            self._after_first.discard("chart")
            preload_chart()

    def _screened(self, out: ScreenOutcome) -> None:
        self._first_results(out.fetched)
        if out.fetched and out.rows and not self._shut and not self._freeze_planned:
            # The app is up (see guard.freeze_long_lived); the full collection waits until
            # the first values are painted.
            self._freeze_planned = True
            QTimer.singleShot(FREEZE_AFTER_MS, freeze_long_lived)
        interval = self.settings.interval
        latest = {r.symbol: r.data_time for r in out.rows if r.data_time is not None}
        for r in out.rows:
            if r.data_time is not None:
                self.live.closed(r.symbol, r.data_time, r.tz)
                self._closed_last[r.symbol] = r.last
        if out.fetched:
            self.live.replay_step()
        self.alerts.consider(out.events, fresh_latest(out.rows), "screen", interval)
        sym = self.analysis.symbol
        if sym in latest and self.analysis.current_interval() == interval:
            previous = self._chart_bar.get(sym)
            self._chart_bar[sym] = latest[sym]
            if previous is not None and previous != latest[sym]:
                self.analysis.bars_updated((sym,), interval)

    @guarded
    def _forming(self, bars: dict[str, Any]) -> None:
        """Forming bars (``LiveFeed``): the watchlist's values and the chart's last bar as
        if each bar closed now; nothing is stored and no state changes."""
        closes = {s: float(b.close) for s, b in bars.items()}
        values = self.refresh.screen_states.forming(closes)
        if values is None:                  # a refresh is updating the states: next tick
            return
        rows = []
        for s, b in bars.items():
            st = self.model.state_of(s)
            if st is None or s not in values:
                continue
            signal, direction = values[s]
            closed = self._closed_last.get(s, math.nan)
            rows.append(dataclasses.replace(
                st, last=closes[s], signal=signal, direction=direction, data_time=int(b.start),
                change_pct=(closes[s] / closed - 1.0) * 100.0 if closed > 0 else math.nan))
        if rows:
            self.model.apply(rows)
        sym = self.analysis.symbol
        if sym in bars:                       # its own event-loop turn: no long GUI stall
            self._chart_forming.push(bars[sym])

    def _analysed(self, out: AnalysisOutcome) -> None:
        req = out.request
        self._chart_bar[req.symbol] = int(out.bars.timestamps[-1])
        self.alerts.consider(out.events, {req.symbol: int(out.bars.timestamps[-1])}, "atc", req.interval)
