"""The numba backend: the generic fused kernel for everything, and the kernels generated
for one configuration when ``use_codegen_specialization`` is on: one family's
(EMA-only screening, ``family:F``), and the full ATC's once ``prepare`` built it."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numba
import numpy as np
from numba.np.ufunc import threading_layer

from core.backends.base import READY, ProbeResult, Readiness
from core.config import ATCConfig
from core.jit import codegen, incremental
from core.jit.drivers import atc_batch, atc_series
from core.jit.primitives import growth_row
from core.kernel_params import KernelParams, kernel_params
from core.types import (ATCResult, BatchResult, as_batch, as_close_and_src, check_tail,
                        rate_of_change)

log = logging.getLogger(__name__)

#: How the screening kernels appear in the registry's fallback log.
SPECIALISED = "numba (specialised EMA-only kernel)"
GENERIC = "numba (generic kernel)"


def specialised_name(params: KernelParams) -> str:
    """The fallback log's name of a specialised kernel (SPECIALISED for EMA-only)."""
    return f"numba (specialised {params.mode_label} kernel)"


KernelScalars = tuple[float, int, bool, float, float, float, bool, int, int, int, int]


def kernel_scalars(p: KernelParams) -> KernelScalars:
    """The one place the parameter object becomes the kernels' flat arguments (numba
    kernels take arrays and scalars, not a dataclass), in the order atc_series and
    atc_batch take them after the growth argument."""
    return (p.delta, p.cutout, p.hull, p.cut_threshold, p.long_threshold, p.short_threshold,
            p.strategy, p.colbase, p.alertbase, p.families, p.family)


class NumbaBackend:
    """numba JIT backend (always installed with the project)."""

    name = "numba"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (time, reason) for every call where the specialised kernel could not run.
        self.specialisation_failures: list[tuple[float, str]] = []
        #: The (config, mode) pairs ``prepare`` was asked for: their specialised kernel
        #: builds on a background thread and the generic kernel serves meanwhile (the app);
        #: any other call compiles its specialised kernel in line (the CLI).
        self._prepared: set[tuple[ATCConfig, str]] = set()
        self._generic_loaded = False
        #: Where fallbacks inside this backend are reported: the registry's fallback log
        #: (``Registry.report_fallback``), set by the registry that created the backend.
        self._reporter: Callable[[str, str, str, str], None] | None = None

    def set_fallback_reporter(self, reporter: Callable[[str, str, str, str], None]) -> None:
        """``reporter(backend, fallback_to, reason, operation)`` records a fallback from the
        specialised screening kernel to the generic one (the registry's fallback log, read
        by the app's Backends tab and ``atc backends``)."""
        self._reporter = reporter

    def _fallback(self, reason: str, params: KernelParams, mode: str) -> None:
        """Record that a specialised kernel could not serve, and report it."""
        with self._lock:
            first = not self.specialisation_failures
            self.specialisation_failures.append((time.time(), reason))
        if first:
            log.warning("specialised %s kernel unavailable, using the generic one: %s",
                        params.mode_label, reason)
        if self._reporter is not None:
            self._reporter(specialised_name(params), GENERIC, reason, f"compute_batch[{mode}]")

    def _build_failed(self, params: KernelParams, mode: str) -> Callable[[codegen.BuildFailure], None]:
        """What to do when a background build fails (called on its thread)."""
        def failed(failure: codegen.BuildFailure) -> None:
            self._fallback(f"{failure.reason} (build attempt {failure.attempts}; next try in "
                           f"{failure.retry_in_s:.0f} s)", params, mode)
        return failed

    # -- preparing (core.backends.base.PreparingBackend) -------------------------------------
    def prepare(self, config: ATCConfig, mode: str = "full") -> Readiness:
        """Build the specialised kernel of ``(config, mode)`` on a background thread (again
        after a failed build once its back-off has passed); until it is ready,
        ``compute_batch`` for it serves the generic kernel instead of compiling."""
        params = kernel_params(config, mode)
        if not _specialises(config, params):
            return READY
        with self._lock:
            self._prepared.add((config, mode))
        if not codegen.ready(params):
            self._load_generic()
            codegen.compile_in_background(params, _warm_screen(params),
                                          self._build_failed(params, mode))
        return self.readiness(config, mode)

    def readiness(self, config: ATCConfig, mode: str = "full") -> Readiness:
        params = kernel_params(config, mode)
        if not _specialises(config, params) or codegen.ready(params):
            return READY
        if params.families == 6 and (config, mode) not in self._prepared:
            return READY            # the generic kernel serves; nothing compiles in line
        label = params.mode_label
        if codegen.building(params):
            return Readiness("preparing", f"{label}: the specialised kernel compiles")
        failure = codegen.build_failure(params)
        if failure is not None:
            return Readiness("failed", f"{label}: {_failed_build(failure)}")
        return Readiness("cold", f"{label}: the specialised kernel compiles on the first call")

    def wait_prepared(self, timeout: float | None = None) -> bool:
        return codegen.wait_for_background(timeout)

    def _load_generic(self) -> None:
        """Load the generic kernel before the first background build: that build holds
        numba's compiler lock, and the generic kernel that serves meanwhile must not wait
        behind it."""
        if not self._generic_loaded:
            tiny = np.linspace(10.0, 11.0, 64).reshape(1, 64)
            self.compute_batch(tiny, ATCConfig(use_codegen_specialization=False), tail=1,
                               mode="ema_only")
            self._generic_loaded = True

    def probe(self) -> ProbeResult:
        threads = numba.get_num_threads()
        try:
            layer: str = threading_layer()    # known once a parallel kernel has run
        except ValueError:
            layer = "chosen at the first parallel call"
        return ProbeResult(True, f"JIT, threading layer: {layer}",
                           version=numba.__version__, device=f"CPU ({threads} threads)",
                           threads=threads)

    # -- one series ----------------------------------------------------------------------------
    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        close, x = as_close_and_src(close, src)
        n = close.shape[0]
        params = kernel_params(config)
        sig = np.empty((6, n))
        feq = np.empty((6, n))
        avg = np.empty(n)
        base = np.empty(n)
        direction = np.empty(n)
        flags = np.zeros((4, n), dtype=np.bool_)
        shape = (54, n) if detail else (0, 0)
        mas, eqs = np.empty(shape), np.empty(shape)
        states = np.zeros(shape, dtype=np.int8)
        g = growth_row(n, params.lam)
        atc_series(close, x, params.lengths, params.weights, g, *kernel_scalars(params), 0,
                   sig, feq, avg, base, direction, flags[0], flags[1], flags[2], flags[3],
                   detail, mas, states, eqs)
        return ATCResult(
            average_signal=avg, signals=sig, family_equities=feq, signal_base=base,
            direction=direction, arrow_long=flags[0], arrow_short=flags[1], long=flags[2],
            short=flags[3], growth_factor=params.growth_factor_last(n),
            cut_threshold=params.cut_threshold, mas=mas if detail else None,
            states=states if detail else None, equities=eqs if detail else None,
            rate_of_change=rate_of_change(close) if detail else None, backend=self.name)

    # -- incremental EMA-only screening (core.jit.incremental) ----------------------------------
    def screen_init(self, closes: np.ndarray, config: ATCConfig,
                    tail: int = 1) -> tuple[incremental.ScreenState, BatchResult]:
        """EMA-only state after each row's history, and the result of its last bars."""
        return incremental.screen_init(closes, config, tail)

    def screen_update(self, state: incremental.ScreenState, new_bars: np.ndarray,
                      tail: int | None = None) -> BatchResult:
        """Append closed bars to the state; the result of the new bars."""
        return incremental.screen_update(state, new_bars, tail)

    def screen_forming(self, state: incremental.ScreenState, forming: np.ndarray) -> BatchResult:
        """A still-forming bar's result; the state is unchanged."""
        return incremental.screen_forming(state, forming)

    # -- batches ---------------------------------------------------------------------------------
    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        params = kernel_params(config, mode)
        nfam = params.families
        closes, starts = as_batch(closes)
        n_sym, n_bars = closes.shape
        tail = check_tail(tail, n_bars)
        out = BatchResult.allocate(mode, n_sym, tail, self.name)
        label = params.mode_label
        # One family's kernel compiles in line unless prepared; the full ATC's (larger,
        # ~1 min to compile) serves only where ``prepare`` asked for it.
        specialise = config.use_codegen_specialization and (
            nfam == 1 or (config, mode) in self._prepared)
        if specialise and not codegen.supports(params):
            out.notes.append(f"{label}: generic kernel (no specialised kernel for the Hull option)")
        elif specialise:
            if (config, mode) in self._prepared and not codegen.ready(params):
                failure = codegen.build_failure(params)
                if failure is None:
                    out.notes.append(f"{label}: generic kernel while the specialised one compiles")
                else:
                    out.notes.append(f"{label}: generic kernel ({_failed_build(failure)})")
            else:
                reason = self._screen_specialised(closes, starts, params, mode, tail, out)
                if reason is None:
                    out.notes.append(f"{label}: specialised kernel")
                    return out
                out.notes.append(f"{label}: generic kernel (specialised kernel failed: {reason})")
        avg = out.average_signal if out.average_signal is not None else np.empty((n_sym, tail))
        atc_batch(closes, starts, params.lengths, params.weights, params.lam,
                  *kernel_scalars(params), tail, out.signals, out.family_equities, avg,
                  out.direction, out.long, out.short, out.last_event, out.bars_since_event)
        return out

    def _screen_specialised(self, closes: np.ndarray, starts: np.ndarray,
                            params: KernelParams, mode: str, tail: int,
                            out: BatchResult) -> str | None:
        """Run the generated kernel; on any failure record why and return the reason."""
        try:
            kernel = codegen.specialised_screen(params)
            g = growth_row(closes.shape[1], params.lam)
            avg = out.average_signal if out.average_signal is not None else np.empty((0, 0))
            kernel(closes, starts, g, tail, out.signals, out.family_equities, avg,
                   out.direction, out.long, out.short, out.last_event, out.bars_since_event,
                   numba.get_num_threads())
            return None
        except Exception as exc:  # compile/import/run failure → the generic kernel serves
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            self._fallback(reason, params, mode)
            # A partial write must not leak into the generic path's results.
            out.signals.fill(np.nan)
            out.family_equities.fill(np.nan)
            if out.average_signal is not None:
                out.average_signal.fill(np.nan)
            out.direction.fill(np.nan)
            out.long.fill(False)
            out.short.fill(False)
            out.last_event.fill(0)
            out.bars_since_event.fill(-1)
            return reason


def _specialises(config: ATCConfig, params: KernelParams) -> bool:
    """Whether ``params`` are served by a specialised kernel when it is ready."""
    return config.use_codegen_specialization and codegen.supports(params)


def _failed_build(failure: codegen.BuildFailure) -> str:
    """A failed background build, as the notes and the readiness say it."""
    wait = max(0.0, failure.retry_at - time.monotonic())
    return f"specialised kernel failed to build: {failure.reason}; next try in {wait:.0f} s"


def _warm_screen(params: KernelParams) -> Callable[[codegen.Kernel], None]:
    """A callable that runs a screening kernel once on a tiny batch (forces compilation)."""
    def warm(kernel: codegen.Kernel) -> None:
        closes = np.linspace(10.0, 11.0, 80).reshape(1, 80)
        kernel(closes, np.zeros(1, np.int64), growth_row(80, params.lam), 1,
               np.empty((1, params.families, 1)), np.empty((1, params.families, 1)),
               np.empty((1, 1)), np.empty((1, 1)), np.zeros((1, 1), np.bool_),
               np.zeros((1, 1), np.bool_), np.zeros(1, np.int8), np.zeros(1, np.int64), 1)
    return warm
