"""The CUDA backend behind the :class:`core.backends.base.Backend` protocol.

``probe()`` finds out, without raising, whether the kernels can run here and says precisely
why not (CuPy missing, no driver, driver too old, no device, compilation failed, the
self-check failed). ``compute`` and ``compute_batch`` validate inputs on the host where that
is cheap (the batch is validated on the device), run the launcher, and turn every CUDA
failure (out of memory, a launch failure, a sticky context error) into a
:class:`core.errors.BackendError` with the cause, so that the registry falls back to the
next backend for that call and records it. Failures are also kept here
(:attr:`CudaBackend.runtime_errors`) and shown in ``probe().extra``; after an error that
leaves the CUDA context unusable, the backend refuses further work with that reason.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

import numpy as np

from core.backends.base import ProbeResult
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.kernel_params import (KernelParams, families_for_mode, full_with_family_base,
                                keep_family, kernel_params)
from core.types import ATCResult, BatchArrays, BatchResult, as_series, check_tail, rate_of_change
from cuda_backend import host

NAME = "cuda"
GPU_EXTRA_HINT = "install the GPU extra: pip install 'atc-desktop[gpu]' (brings cupy-cuda12x)"
#: cudaError_t values the probe and the error messages name.
_NO_DEVICE, _INSUFFICIENT_DRIVER, _MEMORY_ALLOCATION = 100, 35, 2
#: Errors after which the CUDA context is unusable until the process restarts.
_STICKY = {"cudaErrorIllegalAddress", "cudaErrorLaunchFailure", "cudaErrorHardwareStackError",
           "cudaErrorIllegalInstruction", "cudaErrorMisalignedAddress", "cudaErrorInvalidAddressSpace",
           "cudaErrorInvalidPc", "cudaErrorAssert", "CUDA_ERROR_ILLEGAL_ADDRESS",
           "CUDA_ERROR_LAUNCH_FAILED", "cudaErrorECCUncorrectable", "cudaErrorLaunchTimeout"}
_MAX_ERRORS = 50


class LauncherLike(Protocol):
    def run_single(self, close: np.ndarray, src: np.ndarray | None, params: KernelParams,
                   detail: bool) -> dict[str, np.ndarray]: ...
    def run_batch(self, closes: np.ndarray, params: KernelParams, tail: int) -> dict[str, np.ndarray]: ...



def batch_result(out: dict[str, np.ndarray], mode: str) -> BatchResult:
    """A :class:`BatchResult` from the launcher's arrays."""
    _, _, long, short = host.decode_flags(out["flags"])
    return BatchResult.from_arrays(mode, BatchArrays(
        signals=out["sig"], family_equities=out["eq"], direction=out["dir"], long=long,
        short=short, last_event=out["last"], bars_since_event=out["since"], average_signal=out.get("avg")),
        NAME)


#: Returns the probe's verdict and, when available, the launcher to run on.
LauncherFactory = Callable[[], "tuple[ProbeResult, LauncherLike | None]"]


def _version(v: int) -> str:
    """CUDA's integer version (12040) as text (12.4)."""
    return f"{v // 1000}.{(v % 1000) // 10}"


def probe_cupy() -> tuple[ProbeResult, LauncherLike | None]:
    """Check CuPy, driver, device and compilation; build the launcher when all is well."""
    try:
        import cupy  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        return ProbeResult(False, f"CuPy is not installed ({exc}); {GPU_EXTRA_HINT}"), None
    except Exception as exc:  # a broken CuPy install raises other errors on import
        return ProbeResult(False, f"CuPy failed to import ({type(exc).__name__}: {exc}); "
                                  f"reinstall it: {GPU_EXTRA_HINT}"), None
    rt = cupy.cuda.runtime
    try:
        runtime = int(rt.runtimeGetVersion())
    except Exception as exc:
        return ProbeResult(False, f"the CUDA runtime of CuPy {cupy.__version__} failed to load "
                                  f"({type(exc).__name__}: {exc})"), None
    try:
        driver = int(rt.driverGetVersion())
    except Exception:
        driver = 0
    if driver == 0:
        return ProbeResult(False, f"no NVIDIA driver is installed or loadable (libcuda not found); "
                                  f"CuPy {cupy.__version__} needs a driver for CUDA {_version(runtime)}"), None
    try:
        count = int(rt.getDeviceCount())
    except rt.CUDARuntimeError as exc:
        status = getattr(exc, "status", None)
        if status == _INSUFFICIENT_DRIVER or driver // 1000 < runtime // 1000:
            return ProbeResult(False, f"the NVIDIA driver is too old: it supports CUDA {_version(driver)}, "
                                      f"CuPy {cupy.__version__} is built for CUDA {_version(runtime)}; "
                                      "update the driver"), None
        if status == _NO_DEVICE:
            return ProbeResult(False, "no CUDA device is visible (driver "
                                      f"{_version(driver)}; check CUDA_VISIBLE_DEVICES and the device "
                                      "nodes)"), None
        return ProbeResult(False, f"CUDA could not be initialised: {exc}"), None
    if count == 0:
        return ProbeResult(False, f"no CUDA device is visible (driver {_version(driver)})"), None
    if driver // 1000 < runtime // 1000:
        return ProbeResult(False, f"the NVIDIA driver is too old: it supports CUDA {_version(driver)}, "
                                  f"CuPy {cupy.__version__} is built for CUDA {_version(runtime)}"), None
    from cuda_backend.cupy_executor import CupyExecutor
    from cuda_backend.launcher import Launcher

    try:
        executor = CupyExecutor()
    except cupy.cuda.compiler.CompileException as exc:
        log = str(exc).strip().splitlines()
        return ProbeResult(False, "compiling the CUDA kernels with NVRTC failed: "
                                  + " | ".join(log[-6:])), None
    except Exception as exc:  # NVRTC missing, module load failure, …
        return ProbeResult(False, f"preparing the CUDA kernels failed: {type(exc).__name__}: {exc}"), None
    info = executor.info()
    launcher = Launcher(executor)
    # A small batch with near-ties, in both modes, must equal the numpy reference (discrete
    # outputs exactly, continuous within 1e-9) before CUDA is chosen.
    try:
        problems = self_check(launcher)
    except Exception as exc:
        return ProbeResult(False, f"the CUDA self-check failed on {info.name}: "
                                  f"{type(exc).__name__}: {exc}"), None
    if problems:
        return ProbeResult(False, f"the CUDA self-check differs from the numpy reference on {info.name}: "
                                  + "; ".join(problems[:3])), None
    device = (f"{info.name} (compute {info.compute_capability}, {info.sm_count} SMs, "
              f"{info.total_bytes / 2**30:.0f} GiB)")
    extra = {"driver": _version(driver), "runtime": _version(runtime)}
    extra.update({f"kernel {k}": v for k, v in info.kernels.items()})
    return ProbeResult(True, f"CuPy {cupy.__version__}, CUDA runtime {_version(runtime)}, "
                             f"driver {_version(driver)}", version=cupy.__version__, device=device,
                       threads=info.sm_count, extra=extra), launcher


def self_check(launcher: LauncherLike) -> list[str]:
    """What differs between the launcher and the numpy reference on a small batch (empty
    when nothing does): reference_check's batch, both modes, every bar."""
    from cuda_backend import reference_check   # loads the reference by name at run time

    closes, firsts, config = reference_check.check_batch()
    problems = []
    for mode in ("full", "ema_only"):
        out = batch_result(launcher.run_batch(closes, kernel_params(config, mode), closes.shape[1]), mode)
        problems += [f"{mode} {p}" for p in
                     reference_check.batch_mismatches(out, closes, firsts, config, closes.shape[1], mode)]
    return problems


def describe_error(exc: BaseException) -> str:
    """A one-line cause for a failure inside the launcher."""
    kind = type(exc).__name__
    text = str(exc).strip() or kind
    if kind == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return f"out of device memory: {text}"
    if kind in ("CUDARuntimeError", "CUDADriverError"):
        return f"CUDA error: {text}"
    if kind == "CompileException":
        return f"kernel compilation failed: {text.splitlines()[0] if text else kind}"
    return f"{kind}: {text}"


def _is_sticky(exc: BaseException) -> bool:
    text = str(exc)
    return any(name in text for name in _STICKY)


class CudaBackend:
    """CUDA kernels through CuPy (see ``cuda_backend/kernels`` and ``docs/cuda.md``).

    Parameters
    ----------
    factory : called once, on the first probe or call; returns the probe result and the
        launcher. The default checks CuPy and the device and compiles the kernels; tests
        inject other launchers (a CPU emulation, one that fails on purpose).
    """

    name = NAME

    def __init__(self, factory: LauncherFactory | None = None) -> None:
        self._factory = factory or probe_cupy
        self._lock = threading.Lock()
        self._probe: ProbeResult | None = None
        self._launcher: LauncherLike | None = None
        self._broken: str | None = None
        self.runtime_errors: list[str] = []

    # -- availability ------------------------------------------------------------------
    def probe(self) -> ProbeResult:
        with self._lock:
            if self._probe is None:
                try:
                    self._probe, self._launcher = self._factory()
                except Exception as exc:  # the probe must never raise
                    self._probe = ProbeResult(False, f"probing CUDA failed: {type(exc).__name__}: {exc}")
                    self._launcher = None
            result = self._probe
            if self._broken is not None:
                return ProbeResult(False, f"CUDA context unusable after an error: {self._broken}",
                                   version=result.version, device=result.device)
            if self.runtime_errors:
                extra = dict(result.extra)
                extra["runtime errors"] = str(len(self.runtime_errors))
                extra["last runtime error"] = self.runtime_errors[-1]
                result = ProbeResult(result.available, result.reason, result.version, result.device,
                                     result.threads, extra)
            return result

    def _ready(self) -> LauncherLike:
        probe = self.probe()
        if not probe.available or self._launcher is None:
            raise BackendError(f"backend cuda is unavailable: {probe.reason}", backend=NAME)
        return self._launcher

    def _run(self, what: str, call: Callable[[LauncherLike], Any]) -> Any:
        launcher = self._ready()
        try:
            return call(launcher)
        except ATCInputError:
            raise
        except Exception as exc:
            message = f"{what} on the GPU failed: {describe_error(exc)}"
            with self._lock:
                self.runtime_errors.append(message)
                del self.runtime_errors[:-_MAX_ERRORS]
                if _is_sticky(exc):
                    self._broken = message
            raise BackendError(message, backend=NAME) from exc

    # -- protocol ------------------------------------------------------------------------
    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        close = as_series(close)
        if src is not None:
            src = as_series(src, "src")
            if src.shape != close.shape:
                raise ATCInputError(f"src has {src.size} bars but close has {close.size}", field="src")
        params = kernel_params(config, "full")
        out = self._run("compute", lambda la: la.run_single(close, src, params, bool(detail)))
        long_arrow, short_arrow, long, short = host.decode_flags(out["flags"][0])
        return ATCResult(
            average_signal=out["avg"][0], signals=out["sig"][0], family_equities=out["eq"][0],
            signal_base=out["base"][0], direction=out["dir"][0], arrow_long=long_arrow,
            arrow_short=short_arrow, long=long, short=short,
            growth_factor=params.growth_factor_last(close.shape[0]),
            cut_threshold=params.cut_threshold,
            mas=out.get("mas") if detail else None,
            states=out.get("states") if detail else None,
            equities=out.get("equities") if detail else None,
            rate_of_change=rate_of_change(close) if detail else None,
            backend=NAME,
        )

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        families = families_for_mode(mode)          # ATCInputError for an unknown mode
        try:
            arr = np.ascontiguousarray(closes, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ATCInputError(f"closes is not numeric: {exc}", field="closes") from None
        if arr.ndim != 2:
            raise ATCInputError(f"closes must be 2-D (symbols, bars), got shape {arr.shape}", field="closes")
        tail = check_tail(tail, arr.shape[1])
        out: dict[str, np.ndarray]
        if arr.shape[0] == 0:
            out = {"sig": np.empty((0, families, tail)), "eq": np.empty((0, families, tail)),
                   "dir": np.empty((0, tail)), "flags": np.zeros((0, tail), dtype=np.uint8),
                   "last": np.zeros(0, dtype=np.int8), "since": np.zeros(0, dtype=np.int64),
                   "avg": np.empty((0, tail))}
        else:
            # The device validates the rows (core.types.as_batch's contract) while it
            # prepares them; a bad row comes back as ATCInputError.
            params = kernel_params(config, mode)
            if params.families == 1 and params.family != 0:
                # One family other than EMA: the full kernel with that family as §9's base,
                # its rows kept (the same bits, at the full cost).
                full = full_with_family_base(params)
                out = self._run(f"compute_batch[{mode}]", lambda la: la.run_batch(arr, full, tail))
                return keep_family(batch_result(out, "full"), params, mode)
            out = self._run(f"compute_batch[{mode}]", lambda la: la.run_batch(arr, params, tail))
        return batch_result(out, mode)
