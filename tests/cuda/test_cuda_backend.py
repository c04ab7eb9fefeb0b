"""The CUDA backend as the rest of the application sees it: importing and probing without
CuPy, runtime CUDA failures turned into BackendError, the registry falling back to the next
backend and recording why — and, on a machine with a GPU (marked ``gpu``), parity with the
numpy reference through the real CuPy path.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from core.atc import compute_reference
from core.backends.base import Backend, ProbeResult
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from cuda_backend.backend import CudaBackend
from tests.conftest import random_walk

HAVE_CUPY = importlib.util.find_spec("cupy") is not None


class _CudaRuntimeError(RuntimeError):
    """Stands in for cupy_backends.cuda.api.runtime.CUDARuntimeError (same class name, which
    is what the backend's error description keys on)."""


_CudaRuntimeError.__name__ = "CUDARuntimeError"


class FailingLauncher:
    """A launcher whose kernels fail as a real device can (illegal address, out of memory)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    def run_single(self, close, src, params, detail):
        self.calls += 1
        raise self.exc

    def run_batch(self, closes, params, tail):
        self.calls += 1
        raise self.exc


def backend_with(launcher) -> CudaBackend:
    probe = ProbeResult(True, "fake device for the tests", device="fake")
    return CudaBackend(lambda: (probe, launcher))


# -- without CuPy --------------------------------------------------------------------------
def test_package_imports_and_creates_a_backend_without_cupy():
    """A fresh interpreter: importing the package and creating the backend pull in no CuPy."""
    code = ("import sys, cuda_backend; b = cuda_backend.create_backend(); "
            "assert b.name == 'cuda'; assert 'cupy' not in sys.modules, sorted(sys.modules); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_created_backend_implements_the_protocol():
    import cuda_backend

    backend = cuda_backend.create_backend()
    assert isinstance(backend, Backend)
    assert backend.name == "cuda"


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here; the no-CuPy message cannot be seen")
def test_probe_without_cupy_says_so_and_how_to_fix_it():
    result = CudaBackend().probe()
    assert not result.available
    assert "CuPy is not installed" in result.reason
    assert "cupy-cuda12x" in result.reason


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here")
def test_compute_without_cupy_is_a_backend_error_with_the_reason():
    backend = CudaBackend()
    with pytest.raises(BackendError, match="CuPy is not installed") as err:
        backend.compute_batch(np.vstack([random_walk(50, seed=1)]), ATCConfig())
    assert err.value.backend == "cuda"
    with pytest.raises(BackendError, match="CuPy is not installed"):
        backend.compute(random_walk(50, seed=1), ATCConfig())


def test_probe_never_raises_even_when_probing_itself_fails():
    def broken_factory():
        raise OSError("libcuda.so: cannot open shared object file")

    result = CudaBackend(broken_factory).probe()
    assert not result.available
    assert "probing CUDA failed" in result.reason and "libcuda.so" in result.reason


# -- runtime failures ------------------------------------------------------------------------
def test_cuda_runtime_error_becomes_backend_error():
    exc = _CudaRuntimeError("cudaErrorMemoryAllocation: out of memory")
    launcher = FailingLauncher(exc)
    backend = backend_with(launcher)
    closes = np.vstack([random_walk(120, seed=s) for s in range(3)])
    with pytest.raises(BackendError) as err:
        backend.compute_batch(closes, ATCConfig(), tail=2, mode="full")
    assert err.value.backend == "cuda"
    assert "CUDA error" in str(err.value) and "cudaErrorMemoryAllocation" in str(err.value)
    assert err.value.__cause__ is exc
    # Recorded and shown by probe(); a non-sticky error leaves the backend usable.
    probe = backend.probe()
    assert probe.available
    assert probe.extra["runtime errors"] == "1"
    assert "cudaErrorMemoryAllocation" in probe.extra["last runtime error"]


def test_sticky_context_error_marks_the_backend_unusable():
    launcher = FailingLauncher(_CudaRuntimeError("cudaErrorIllegalAddress: an illegal memory access"))
    backend = backend_with(launcher)
    with pytest.raises(BackendError):
        backend.compute(random_walk(80, seed=2), ATCConfig())
    probe = backend.probe()
    assert not probe.available and "context unusable" in probe.reason
    # Further calls are refused without touching the (broken) device again.
    with pytest.raises(BackendError, match="unavailable"):
        backend.compute(random_walk(80, seed=2), ATCConfig())
    assert launcher.calls == 1


def test_input_errors_are_the_callers_not_the_devices():
    """Bad input raises ATCInputError before any launch (the registry must not fall back)."""
    launcher = FailingLauncher(AssertionError("must not launch"))
    backend = backend_with(launcher)
    with pytest.raises(ATCInputError):
        backend.compute(np.array([1.0, np.nan, 2.0]), ATCConfig())
    with pytest.raises(ATCInputError, match="mode"):
        backend.compute_batch(np.ones((2, 10)), ATCConfig(), mode="turbo")
    with pytest.raises(ATCInputError, match="tail"):
        backend.compute_batch(np.ones((2, 10)), ATCConfig(), tail=11)
    assert launcher.calls == 0


@pytest.mark.parametrize("operation", ["compute", "compute_batch"])
def test_registry_falls_back_and_records_the_cuda_failure(operation):
    exc = _CudaRuntimeError("cudaErrorLaunchOutOfResources: too many resources requested for launch")
    cuda = backend_with(FailingLauncher(exc))
    registry = Registry({"cuda": lambda: cuda, "numpy": NumpyBackend})
    config = ATCConfig()
    if operation == "compute":
        close = random_walk(300, seed=4)
        result = registry.compute(close, config)
        want = compute_reference(close, config)
        np.testing.assert_array_equal(result.signals, want.signals)
    else:
        closes = np.vstack([random_walk(300, seed=s) for s in range(4)])
        result = registry.compute_batch(closes, config, tail=3)
        want = compute_reference(closes[2], config)
        np.testing.assert_array_equal(result.signals[2], want.signals[:, -3:])
    assert result.backend == "numpy"
    events = registry.fallbacks()
    assert len(events) == 1
    event = events[0]
    assert (event.backend, event.fallback_to) == ("cuda", "numpy")
    assert event.operation.startswith(operation)
    assert "BackendError" in event.reason and "cudaErrorLaunchOutOfResources" in event.reason


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here")
def test_registry_skips_cuda_without_cupy_with_the_reason():
    registry = Registry({"cuda": CudaBackend, "numpy": NumpyBackend})
    assert registry.active() == "numpy"
    status = {s.name: s for s in registry.status()}
    assert not status["cuda"].available and "CuPy is not installed" in status["cuda"].reason
    # Auto mode: an unavailable backend is a skip, not a fallback event.
    registry.compute(random_walk(100, seed=5), ATCConfig())
    assert registry.fallbacks() == []


# -- on a GPU ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gpu_backend() -> CudaBackend:
    backend = CudaBackend()
    probe = backend.probe()
    if not probe.available:
        pytest.skip(f"cuda unavailable: {probe.reason}")
    return backend


@pytest.mark.gpu
def test_gpu_single_series_parity(gpu_backend):
    close = random_walk(2000, seed=21)
    for config in (ATCConfig(), ATCConfig(robustness="Wide", strategy=True, hma_kind="hull")):
        got = gpu_backend.compute(close, config, detail=True)
        want = compute_reference(close, config, detail=True)
        np.testing.assert_array_equal(got.signals, want.signals)
        np.testing.assert_array_equal(got.direction, want.direction)
        np.testing.assert_array_equal(got.long, want.long)
        np.testing.assert_array_equal(got.short, want.short)
        np.testing.assert_allclose(got.family_equities, want.family_equities, rtol=1e-9)
        np.testing.assert_allclose(got.average_signal, want.average_signal, rtol=1e-9, atol=1e-15)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["full", "ema_only"])
def test_gpu_batch_parity(gpu_backend, mode):
    closes = np.vstack([random_walk(900, seed=s) for s in range(100)])
    for row in range(0, 100, 7):
        closes[row, : (row * 13) % 800] = np.nan
    out = gpu_backend.compute_batch(closes, ATCConfig(), tail=50, mode=mode)
    nf = 6 if mode == "full" else 1
    for row in range(100):
        first = int(np.argmax(np.isfinite(closes[row])))
        want = compute_reference(closes[row, first:], ATCConfig(), families=nf)
        k = min(50, 900 - first)
        np.testing.assert_array_equal(out.signals[row, :, 50 - k:], want.signals[:nf, -k:])
        np.testing.assert_array_equal(out.long[row, 50 - k:], want.long[-k:])
        np.testing.assert_array_equal(out.short[row, 50 - k:], want.short[-k:])
