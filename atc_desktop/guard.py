"""No exception reaches Qt's event loop unhandled.

``install_excepthook`` routes uncaught exceptions (slots, virtual overrides, Python threads)
to the log and to :data:`errors` — a Qt signal the main window shows in its status bar — and
the app keeps running. ``guarded`` wraps a slot so that its failure is reported the same way
without even reaching the hook.
"""
from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Callable, TypeVar

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("atc_desktop")

F = TypeVar("F", bound=Callable[..., Any])


class ErrorSink(QObject):
    """Carries error messages to the GUI thread (emitted from any thread)."""

    error_reported = Signal(str)


_sink: ErrorSink | None = None
_sink_lock = threading.Lock()


def error_sink() -> ErrorSink:
    global _sink
    with _sink_lock:
        if _sink is None:
            _sink = ErrorSink()
        return _sink


def report(exc: BaseException, where: str) -> None:
    """Log ``exc`` with its traceback and announce a one-line summary."""
    log.error("%s failed: %s: %s", where, type(exc).__name__, exc,
              exc_info=(type(exc), exc, exc.__traceback__))
    try:
        error_sink().error_reported.emit(f"{where}: {type(exc).__name__}: {exc}")
    except RuntimeError:       # the sink is gone during interpreter shutdown
        pass


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    where = "unhandled"
    if tb is not None:
        frames = traceback.extract_tb(tb)
        if frames:
            where = f"unhandled in {frames[-1].name}"
    exc.__traceback__ = tb
    report(exc, where)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        report(args.exc_value, f"thread {args.thread.name if args.thread else '?'}")


def install_excepthook() -> None:
    sys.excepthook = _excepthook
    threading.excepthook = _thread_hook


def _positional_limit(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` takes (None: any number)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def guarded(fn: F) -> F:
    """Slot decorator: report an exception instead of letting it reach the event loop.

    Qt passes a signal's arguments even to a slot that takes fewer (``clicked(bool)`` to a
    method without ``checked``); the wrapper trims them as PySide would for the bare slot.
    """
    limit = _positional_limit(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*(args if limit is None else args[:limit]), **kwargs)
        except Exception as exc:
            report(exc, getattr(fn, "__qualname__", "slot"))
            return None

    return wrapper  # type: ignore[return-value]


class GuiGarbageCollector(QObject):
    """Runs Python's cyclic garbage collector on the GUI thread only.

    Left automatic, the collector runs in whichever thread happens to allocate — often a
    worker (numba compiling, numpy) — and may then destroy a Qt object that belongs to the
    GUI thread, which crashes the process. Automatic collection is switched off and this
    timer collects, generation by generation, when the thresholds are crossed. It looks
    often (every 100 ms): while quotes stream, half a second of allocations made one
    young-generation pass take ~30 ms, a stall the user sees.
    """

    def __init__(self, interval_ms: int = 100) -> None:
        super().__init__()
        import gc

        from PySide6.QtCore import QTimer

        self._gc = gc
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        counts = self._gc.get_count()
        t0, t1, t2 = self._thresholds
        if counts[0] > t0:
            generation = 2 if counts[2] > t2 else 1 if counts[1] > t1 else 0
            self._gc.collect(generation)


_collector: GuiGarbageCollector | None = None
_frozen = False


def freeze_long_lived() -> None:
    """Exclude every object alive now from later collections (``gc.freeze``), once.

    Called when the app is up (window built, kernels loaded, first values shown): the
    collector then scans only objects made since, so a full collection no longer stalls
    the GUI for tens of milliseconds while quotes stream. Objects alive at this point are
    the app's long-lived ones (and start-up garbage not yet collected); only cycles among
    them that die later are never reclaimed.
    """
    global _frozen
    if not _frozen:
        import gc

        gc.freeze()        # a splice of the collector's lists; no collection (that stalls)
        _frozen = True


def install_gui_gc() -> None:
    """Install the GUI-thread collector once per process (call from the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = GuiGarbageCollector()
