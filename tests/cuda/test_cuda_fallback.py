"""A CUDA failure at run time falls back to the next backend for that call, is recorded by
the registry and kept by the backend (shown by ``atc backends`` and the settings panel);
bad input is the caller's error, never a fallback."""
from __future__ import annotations

import numpy as np
import pytest

from core.atc import compute_reference
from core.backends.base import ProbeResult
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from cuda_backend.backend import CudaBackend
from tests.conftest import random_walk
from tests.cuda import emulator


class OutOfMemoryError(Exception):
    """Same name as cupy.cuda.memory.OutOfMemoryError, which the backend recognises."""


class CUDARuntimeError(RuntimeError):
    """Same name as cupy_backends' CUDARuntimeError."""


class FailingLauncher:
    """Fails every call with ``error`` (counting the calls)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def run_single(self, *args, **kwargs):
        self.calls += 1
        raise self.error

    def run_batch(self, *args, **kwargs):
        self.calls += 1
        raise self.error


def registry_with(cuda: CudaBackend) -> Registry:
    return Registry({"cuda": lambda: cuda, "numpy": NumpyBackend})


def available(launcher) -> CudaBackend:
    return CudaBackend(lambda: (ProbeResult(True, "injected", device="test device"), launcher))


def test_out_of_memory_falls_back_and_is_recorded():
    launcher = FailingLauncher(OutOfMemoryError("Out of memory allocating 4,000,000,000 bytes"))
    cuda = available(launcher)
    registry = registry_with(cuda)
    close = random_walk(300, seed=1)
    result = registry.compute(close, ATCConfig())
    assert result.backend == "numpy"
    np.testing.assert_array_equal(result.signals, compute_reference(close, ATCConfig()).signals)
    (event,) = registry.fallbacks()
    assert (event.backend, event.fallback_to, event.operation) == ("cuda", "numpy", "compute")
    assert event.reason == ("BackendError: compute on the GPU failed: out of device memory: "
                            "Out of memory allocating 4,000,000,000 bytes")
    assert cuda.runtime_errors == [event.reason.removeprefix("BackendError: ")]
    probe = cuda.probe()
    assert probe.available                          # a transient error: the next call tries again
    assert probe.extra["runtime errors"] == "1"
    assert "out of device memory" in probe.extra["last runtime error"]
    registry.compute_batch(np.vstack([close, close]), ATCConfig(), tail=3, mode="ema_only")
    assert launcher.calls == 2
    assert [e.operation for e in registry.fallbacks()] == ["compute", "compute_batch[ema_only]"]


def test_a_launch_failure_makes_the_context_unusable():
    error = CUDARuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")
    launcher = FailingLauncher(error)
    cuda = available(launcher)
    registry = registry_with(cuda)
    closes = np.vstack([random_walk(200, seed=s) for s in range(3)])
    out = registry.compute_batch(closes, ATCConfig(), tail=2)
    assert out.backend == "numpy"
    assert registry.fallbacks()[0].reason == (
        "BackendError: compute_batch[full] on the GPU failed: CUDA error: "
        "cudaErrorIllegalAddress: an illegal memory access was encountered")
    probe = cuda.probe()
    assert not probe.available
    assert probe.reason.startswith("CUDA context unusable after an error: compute_batch[full] on the GPU failed")
    with pytest.raises(BackendError, match="context unusable"):
        cuda.compute(closes[0], ATCConfig())
    assert launcher.calls == 1                       # refused without touching the device again


def test_the_batch_falls_back_with_the_same_numbers():
    cuda = available(FailingLauncher(MemoryError("a chunk of 32 symbols needs 9000.0 MiB")))
    registry = registry_with(cuda)
    closes = np.vstack([random_walk(400, seed=s) for s in range(5)])
    closes[2, :100] = np.nan
    out = registry.compute_batch(closes, ATCConfig(), tail=10)
    want = NumpyBackend().compute_batch(closes, ATCConfig(), tail=10)
    np.testing.assert_array_equal(out.signals, want.signals)
    assert "out of device memory: a chunk of 32 symbols" in registry.fallbacks()[0].reason


def test_bad_input_is_not_a_fallback(emu_lib):
    cuda, _ = emulator.emulated_backend(emu_lib)
    registry = registry_with(cuda)
    closes = np.vstack([random_walk(100, seed=s) for s in range(4)])
    closes[1, 50] = 0.0
    with pytest.raises(ATCInputError, match="closes row 1 at bar 50 is "):
        registry.compute_batch(closes, ATCConfig(), tail=1)
    with pytest.raises(ATCInputError, match="close at bar 3"):
        registry.compute(np.array([1.0, 2.0, 3.0, -1.0]), ATCConfig())
    assert registry.fallbacks() == []
    assert cuda.runtime_errors == []


def test_a_working_backend_serves_the_call(emu_lib):
    cuda, _ = emulator.emulated_backend(emu_lib)
    registry = registry_with(cuda)
    out = registry.compute_batch(np.vstack([random_walk(150, seed=s) for s in range(3)]), ATCConfig())
    assert out.backend == "cuda" and registry.fallbacks() == []
    assert registry.active() == "cuda"


def test_status_lists_cuda_with_its_reason():
    cuda = CudaBackend(lambda: (ProbeResult(False, "no CUDA device is visible (driver 12.4)"), None))
    rows = {row.name: row for row in registry_with(cuda).status()}
    assert not rows["cuda"].available
    assert rows["cuda"].reason == "no CUDA device is visible (driver 12.4)"
    assert rows["numpy"].active
