"""probe(): a precise reason for every way the CUDA backend can be unavailable.

CuPy is faked where a real one would need a GPU machine: the probe's decisions depend only
on what the CuPy API reports (versions, device count, errors and their status codes).
"""
from __future__ import annotations

import subprocess
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

import cuda_backend
from cuda_backend import backend as cuda_module
from cuda_backend import cupy_executor as cupy_executor_module
from cuda_backend import launcher as launcher_module
from tests.conftest import REPO
from tests.cuda import emulator


class FakeRuntimeError(RuntimeError):
    """Mimics cupy_backends' CUDARuntimeError: a message and a cudaError_t status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeCompileException(Exception):
    pass


def fake_cupy(driver: int = 12040, runtime: int = 12090, count: int = 1,
              count_error: Exception | None = None) -> types.ModuleType:
    module = types.ModuleType("cupy")
    module.__version__ = "13.6.0"

    def device_count() -> int:
        if count_error is not None:
            raise count_error
        return count

    module.cuda = SimpleNamespace(
        runtime=SimpleNamespace(runtimeGetVersion=lambda: runtime, driverGetVersion=lambda: driver,
                                getDeviceCount=device_count, CUDARuntimeError=FakeRuntimeError),
        compiler=SimpleNamespace(CompileException=FakeCompileException),
    )
    return module


def probe_with(monkeypatch, cupy_module) -> str:
    monkeypatch.setitem(sys.modules, "cupy", cupy_module)
    result = cuda_module.CudaBackend().probe()
    assert not result.available
    return result.reason


def test_package_imports_and_probes_without_cupy():
    """The registry imports cuda_backend lazily; nothing may import CuPy at import time, and
    without CuPy the probe says so and how to install it."""
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import cuda_backend, cuda_backend.backend, cuda_backend.launcher, cuda_backend.cupy_executor, cuda_backend.host\n"
            "b = cuda_backend.create_backend(); p = b.probe()\n"
            "print(p.available); print(p.reason); print(b.name)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    available, reason, name = done.stdout.strip().splitlines()
    assert available == "False" and name == "cuda"
    assert reason.startswith("CuPy is not installed")
    assert "pip install 'atc-desktop[gpu]'" in reason


def test_importing_the_package_does_not_import_cupy():
    code = ("import sys, cuda_backend, cuda_backend.backend, cuda_backend.launcher, cuda_backend.host, "
            "cuda_backend.cupy_executor, cuda_backend.nvrtc_check; cuda_backend.create_backend(); print('cupy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_create_backend_implements_the_protocol():
    from core.backends.base import Backend

    backend = cuda_backend.create_backend()
    assert isinstance(backend, Backend) and backend.name == "cuda"


def test_no_driver(monkeypatch):
    reason = probe_with(monkeypatch, fake_cupy(driver=0))
    assert reason == ("no NVIDIA driver is installed or loadable (libcuda not found); "
                      "CuPy 13.6.0 needs a driver for CUDA 12.9")


def test_driver_too_old(monkeypatch):
    error = FakeRuntimeError(35, "cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    reason = probe_with(monkeypatch, fake_cupy(driver=11080, count_error=error))
    assert reason == ("the NVIDIA driver is too old: it supports CUDA 11.8, CuPy 13.6.0 is built for "
                      "CUDA 12.9; update the driver")


def test_no_device_visible(monkeypatch):
    error = FakeRuntimeError(100, "cudaErrorNoDevice: no CUDA-capable device is detected")
    reason = probe_with(monkeypatch, fake_cupy(count_error=error))
    assert reason.startswith("no CUDA device is visible (driver 12.4")
    assert "CUDA_VISIBLE_DEVICES" in reason
    assert probe_with(monkeypatch, fake_cupy(count=0)) == "no CUDA device is visible (driver 12.4)"


def test_other_initialisation_error(monkeypatch):
    error = FakeRuntimeError(3, "cudaErrorInitializationError: initialization error")
    reason = probe_with(monkeypatch, fake_cupy(count_error=error))
    assert reason == "CUDA could not be initialised: cudaErrorInitializationError: initialization error"


def test_compilation_failure_gives_the_log(monkeypatch):
    class FailingExecutor:
        def __init__(self, *args, **kwargs):
            raise FakeCompileException("atc_full.cu(12): error: identifier \"x\" is undefined\n"
                                       "1 error detected in the compilation of \"atc_module.cu\".")

    monkeypatch.setattr(cupy_executor_module, "CupyExecutor", FailingExecutor)
    reason = probe_with(monkeypatch, fake_cupy())
    assert reason.startswith("compiling the CUDA kernels with NVRTC failed:")
    assert 'identifier "x" is undefined' in reason


def test_missing_nvrtc_or_module_load_failure(monkeypatch):
    class FailingExecutor:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("CuPy failed to load libnvrtc.so.12")

    monkeypatch.setattr(cupy_executor_module, "CupyExecutor", FailingExecutor)
    reason = probe_with(monkeypatch, fake_cupy())
    assert reason == "preparing the CUDA kernels failed: RuntimeError: CuPy failed to load libnvrtc.so.12"


def test_probe_passes_with_a_working_device(monkeypatch, emu_lib):
    """The whole success path of the probe, on the CPU emulation standing in for a device:
    the self-check runs the kernels end to end."""
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    monkeypatch.setattr(cupy_executor_module, "CupyExecutor", lambda: emulator.EmuExecutor(emu_lib))
    backend = cuda_module.CudaBackend()
    result = backend.probe()
    assert result.available, result.reason
    assert result.reason == "CuPy 13.6.0, CUDA runtime 12.9, driver 12.4"
    assert result.device.startswith("CPU emulation (compute emu, 1 SMs")
    assert result.extra["driver"] == "12.4"
    out = backend.compute(np.linspace(10.0, 12.0, 80), cuda_backend.backend.ATCConfig())
    assert out.backend == "cuda"


def test_self_check_failure(monkeypatch, emu_lib):
    class BrokenExecutor(emulator.EmuExecutor):
        def launch(self, kernel, grid, block, args, stream):
            raise FakeRuntimeError(98, "cudaErrorInvalidDeviceFunction: invalid device function")

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    monkeypatch.setattr(cupy_executor_module, "CupyExecutor", lambda: BrokenExecutor(emu_lib))
    reason = cuda_module.CudaBackend().probe().reason
    assert reason == ("the CUDA self-check failed on CPU emulation: FakeRuntimeError: "
                      "cudaErrorInvalidDeviceFunction: invalid device function")


def test_probe_never_raises():
    def explode():
        raise OSError("libcuda.so: cannot open shared object file")

    result = cuda_module.CudaBackend(explode).probe()
    assert not result.available
    assert result.reason == "probing CUDA failed: OSError: libcuda.so: cannot open shared object file"


def test_unavailable_backend_refuses_work_with_the_reason():
    from core.errors import BackendError

    backend = cuda_module.CudaBackend(lambda: (cuda_module.ProbeResult(False, "no CUDA device is visible"), None))
    with pytest.raises(BackendError, match="backend cuda is unavailable: no CUDA device is visible"):
        backend.compute(np.linspace(1.0, 2.0, 50), cuda_backend.backend.ATCConfig())


def test_self_check_compares_with_the_reference_exactly(monkeypatch, emu_lib):
    """Kernels that run and return finite values, but values that differ from the numpy
    reference (here: the decay constant off by 1e-7), keep CUDA from being chosen; the
    reason names the first differences."""
    from cuda_backend import host

    class SkewedExecutor(emulator.EmuExecutor):
        def set_params(self, data):
            p = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=host.PARAMS_DTYPE).copy()
            p["decay"] *= 1.0 + 1e-7
            super().set_params(np.frombuffer(p.tobytes(), dtype=np.uint8))

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    monkeypatch.setattr(cupy_executor_module, "CupyExecutor", lambda: SkewedExecutor(emu_lib))
    result = cuda_module.CudaBackend().probe()
    assert not result.available
    assert result.reason.startswith("the CUDA self-check differs from the numpy reference on CPU emulation: ")
    assert "full row 0: equities" in result.reason


def test_self_check_batch_holds_near_ties(emu_lib):
    """The probe's batch is not a smooth line: cent prices with flat stretches (MAs equal
    to the close), a pip series, a constant series and a late start; on the emulation it
    equals the reference in both modes."""
    from core.atc.moving_averages import sma, wma
    from cuda_backend import reference_check

    closes, firsts, config = reference_check.check_batch()
    assert closes.shape == (4, 300) and firsts == [0, 0, 0, 170]
    cents = closes[0]
    near = [int((np.abs(ma - cents) <= 1e-9 * cents).sum()) for ma in (sma(cents, 9), wma(cents, 14))]
    assert near[0] > 20 and near[1] > 10
    assert (np.unique(closes[2]) == [12.34]).all()
    assert np.isnan(closes[3, :170]).all() and np.isfinite(closes[3, 170:]).all()
    launcher = launcher_module.Launcher(emulator.EmuExecutor(emu_lib))
    assert cuda_module.self_check(launcher) == []
