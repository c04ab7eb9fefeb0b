"""The refresh loop: a timer schedules one screening job at a time; results reach the
watchlist model on the GUI thread, and results of an outdated request are dropped.

A provider may not be asked more often than its minimum period (Yahoo: a minute, its rate
limit); a provider-wide problem is logged when it begins and when it ends, not on every
refresh."""
from __future__ import annotations

import logging
import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from atc_desktop.app_settings import AppSettings
from atc_desktop.data_service import DataService
from atc_desktop.guard import guarded
from atc_desktop.screen_states import ScreenStates
from atc_desktop.screening import EVENT_TAIL, DataNotes, ScreenOutcome, ScreenRequest, run_screen
from atc_desktop.watchlist.model import WatchlistModel
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.backends.registry import Registry

log = logging.getLogger("atc_desktop.refresh")
KIND = "screen"
#: Rows handed to the model per event-loop turn: a 500-row refresh then never holds the GUI
#: thread for more than a few milliseconds at a time (the sorting proxy re-places each row).
APPLY_CHUNK = 50
#: The shortest refresh period each provider allows (seconds): Yahoo rate-limits clients
#: that ask more often than about once a minute.
PROVIDER_MIN_REFRESH_S: dict[str, int] = {"yahoo": 60}


def refresh_period(settings: AppSettings) -> int:
    """Seconds between refreshes: the setting, but never below the source's minimum."""
    key = settings.source.split(":", 1)[0]
    return max(int(settings.refresh_seconds), PROVIDER_MIN_REFRESH_S.get(key, 1))


class RefreshController(QObject):
    """Owns the refresh timer and the screening requests.

    * Never two screening jobs at once: a request made while one runs is remembered and
      started when it ends (several such requests collapse into one).
    * ``invalidate()`` (watchlist switch, new parameters, new source) marks the running
      job's result as outdated; it is dropped when it arrives and a fresh job follows.
    * Symbols removed while a job ran are ignored by the model when the result lands.
    """

    refreshed = Signal(object)          # ScreenOutcome, after the model took it
    refresh_failed = Signal(str)
    busy_changed = Signal(bool)
    provider_changed = Signal(str, str)  # a provider-wide problem and its detail ('' when fine)

    def __init__(self, model: WatchlistModel, runner: JobRunner, registry: Registry,
                 data: Callable[[], DataService], settings: Callable[[], AppSettings],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.runner = runner
        self.registry = registry
        self._data = data
        self._settings = settings
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.request)
        self._running: int | None = None      # request id of the job in flight
        self._outdated: set[int] = set()
        self._pending: bool | None = None     # a queued follow-up: its fetch flag
        self._applying: list[int] | None = None   # row order of the outcome being applied
        self._apply_outcome: ScreenOutcome | None = None
        self._apply_t0 = 0.0
        self.last_outcome: ScreenOutcome | None = None
        self.dropped = 0
        self._reported: dict[str, str] = {}
        self._closed = False
        # The screening column's live state; only the (single) screening job touches it.
        self.screen_states = ScreenStates(EVENT_TAIL)
        self._states_stale = False
        self.data_notes = DataNotes()             # the screening job's, like the states
        #: Whether numba's screening kernels are compiled (``KernelWarmup.ready``).
        self.kernels_ready: Callable[[], bool] = lambda: True
        self.provider_problem = ""

    # -- timer --------------------------------------------------------------------------------
    def start(self, seconds: int) -> None:
        self._timer.start(max(int(seconds), 1) * 1000)

    def stop(self) -> None:
        self._timer.stop()

    def shutdown(self) -> None:
        """No more refreshes: the app is closing."""
        self._closed = True
        self._pending = None
        self._timer.stop()

    def set_interval(self, seconds: int) -> None:
        if self._timer.isActive():
            self.start(seconds)

    @property
    def busy(self) -> bool:
        return self._running is not None or self._applying is not None

    # -- requests -----------------------------------------------------------------------------
    @guarded
    def request(self, fetch: bool = True) -> None:
        """Refresh now (fetch new bars, then screen) or, with ``fetch=False``, re-screen."""
        if self._closed:
            return
        if self.busy:
            self._pending = fetch or bool(self._pending)
            return
        symbols = tuple(self.model.symbols())
        if not symbols:
            return
        s = self._settings()
        backend = "numba" if s.config.use_codegen_specialization else None
        rid = self.runner.next_id()
        req = ScreenRequest(rid, symbols, s.interval, s.config, s.history_bars, fetch=fetch,
                            backend=backend, kernels_ready=self.kernels_ready(),
                            family=s.screening_family)
        data = self._data()
        states, forget, notes = self.screen_states, self._states_stale, self.data_notes
        self._states_stale = False

        def job() -> ScreenOutcome:
            if forget:
                states.forget()
            return run_screen(req, data, self.registry, states, notes)

        self._running = rid
        self.busy_changed.emit(True)
        self.runner.submit(KIND, job, on_done=self._succeeded, on_failed=self._failed, request_id=rid)

    def invalidate(self, refetch: bool = False) -> None:
        """The inputs changed: drop the running job's result and screen again (the live
        screening state is rebuilt from the store)."""
        self._states_stale = True
        if self._running is not None:
            self._outdated.add(self._running)
        if self._applying is not None:          # the rest of an outdated result is dropped
            self._applying = None
            self._apply_outcome = None
            self.dropped += 1
        self.request(fetch=refetch)

    # -- results ------------------------------------------------------------------------------
    def _finish(self, rid: int) -> bool:
        """Bookkeeping when job ``rid`` ends; True when its result is current."""
        if rid != self._running:
            return False
        self._running = None
        current = rid not in self._outdated
        self._outdated.discard(rid)
        return current

    def _follow_up(self) -> None:
        if self._pending is not None:
            fetch, self._pending = self._pending, None
            self.request(fetch=fetch)

    @guarded
    def _succeeded(self, result: JobResult[ScreenOutcome]) -> None:
        if not self._finish(result.request_id):
            self.dropped += 1
            log.debug("dropped outdated screening result #%d", result.request_id)
            self.busy_changed.emit(False)
            self._follow_up()
            return
        outcome = result.value
        # Hand the rows over in list order, a chunk per event-loop turn (see APPLY_CHUNK).
        rows = self.model.symbols()
        position = {s: i for i, s in enumerate(rows)}
        self._applying = sorted(range(len(outcome.rows)),
                                key=lambda i: position.get(outcome.rows[i].symbol, -1))
        self._apply_outcome = outcome
        self._apply_t0 = time.perf_counter()
        self._apply_chunk()

    @guarded
    def _apply_chunk(self) -> None:
        order, outcome = self._applying, self._apply_outcome
        if order is None or outcome is None:
            return                              # dropped by invalidate() meanwhile
        chunk, rest = order[:APPLY_CHUNK], order[APPLY_CHUNK:]
        cells = outcome.cells or None
        self.model.apply([outcome.rows[i] for i in chunk], [cells[i] for i in chunk] if cells else None)
        if rest:
            self._applying = rest
            QTimer.singleShot(0, self._apply_chunk)
            return
        self._applying = None
        self._apply_outcome = None
        self.busy_changed.emit(False)
        self.last_outcome = outcome
        log.debug("screening #%d: %d symbols, fetch %.3f s, compute %.3f s (%s), applied in %.1f ms",
                  outcome.request_id, len(outcome.rows), outcome.fetch_s, outcome.compute_s,
                  outcome.backend, (time.perf_counter() - self._apply_t0) * 1e3)
        # A failure is logged when it starts and when it ends, not on every refresh.
        for sym, why in outcome.failures.items():
            if sym not in self._reported:
                log.warning("%s: %s", sym, why)
        for sym in set(self._reported) - set(outcome.failures):
            if self.model.row_of(sym) >= 0:
                log.info("%s: refreshing again", sym)
        self._reported = dict(outcome.failures)
        if outcome.fetched:
            self._provider_state(outcome.provider_problem, outcome.provider_detail)
        self.refreshed.emit(outcome)
        self._follow_up()

    def _provider_state(self, problem: str, detail: str) -> None:
        """Log a provider-wide problem when it begins or changes, and when it ends."""
        if problem == self.provider_problem:
            return
        if problem:
            log.warning("%s (%s)", problem, detail)
        else:
            log.info("the data source answers again")
        self.provider_problem = problem
        self.provider_changed.emit(problem, detail)

    @guarded
    def _failed(self, failure: JobFailure) -> None:
        if self._finish(failure.request_id):
            self.busy_changed.emit(False)
            log.error("refresh failed: %s\n%s", failure.message, failure.trace)
            self.refresh_failed.emit(failure.message)
        self._follow_up()
