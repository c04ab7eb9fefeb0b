"""The chart's computation: the selected symbol's full ATC (detail=True) on a worker, then
``set_data`` (new symbol, interval or parameters) or ``update_data`` (live refresh) on the
GUI thread. Only the latest request's result is shown."""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
from PySide6.QtCore import QObject, Signal

from atc_desktop.app_settings import AppSettings
from atc_desktop.data_service import DataService
from atc_desktop.guard import guarded
from atc_desktop.screening import SignalEvent, atc_events
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.backends.registry import Registry
from core.config import ATCConfig
from core.data.bars import Bars
from core.errors import DataError
from core.types import ATCResult
from core.windows import history_start

log = logging.getLogger("atc_desktop.analysis")
KIND = "analysis"


@dataclass(frozen=True)
class AnalysisRequest:
    request_id: int
    symbol: str
    interval: str
    config: ATCConfig
    history_bars: int
    live: bool = False


@dataclass
class AnalysisOutcome:
    request: AnalysisRequest
    bars: Any
    result: ATCResult
    events: list[SignalEvent] = field(default_factory=list)
    load_s: float = 0.0
    compute_s: float = 0.0


class ChartLive:
    """The charted symbol's full ATC kept live between refreshes.

    After a full computation the Rust backend's incremental state of the series is kept;
    a refresh that brings k new closed bars then costs k steps
    (``incremental_update_detail``), and a forming bar is evaluated on its own without
    changing the state (``incremental_forming_detail``). The state is rebuilt, never
    patched, when the symbol, interval, parameters or history setting change, when the
    window's start moves on (``core.windows.history_start``) or when the stored history no
    longer continues it (a rewrite after a split or dividend). Without the Rust backend
    every refresh recomputes. Jobs may overlap, so one lock guards the state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._states: Any = None
        self._engine: Any = None
        self._result: ATCResult | None = None
        self._first_ts = 0
        self._last_ts = 0
        self._last_close = math.nan
        self.last_path = ""             # "full" | "incremental" | "unchanged" (tests, logs)

    def compute(self, req: AnalysisRequest, window: Any, registry: Registry) -> ATCResult:
        """The full ATC (detail) of ``window``, incrementally where the state allows."""
        key = (req.symbol, req.interval, req.config, req.history_bars)
        ts = window.timestamps
        with self._lock:
            if self._continues(key, window):
                k = len(window) - int(np.searchsorted(ts, self._last_ts, side="right"))
                assert self._result is not None
                if k == 0:
                    self.last_path = "unchanged"
                    return self._result
                try:
                    later = self._engine.incremental_update_detail(
                        self._states, 0, np.ascontiguousarray(window.close[-k:]))
                    self._result = self._result.extended(later)
                    self._mark(window)
                    self.last_path = "incremental"
                    return self._result
                except Exception as exc:     # recompute below; the state is dropped
                    log.warning("incremental chart update failed (%s); recomputing", exc)
            self._key = None
            close = np.ascontiguousarray(window.close)
            result = registry.compute(close, req.config, detail=True)
            self._result = result
            self._states, self._engine = _incremental_state(registry, close, req.config)
            if self._states is not None:
                self._key = key
                self._first_ts = int(ts[0])
                self._mark(window)
            self.last_path = "full"
            return result

    def forming(self, close: float, after_ts: int) -> ATCResult | None:
        """The full ATC (one bar, detail) of a forming bar that follows the bar at
        ``after_ts``; None without a live state for it, or while a job updates the state
        (the GUI thread never waits: try the next tick)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._states is None or self._key is None or self._last_ts != after_ts:
                return None
            result: ATCResult = self._engine.incremental_forming_detail(self._states, 0, float(close))
            return result
        finally:
            self._lock.release()

    def _continues(self, key: tuple[object, ...], window: Any) -> bool:
        if self._key != key or self._states is None or len(window) == 0:
            return False
        ts = window.timestamps
        if int(ts[0]) != self._first_ts:
            return False
        j = int(np.searchsorted(ts, self._last_ts))
        return j < len(window) and int(ts[j]) == self._last_ts and float(window.close[j]) == self._last_close

    def _mark(self, window: Any) -> None:
        self._last_ts = int(window.timestamps[-1])
        self._last_close = float(window.close[-1])


def _incremental_state(registry: Registry, close: np.ndarray, config: ATCConfig) -> tuple[Any, Any]:
    """The Rust backend's incremental state of ``close``, or (None, None) without one."""
    try:
        engine: Any = registry.get("rust")      # the Rust backend's incremental API
        states, _ = engine.incremental_init(close[None, :], config)
        return states, engine
    except Exception as exc:             # no Rust backend here: every refresh recomputes
        log.debug("no incremental chart state: %s", exc)
        return None, None


def run_analysis(req: AnalysisRequest, data: DataService, registry: Registry,
                 live: ChartLive | None = None) -> AnalysisOutcome:
    """Load the symbol's bars (fetching them first when none are stored for this interval)
    and compute the full ATC with detail over the window of ``core.windows``
    (incrementally through ``live`` when given)."""
    t0 = time.perf_counter()
    try:
        bars = data.load(req.symbol, req.interval)
    except DataError:
        report = data.refresh([req.symbol], req.interval)
        reason = dict(report.failures).get(req.symbol)
        if reason:
            raise DataError(f"{req.symbol} ({req.interval}): {reason}", symbol=req.symbol) from None
        bars = data.load(req.symbol, req.interval)
    # The window every computation of this store uses (a start that does not slide).
    bars = bars.tail(len(bars) - history_start(len(bars), req.history_bars))
    t1 = time.perf_counter()
    if live is not None:
        result = live.compute(req, bars, registry)
    else:
        result = registry.compute(np.ascontiguousarray(bars.close), req.config, detail=True)
    t2 = time.perf_counter()
    events = atc_events(bars, result)
    return AnalysisOutcome(req, bars, result, events, t1 - t0, t2 - t1)


def with_forming_bar(bars: Any, bar: Any) -> Any:
    """``bars`` with a forming bar (``FormingBar``) appended."""
    def add(name: str, value: float) -> np.ndarray:
        return np.append(np.asarray(getattr(bars, name)), value)

    return Bars(bars.symbol, bars.interval, np.append(bars.timestamps, np.int64(bar.start)),
                add("open", bar.open), add("high", bar.high), add("low", bar.low),
                add("close", bar.close), add("volume", bar.volume), tz=bars.tz,
                source=bars.source, synthetic=bars.synthetic)


class ChartView(Protocol):
    """What the controller draws on (the ChartWidget)."""

    def set_data(self, bars: Any, result: ATCResult, config: ATCConfig) -> None: ...

    def update_data(self, bars: Any, result: ATCResult) -> None: ...

    def set_last_bar_forming(self, forming: bool) -> None: ...


class AnalysisController(QObject):
    """Keeps the chart in step with the selection, the interval and the parameters.

    ``chart`` gives the :class:`ChartView`; it is a callable so that the widget can be
    created on first use. It is passed here or later to ``attach_chart`` (the window is
    built after the session); until then outcomes are kept and announced, not drawn.
    """

    analysed = Signal(object)            # AnalysisOutcome, after the chart took it
    analysis_failed = Signal(str, str)   # symbol, message
    started = Signal(str, str)           # symbol, interval

    def __init__(self, runner: JobRunner, registry: Registry, data: Callable[[], DataService],
                 settings: Callable[[], AppSettings], chart: Callable[[], ChartView] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.registry = registry
        self._data = data
        self._settings = settings
        self._chart: Callable[[], ChartView] | None = chart
        self.symbol: str | None = None
        self.interval: str | None = None
        self._latest = 0
        self._running: int | None = None
        self._live_pending = False
        self._shown: tuple[str, str, ATCConfig] | None = None
        self.last_outcome: AnalysisOutcome | None = None
        self._closed = False
        self.live = ChartLive()
        self._forming_shown = False

    def attach_chart(self, chart: Callable[[], ChartView]) -> None:
        """Draw on ``chart()`` from now on (called once the window made its chart pane)."""
        self._chart = chart

    def current_interval(self) -> str:
        return self.interval or self._settings().interval

    @guarded
    def show(self, symbol: str, interval: str | None = None) -> None:
        """Chart ``symbol`` (at ``interval``, default the current one)."""
        self.symbol = symbol
        if interval:
            self.interval = interval
        self._submit(live=False)

    @guarded
    def set_interval(self, interval: str) -> None:
        self.interval = interval
        if self.symbol:
            self._submit(live=False)

    @guarded
    def recompute(self) -> None:
        """Parameters or source changed: compute again and redraw."""
        self._shown = None
        if self.symbol:
            self._submit(live=False)

    @guarded
    def bars_updated(self, symbols: tuple[str, ...] | list[str], interval: str) -> None:
        """New bars arrived for ``symbols``: update the chart's last bars in place."""
        if self.symbol in symbols and interval == self.current_interval():
            if self._running is not None:
                self._live_pending = True
            else:
                self._submit(live=True)

    def clear(self) -> None:
        self.symbol = None
        self._latest = self.runner.next_id()      # outdates whatever is running

    def shutdown(self) -> None:
        self.clear()
        self._closed = True

    def _submit(self, live: bool) -> None:
        assert self.symbol is not None
        if self._closed:
            return
        s = self._settings()
        rid = self.runner.next_id()
        req = AnalysisRequest(rid, self.symbol, self.current_interval(), s.config, s.history_bars, live)
        self._latest = rid
        self._running = rid
        data = self._data()
        self.started.emit(req.symbol, req.interval)
        self.runner.submit(KIND, lambda: run_analysis(req, data, self.registry, self.live),
                           on_done=self._succeeded, on_failed=self._failed, request_id=rid)

    @guarded
    def _succeeded(self, result: JobResult[AnalysisOutcome]) -> None:
        if result.request_id == self._running:
            self._running = None
        if result.request_id != self._latest:
            log.debug("dropped outdated analysis #%d", result.request_id)
        else:
            self._present(result.value)
        if self._live_pending and self._running is None and self.symbol:
            self._live_pending = False
            self._submit(live=True)

    @guarded
    def show_forming(self, bar: Any) -> None:
        """Show a forming bar (``core.data.live.FormingBar``) after the charted closed bars,
        with the full ATC as if it closed now; the closed bars' state is not touched."""
        out = self.last_outcome
        if (out is None or self.symbol != bar.symbol or out.request.symbol != bar.symbol
                or out.request.interval != bar.interval or self._running is not None):
            return
        last = int(out.bars.timestamps[-1])
        if int(bar.start) <= last or self._chart is None:
            return
        one = self.live.forming(bar.close, last)
        if one is None:
            return
        chart = self._chart()
        chart.update_data(with_forming_bar(out.bars, bar), out.result.extended(one))
        if not self._forming_shown:
            chart.set_last_bar_forming(True)
            self._forming_shown = True

    def _present(self, out: AnalysisOutcome) -> None:
        req = out.request
        key = (req.symbol, req.interval, req.config)
        if self._chart is not None:
            chart = self._chart()
            if req.live and self._shown == key:
                chart.update_data(out.bars, out.result)
            else:
                chart.set_data(out.bars, out.result, req.config)
            chart.set_last_bar_forming(False)       # only closed bars from the history
            self._shown = key
        self._forming_shown = False
        self.last_outcome = out
        log.debug("chart %s %s: %d bars, load %.3f s, ATC %.3f s on %s", req.symbol, req.interval,
                  len(out.bars), out.load_s, out.compute_s, out.result.backend)
        self.analysed.emit(out)

    @guarded
    def _failed(self, failure: JobFailure) -> None:
        if failure.request_id == self._running:
            self._running = None
        if failure.request_id == self._latest:
            log.error("chart of %s failed: %s", self.symbol, failure.message)
            self.analysis_failed.emit(self.symbol or "", failure.message)
