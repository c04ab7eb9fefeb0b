"""Jobs on a QThreadPool. A job computes and emits; it never touches a widget.

Each job carries its own completion and failure callbacks, called on the GUI thread:
whoever submits a job is the only one to hear of it, so no receiver sorts the results of
other jobs by name. :class:`JobRunner` keeps a strong reference to every running job
(PySide would otherwise let the Python side of a QRunnable be collected while Qt still
runs it).
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from atc_desktop.guard import report

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class JobResult(Generic[T]):
    kind: str                     # what the job does, for logs ("screen", "probe"…)
    request_id: int
    value: T
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


OnDone = Callable[[JobResult[Any]], None]
OnFailed = Callable[[JobFailure], None]


class _JobSignals(QObject):
    # Lives in the GUI thread; emitting from the pool thread queues the call there.
    succeeded = Signal(object)
    failed = Signal(object)


class Job(QRunnable):
    """Runs ``fn()`` on a pool thread and reports through its signals object; the runner
    hands the outcome to ``on_done`` or ``on_failed``."""

    def __init__(self, kind: str, request_id: int, fn: Callable[[], Any],
                 on_done: OnDone, on_failed: OnFailed) -> None:
        super().__init__()
        self.setAutoDelete(False)         # the runner owns the lifetime, not Qt
        self.kind = kind
        self.request_id = request_id
        self._fn = fn
        self.on_done: OnDone | None = on_done
        self.on_failed: OnFailed | None = on_failed
        self.token = id(self)
        self.signals = _JobSignals()

    def drop(self) -> None:
        """Nobody wants the outcome any more: it ends unheard."""
        self.on_done = None
        self.on_failed = None

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


def _receiver_alive(callback: Callable[..., Any]) -> bool:
    """False when ``callback`` is a method of a Qt object that was deleted meanwhile (a
    closed dialog): Qt drops a signal to a deleted receiver, and so does the runner."""
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class JobRunner(QObject):
    """Starts jobs on a pool and hands each outcome to that job's own callbacks, on the GUI
    thread.

    ``submit(kind, fn, on_done=..., on_failed=...)``: ``on_done`` receives the
    :class:`JobResult`, ``on_failed`` the :class:`JobFailure`; exactly one of them is called,
    once, unless the job was dropped (``drop``). A callback's own exception is reported
    like a guarded slot's and never reaches Qt. Receivers that issue several requests
    compare the request id with the latest they issued and ignore older ones.
    """

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._ids = itertools.count(1)
        self._running: dict[int, Job] = {}

    def next_id(self) -> int:
        return next(self._ids)

    def submit(self, kind: str, fn: Callable[[], T], *, on_done: Callable[[JobResult[T]], None],
               on_failed: OnFailed, request_id: int | None = None, priority: int = 0) -> int:
        """Run ``fn`` on the pool; returns the request id (``request_id`` or a new one)."""
        rid = self.next_id() if request_id is None else request_id
        job = Job(kind, rid, fn, on_done, on_failed)
        self._running[job.token] = job
        # Bound methods of this GUI-thread QObject: the emission from the pool thread is
        # queued here (a bare lambda could run on the pool thread).
        job.signals.succeeded.connect(self._on_succeeded)
        job.signals.failed.connect(self._on_failed)
        self.pool.start(job, priority)
        return rid

    def drop(self, request_id: int) -> None:
        """Forget the callbacks of the running job(s) of ``request_id``: they still run to
        the end (a pool thread cannot be interrupted) but their outcome is not delivered."""
        for job in self._running.values():
            if job.request_id == request_id:
                job.drop()

    def busy(self) -> int:
        return len(self._running)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the pool is idle (shutdown and tests only)."""
        return self.pool.waitForDone(msecs)

    def _on_succeeded(self, result: JobResult[Any]) -> None:
        job = self._running.pop(result.token, None)
        if job is not None and job.on_done is not None:
            _deliver(job.on_done, result)

    def _on_failed(self, failure: JobFailure) -> None:
        job = self._running.pop(failure.token, None)
        log.debug("job %s #%d failed:\n%s", failure.kind, failure.request_id, failure.trace)
        if job is not None and job.on_failed is not None:
            _deliver(job.on_failed, failure)


def _deliver(callback: Callable[[Any], None], outcome: JobResult[Any] | JobFailure) -> None:
    if not _receiver_alive(callback):
        return
    try:
        callback(outcome)
    except Exception as exc:              # as ``guard.guarded``: reported, the app goes on
        report(exc, getattr(callback, "__qualname__", f"{outcome.kind} job callback"))
