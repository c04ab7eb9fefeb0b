"""Backend registry: preference order cuda → rust → numba → numpy, a reason for every
backend skipped, and per-call fallback (recorded, logged once, queryable) when one fails."""
from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from core.backends.base import READY, Backend, PreparingBackend, ProbeResult, Readiness
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.types import ATCResult, BatchResult

log = logging.getLogger(__name__)

ORDER: tuple[str, ...] = ("cuda", "rust", "numba", "numpy")
BACKEND_CHOICES: tuple[str, ...] = ("auto",) + ORDER


@dataclass(frozen=True)
class FallbackEvent:
    """One backend that could not serve a call, and the one that was tried next."""

    time: float
    backend: str
    fallback_to: str
    reason: str
    operation: str


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    reason: str
    version: str
    device: str
    threads: int
    active: bool


def _optional(module: str) -> Callable[[], Backend]:
    """Factory importing an optional backend package by name (core never imports it)."""
    def create() -> Backend:
        backend: Backend = importlib.import_module(module).create_backend()
        return backend
    return create


def _numba() -> Backend:
    from core.jit.backend import NumbaBackend
    return NumbaBackend()


def _numpy() -> Backend:
    from core.backends.numpy_backend import NumpyBackend
    return NumpyBackend()


DEFAULT_FACTORIES: dict[str, Callable[[], Backend]] = {
    "cuda": _optional("cuda_backend"),
    "rust": _optional("rust_backend"),
    "numba": _numba,
    "numpy": _numpy,
}


class Registry:
    """Finds the backends, picks one per call, and falls back when one fails.

    Parameters
    ----------
    factories : mapping name → zero-argument callable returning a backend; defaults to the
        project's four backends. Order of preference is the mapping's order.
    preferred : "auto" or a backend name tried first.
    """

    def __init__(self, factories: dict[str, Callable[[], Backend]] | None = None,
                 preferred: str = "auto") -> None:
        self._factories = dict(factories or DEFAULT_FACTORIES)
        self._lock = threading.RLock()
        self._backends: dict[str, Backend | None] = {}
        self._probes: dict[str, ProbeResult] = {}
        self._fallbacks: list[FallbackEvent] = []
        self._logged: set[tuple[str, str]] = set()
        self._listeners: list[Callable[[FallbackEvent], None]] = []
        self.preferred = "auto"
        self.set_preferred(preferred)

    # -- discovery ---------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def set_preferred(self, name: str) -> None:
        if name != "auto" and name not in self._factories:
            raise ATCInputError(
                f"backend = {name!r} is not allowed: choose one of auto | {' | '.join(self._factories)}",
                field="backend")
        self.preferred = name

    def probe(self, name: str) -> ProbeResult:
        """Probe result of one backend (cached; construction errors become the reason)."""
        with self._lock:
            if name not in self._probes:
                try:
                    backend = self._factories[name]()
                    # A backend with internal fallbacks (numba's specialised screening
                    # kernel) reports them into this registry's fallback log.
                    attach = getattr(backend, "set_fallback_reporter", None)
                    if callable(attach):
                        attach(self.report_fallback)
                    result = backend.probe()
                except Exception as exc:  # an optional package that fails to import or probe
                    backend = None
                    result = ProbeResult(False, f"{type(exc).__name__}: {exc}")
                self._backends[name] = backend if result.available else None
                self._probes[name] = result
            return self._probes[name]

    def refresh(self) -> None:
        """Forget cached probes (e.g. after installing a backend)."""
        with self._lock:
            self._probes.clear()
            self._backends.clear()

    def get(self, name: str) -> Backend:
        if name not in self._factories:
            raise ATCInputError(f"unknown backend {name!r}", field="backend")
        result = self.probe(name)
        backend = self._backends.get(name)
        if backend is None:
            raise BackendError(f"backend {name} is unavailable: {result.reason}", backend=name)
        return backend

    def chain(self, preferred: str | None = None) -> list[str]:
        """Backends in the order a call tries them: the preferred one first, then the rest."""
        first = preferred or self.preferred
        order = list(self._factories)
        if first != "auto":
            if first not in order:
                raise ATCInputError(f"unknown backend {first!r}", field="backend")
            order.remove(first)
            order.insert(0, first)
        return order

    def active(self, preferred: str | None = None) -> str:
        """The backend a call would use now (the first available one of the chain)."""
        for name in self.chain(preferred):
            if self.probe(name).available:
                return name
        raise BackendError("no compute backend is available")

    def status(self) -> list[BackendStatus]:
        active = self.active()
        rows = []
        for name in self._factories:
            p = self.probe(name)
            rows.append(BackendStatus(name, p.available, p.reason, p.version, p.device,
                                      p.threads, name == active))
        return rows

    # -- fallback bookkeeping ----------------------------------------------------------------
    def fallbacks(self) -> list[FallbackEvent]:
        with self._lock:
            return list(self._fallbacks)

    def add_listener(self, listener: Callable[[FallbackEvent], None]) -> None:
        """Call ``listener(event)`` on every recorded fallback (from the computing thread)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[FallbackEvent], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def report_fallback(self, backend: str, fallback_to: str, reason: str,
                        operation: str) -> None:
        """Record a fallback that happened inside a backend (e.g. its specialised kernel
        failed to build and its generic one served): logged once, kept in ``fallbacks()``,
        passed to the listeners."""
        self._record(backend, fallback_to, reason, operation)

    def _record(self, name: str, nxt: str, reason: str, operation: str) -> None:
        event = FallbackEvent(time.time(), name, nxt, reason, operation)
        with self._lock:
            self._fallbacks.append(event)
            del self._fallbacks[:-1000]          # bounded: a long session keeps the newest
            listeners = list(self._listeners)
            first = (name, reason) not in self._logged
            self._logged.add((name, reason))
        if first:
            log.warning("backend %s failed (%s); %s → %s", name, reason, operation, nxt)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break computing
                log.exception("fallback listener failed")

    def _run(self, operation: str, call: Callable[[Backend], object],
             preferred: str | None, skip_unavailable_quietly: bool = True) -> object:
        chain = self.chain(preferred)
        explicit = (preferred or self.preferred) != "auto"
        errors: list[str] = []
        for i, name in enumerate(chain):
            nxt = next((n for n in chain[i + 1:] if self.probe(n).available), "none")
            probe = self.probe(name)
            if not probe.available:
                # In auto mode an unavailable backend is a skip with a reason (status()),
                # not a failure; a backend the user asked for by name is a fallback.
                if explicit and i == 0:
                    self._record(name, nxt, f"unavailable: {probe.reason}", operation)
                errors.append(f"{name}: {probe.reason}")
                continue
            try:
                return call(self._backends[name])  # type: ignore[arg-type]
            except ATCInputError:
                raise                                # bad input is the caller's, not a backend's
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                errors.append(f"{name}: {reason}")
                self._record(name, nxt, reason, operation)
        raise BackendError(f"every backend failed for {operation}: " + "; ".join(errors))

    # -- preparing (optional per backend: numba's specialised kernels) ------------------------
    def _preparing(self, backend: str | None) -> PreparingBackend | None:
        """The backend a call with the same ``backend`` argument would use first, when it
        has work to prepare."""
        chosen = self._backends.get(self.active(backend))
        return chosen if isinstance(chosen, PreparingBackend) else None

    def prepare(self, config: ATCConfig, mode: str = "full",
                backend: str | None = None) -> Readiness:
        """Have the backend a ``compute_batch`` with the same ``backend`` argument would use
        start, in the background, what serving ``(config, mode)`` at full speed needs; its
        calls for that never wait for the work meanwhile (an interactive caller prepares
        before each call). Never raises: whatever goes wrong here is "failed", and the call
        that follows reports or falls back as usual."""
        try:
            chosen = self._preparing(backend)
            return READY if chosen is None else chosen.prepare(config, mode)
        except Exception as exc:  # the call itself will fail (and fall back) for the same reason
            return Readiness("failed", f"{type(exc).__name__}: {exc}")

    def readiness(self, config: ATCConfig, mode: str = "full",
                  backend: str | None = None) -> Readiness:
        """Where that backend's preparation of ``(config, mode)`` stands; starts nothing."""
        try:
            chosen = self._preparing(backend)
            return READY if chosen is None else chosen.readiness(config, mode)
        except Exception as exc:
            return Readiness("failed", f"{type(exc).__name__}: {exc}")

    def wait_prepared(self, timeout: float | None = None) -> bool:
        """Wait until every backend's preparations have finished (their results kept, e.g.
        numba's kernels in its on-disk cache); False when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        backends: list[PreparingBackend] = []
        with self._lock:
            for candidate in self._backends.values():
                if isinstance(candidate, PreparingBackend):
                    backends.append(candidate)
        done = True
        for b in backends:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = b.wait_prepared(left) and done
        return done

    # -- computing ---------------------------------------------------------------------------
    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None, backend: str | None = None) -> ATCResult:
        """Full ATC of one series on the preferred backend, falling back on failure."""
        result = self._run("compute", lambda b: b.compute(close, config, detail=detail, src=src),
                           backend)
        assert isinstance(result, ATCResult)
        return result

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full", backend: str | None = None) -> BatchResult:
        """Batch ATC (last ``tail`` bars) on the preferred backend, falling back on failure."""
        result = self._run(f"compute_batch[{mode}]",
                           lambda b: b.compute_batch(closes, config, tail=tail, mode=mode), backend)
        assert isinstance(result, BatchResult)
        return result


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry the CLI and the app share."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def available_backends(registry: Registry | None = None) -> Iterable[str]:
    reg = registry or default_registry()
    return [n for n in reg.names if reg.probe(n).available]
