"""Jobs on a QThreadPool. A job computes and emits; it never touches a widget.

Each job carries a request id. :class:`JobRunner` hands results to the GUI thread through
queued signals and keeps a strong reference to every running job (PySide would otherwise
let the Python side of a QRunnable be collected while Qt still runs it).
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    kind: str
    request_id: int
    value: Any
    elapsed_s: float
    token: int = 0


@dataclass(frozen=True)
class JobFailure:
    kind: str
    request_id: int
    error: BaseException
    message: str
    trace: str
    token: int = 0


class _JobSignals(QObject):
    # Lives in the GUI thread; emitting from the pool thread queues the call there.
    succeeded = Signal(object)
    failed = Signal(object)


class Job(QRunnable):
    """Runs ``fn()`` on a pool thread and reports through its signals object."""

    def __init__(self, kind: str, request_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)         # the runner owns the lifetime, not Qt
        self.kind = kind
        self.request_id = request_id
        self._fn = fn
        self.token = id(self)
        self.signals = _JobSignals()

    def run(self) -> None:  # noqa: D401 - Qt's name
        t0 = time.perf_counter()
        try:
            value = self._fn()
        except BaseException as exc:      # a worker exception is data, never a crash
            failure = JobFailure(self.kind, self.request_id, exc, f"{type(exc).__name__}: {exc}",
                                 traceback.format_exc(), self.token)
            try:
                self.signals.failed.emit(failure)
            except RuntimeError:          # the app is shutting down
                pass
            return
        try:
            self.signals.succeeded.emit(JobResult(self.kind, self.request_id, value,
                                                  time.perf_counter() - t0, self.token))
        except RuntimeError:
            pass


class JobRunner(QObject):
    """Starts jobs on a pool and forwards their outcome on the GUI thread.

    ``succeeded``/``failed`` carry :class:`JobResult` / :class:`JobFailure`; receivers
    compare the request id with the latest they issued and drop older ones.
    """

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._ids = itertools.count(1)
        self._running: dict[int, Job] = {}

    def next_id(self) -> int:
        return next(self._ids)

    def submit(self, kind: str, fn: Callable[[], Any], request_id: int | None = None,
               priority: int = 0) -> int:
        rid = self.next_id() if request_id is None else request_id
        job = Job(kind, rid, fn)
        self._running[job.token] = job
        # Bound methods of this GUI-thread QObject: the emission from the pool thread is
        # queued here (a bare lambda could run on the pool thread).
        job.signals.succeeded.connect(self._on_succeeded)
        job.signals.failed.connect(self._on_failed)
        self.pool.start(job, priority)
        return rid

    def busy(self) -> int:
        return len(self._running)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the pool is idle (shutdown and tests only)."""
        return self.pool.waitForDone(msecs)

    def _on_succeeded(self, result: JobResult) -> None:
        self._running.pop(result.token, None)
        self.succeeded.emit(result)

    def _on_failed(self, failure: JobFailure) -> None:
        self._running.pop(failure.token, None)
        log.debug("job %s #%d failed:\n%s", failure.kind, failure.request_id, failure.trace)
        self.failed.emit(failure)
