"""The GPU self-test's parity part, run here on the CPU emulation of the kernels: it must
pass on the real kernels and must notice a wrong value (so a green run on a GPU means
something)."""
from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from core.agreement import column_mismatch
from tools import gpu_selftest
from tests.cuda import emulator


@pytest.fixture(scope="module")
def emulated(emu_lib):
    backend, _ = emulator.emulated_backend(emu_lib)
    return backend


def test_golden_parity_passes_on_the_kernels(emulated):
    report = gpu_selftest.parity_golden(emulated)
    assert report.failures == []
    assert report.checked >= 8 and report.ok                  # ties/ included


def test_random_parity_passes_on_the_kernels(emulated):
    report = gpu_selftest.parity_random(emulated, symbols=60, per_config=20, seed=5)
    assert report.failures == []
    assert report.checked == 60


class _OffByOneCent:
    """A backend whose last Layer-1 signal of row 3 is one cent off."""

    def __init__(self, inner):
        self.inner = inner

    def compute_batch(self, closes, config, tail=1, mode="full"):
        out = self.inner.compute_batch(closes, config, tail=tail, mode=mode)
        sig = out.signals.copy()
        sig[3, 0, -1] = sig[3, 0, -1] + 0.01 if np.isfinite(sig[3, 0, -1]) else 0.5
        return dataclasses.replace(out, signals=sig)


def test_random_parity_notices_a_one_cent_difference(emulated):
    report = gpu_selftest.parity_random(_OffByOneCent(emulated), symbols=20, per_config=20, seed=5)
    assert not report.ok
    assert any("row 3" in f and "signals" in f for f in report.failures)


def test_column_rule_is_exact_for_discrete_and_relative_for_continuous():
    a = np.array([1.0, np.nan, 2.0])
    assert column_mismatch("EMA_Signal", a, a.copy()) is None
    assert column_mismatch("EMA_Signal", a, a + np.array([1e-15, 0, 0])) is not None
    assert column_mismatch("EMA_Equity", a, a * (1 + 1e-12)) is None
    assert column_mismatch("EMA_Equity", a, a * (1 + 1e-8)) is not None
    assert column_mismatch("direction", a, np.array([1.0, 0.0, 2.0])) is not None
    # The MAs are TradingView's values to the last bit (spec §4.8): compared exactly.
    assert column_mismatch("WMA2", a, a * (1 + 1e-15)) is not None
    assert column_mismatch("WMA2", a, a.copy()) is None


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_command_line_without_a_gpu_says_why(capsys):
    assert gpu_selftest.main(["--no-timings"]) == 2
    assert "no usable GPU: CuPy is not installed" in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_runs_from_a_checkout_as_a_tool_outside_the_backend_package():
    """``python -m tools.gpu_selftest`` is the documented command; the installed backend
    package carries only the probe's reference check."""
    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "tools.gpu_selftest", "--no-timings"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stdout.startswith("no usable GPU: CuPy is not installed")
    assert importlib.util.find_spec("cuda_backend.gpu_selftest") is None


class _FakeEvent:
    log: list = []

    def record(self, stream):
        self.log.append(("record", stream))

    def synchronize(self):
        pass


def test_kernel_clock_times_only_the_main_kernels(emu_lib, monkeypatch):
    """The event wrapper around ``launch`` (CuPy faked: no GPU here) times the ATC kernels,
    not the prepare kernel, keeps results unchanged and restores the executor on close."""
    import sys
    import types

    from core.config import ATCConfig
    from core.kernel_params import kernel_params
    from cuda_backend.launcher import Launcher
    from tests.conftest import random_walk

    elapsed = iter([1.5, 2.5, 4.0])
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(Event=_FakeEvent, get_elapsed_time=lambda a, b: next(elapsed))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    _FakeEvent.log = []

    launcher = Launcher(emulator.EmuExecutor(emu_lib))
    # One warp of symbols: one chunk, one launch per kernel.
    closes = np.vstack([random_walk(150, seed=s) for s in range(32)])
    full, ema_only = kernel_params(ATCConfig(), "full"), kernel_params(ATCConfig(), "ema_only")
    want = launcher.run_batch(closes, full, 2)
    original = launcher.executor.launch
    clock = gpu_selftest.KernelClock(launcher)
    got = launcher.run_batch(closes, full, 2)
    launcher.run_batch(closes, ema_only, 2)
    kernels = [k for k, _, _ in launcher.executor.launches[-4:]]
    assert kernels == ["atc_prepare_kernel", "atc_full_kernel", "atc_prepare_kernel", "atc_ema_only_kernel"]
    assert len(clock.pairs) == 2 and len(_FakeEvent.log) == 4       # two main kernels, start + stop each
    assert clock.take_ms() == 4.0 and clock.pairs == []
    clock.close()
    assert launcher.executor.launch == original
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
