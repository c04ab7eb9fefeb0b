"""The generated EMA-only screening kernel against the generic kernel, and its fallback."""
from __future__ import annotations

import time

import numpy as np
import pytest

from core.backends.registry import Registry
from core.config import ATCConfig
from core.jit import codegen
from core.jit.backend import GENERIC, SPECIALISED, NumbaBackend
from core.kernel_params import KernelParams
from tests.conftest import random_walk

CONFIGS = [ATCConfig(), ATCConfig(cutout=120, ema_len=9, robustness="Narrow", ema_w=0.3,
                                  strategy=True, long_threshold=0.4, short_threshold=-0.05)]


def batch(rows: int = 9, bars: int = 700) -> np.ndarray:
    closes = np.vstack([random_walk(bars, seed=100 + s) for s in range(rows)])
    for row, first in enumerate([0, 3, 50, 200, 500, 690, 698, 0, 10][:rows]):
        closes[row, :first] = np.nan
    return closes


def outputs(result):
    return (result.signals, result.family_equities, result.direction, result.long,
            result.short, result.last_event, result.bars_since_event)


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "cutout-strategy"])
def test_specialised_equals_generic_ema_outputs_bit_for_bit(config):
    b = NumbaBackend()
    closes = batch()
    fast = b.compute_batch(closes, config, tail=400, mode="ema_only")
    generic = b.compute_batch(closes, config.replace(use_codegen_specialization=False),
                              tail=400, mode="ema_only")
    assert fast.notes == ["EMA-only: specialised kernel"] and not b.specialisation_failures
    for a, g in zip(outputs(fast), outputs(generic)):
        np.testing.assert_array_equal(a, g)


def test_ema_only_signal_equals_the_full_paths_ema_signal():
    b = NumbaBackend()
    closes = batch()
    screen = b.compute_batch(closes, ATCConfig(), tail=500, mode="ema_only")
    full = b.compute_batch(closes, ATCConfig(), tail=500, mode="full")
    np.testing.assert_array_equal(screen.signals[:, 0], full.signals[:, 0])
    np.testing.assert_array_equal(screen.family_equities[:, 0], full.family_equities[:, 0])


def test_generated_source_bakes_in_the_configuration():
    text = codegen.kernel_source(KernelParams.from_config(ATCConfig(ema_len=40, cutout=7),
                                                          "ema_only"))
    assert "LENGTHS_ema = np.array([40, 41, 42, 44, 46, 39, 38, 36, 34]" in text
    for length in (40, 41, 42, 44, 46, 39, 38, 36, 34):
        assert f"ma = mp + {2.0 / (length + 1)!r} * (c - mp)" in text
    assert "starts[rows[k]] + 7" in text
    compile(text, "generated", "exec")


def test_compile_failure_falls_back_to_generic_with_the_reason(monkeypatch):
    b = NumbaBackend()
    closes = batch()
    good = b.compute_batch(closes, ATCConfig(use_codegen_specialization=False), tail=50,
                           mode="ema_only")
    monkeypatch.setattr(codegen, "kernel_source", lambda params: "def screen(:\n")
    monkeypatch.setattr(codegen, "_loaded", {})
    fell = b.compute_batch(closes, ATCConfig(ema_len=31), tail=50, mode="ema_only")
    assert len(b.specialisation_failures) == 1
    assert "SyntaxError" in b.specialisation_failures[0][1]
    assert "specialised kernel failed: SyntaxError" in fell.notes[0]
    reference = b.compute_batch(closes, ATCConfig(ema_len=31, use_codegen_specialization=False),
                                tail=50, mode="ema_only")
    for a, g in zip(outputs(fell), outputs(reference)):
        np.testing.assert_array_equal(a, g)
    assert not np.array_equal(good.signals, fell.signals, equal_nan=True)  # ema_len changed


def test_kernel_failing_at_run_time_also_falls_back(monkeypatch):
    def exploding(params):
        def kernel(*args):
            args[4][:] = 123.0          # a partial write that must not leak
            raise MemoryError("simulated")
        return kernel
    monkeypatch.setattr(codegen, "specialised_screen", exploding)
    b = NumbaBackend()
    closes = batch()
    out = b.compute_batch(closes, ATCConfig(), tail=20, mode="ema_only")
    ref = b.compute_batch(closes, ATCConfig(use_codegen_specialization=False), tail=20,
                          mode="ema_only")
    assert "MemoryError" in out.notes[0]
    for a, g in zip(outputs(out), outputs(ref)):
        np.testing.assert_array_equal(a, g)


def test_generated_kernel_is_written_once_and_reused(atc_home):
    config = KernelParams.from_config(ATCConfig(ema_len=17), "ema_only")
    codegen.specialised_screen(config)
    files = list((atc_home / "cache" / "codegen").glob("atc_ema_screen_*.py"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    codegen._loaded.clear()
    codegen.specialised_screen(config)
    assert files[0].stat().st_mtime_ns == mtime


@pytest.mark.jit_only           # uncompiled, the "build" is an import that can finish first
def test_background_compile_serves_generic_results_until_ready():
    config = ATCConfig(ema_len=23, cutout=3)
    b = NumbaBackend()
    closes = batch()
    b.prepare(config, "ema_only")
    first = b.compute_batch(closes, config, tail=30, mode="ema_only")
    assert first.notes == ["EMA-only: generic kernel while the specialised one compiles"]
    params = KernelParams.from_config(config, "ema_only")
    thread = codegen._compiling[codegen._digest(codegen.kernel_source(params))]
    assert not codegen.ready(params) or not thread.is_alive()   # ready only once compiled
    assert codegen.wait_for_background(timeout=300)
    assert not thread.is_alive() and codegen.ready(params)
    second = b.compute_batch(closes, config, tail=30, mode="ema_only")
    assert second.notes == ["EMA-only: specialised kernel"]
    for a, g in zip(outputs(first), outputs(second)):
        np.testing.assert_array_equal(a, g)
    assert not b.specialisation_failures


def test_failing_background_build_is_a_recorded_fallback_retried_with_back_off(
        monkeypatch, capsys):
    """A background build that fails (here: the generated module does not compile) shows
    in the registry's fallback log and in `atc backends`, the generic kernel keeps serving,
    and the build is retried only after the back-off, which doubles."""
    from core.cli.main import main
    import core.backends.registry as registry_module

    builds = []
    real_import = codegen._import_kernel

    def broken_import(params):
        builds.append(params)
        raise RuntimeError("simulated compile failure")

    monkeypatch.setattr(codegen, "_import_kernel", broken_import)
    monkeypatch.setattr(codegen, "_failures", {})
    clock = [1000.0]
    monkeypatch.setattr(codegen.time, "monotonic", lambda: clock[0])
    registry = Registry({"numba": NumbaBackend})
    monkeypatch.setattr(registry_module, "_default", registry)
    closes = batch()
    config = ATCConfig(ema_len=19, cutout=2)
    reference = NumbaBackend().compute_batch(
        closes, config.replace(use_codegen_specialization=False), tail=40, mode="ema_only")

    def screen():
        registry.prepare(config, "ema_only")
        out = registry.compute_batch(closes, config, tail=40, mode="ema_only")
        assert codegen.wait_for_background(timeout=60)
        for a, g in zip(outputs(out), outputs(reference)):
            np.testing.assert_array_equal(a, g)
        return out

    screen()
    assert len(builds) == 1
    (event,) = registry.fallbacks()
    assert (event.backend, event.fallback_to) == (SPECIALISED, GENERIC)
    assert "simulated compile failure" in event.reason and "next try in 30 s" in event.reason
    out = screen()                                   # within the back-off: no new build
    assert len(builds) == 1 and len(registry.fallbacks()) == 1
    assert "failed to build: RuntimeError: simulated compile failure" in out.notes[0]
    assert "next try in 30 s" in out.notes[0]
    clock[0] += 29.0
    screen()
    assert len(builds) == 1
    clock[0] += 2.0                                  # past the first back-off: one retry
    screen()
    assert len(builds) == 2
    assert "next try in 60 s" in registry.fallbacks()[-1].reason
    clock[0] += 31.0
    screen()
    assert len(builds) == 2                          # the back-off doubled
    assert main(["backends"]) == 0
    printed = capsys.readouterr().out
    assert "simulated compile failure" in printed
    assert "(attempt 2)" in printed                  # from the on-disk record
    # Once the build works again, the specialised kernel serves and the record is gone.
    monkeypatch.setattr(codegen, "_import_kernel", real_import)
    clock[0] += 60.0
    screen()
    assert codegen.ready(KernelParams.from_config(config, "ema_only"))
    assert registry.compute_batch(closes, config, tail=40,
                                  mode="ema_only").notes == ["EMA-only: specialised kernel"]
    assert codegen.recorded_failures() == []


def test_readiness_says_where_the_specialised_kernel_stands(monkeypatch):
    """cold (the first call compiles in line) → preparing (a background build runs) →
    failed (with the reason and the back-off) → ready; nothing to prepare without a
    specialised kernel. The full ATC's kernel never compiles in line: ready (the generic
    kernel serves) until prepared."""
    config = ATCConfig(ema_len=31, cutout=5)
    b = NumbaBackend()
    assert b.readiness(config, "full").ready
    assert b.readiness(config.replace(use_codegen_specialization=False), "ema_only").ready
    assert b.readiness(config, "ema_only").state == "cold"
    started = []
    monkeypatch.setattr(codegen, "compile_in_background",
                        lambda p, warm, on_failure: started.append(p.mode_label) or True)
    monkeypatch.setattr(codegen, "building", lambda p: True)
    assert b.prepare(config, "ema_only").state == "preparing" and started == ["EMA-only"]
    assert b.prepare(config, "full").state == "preparing"
    assert started == ["EMA-only", "full ATC"]
    assert b.prepare(config.replace(hma_kind="hull"), "full").ready     # no kernel for it
    monkeypatch.setattr(codegen, "building", lambda p: False)
    failure = codegen.BuildFailure("d", "RuntimeError: boom", 0.0, 1, 30.0,
                                   time.monotonic() + 30.5)
    monkeypatch.setattr(codegen, "build_failure", lambda p: failure)
    got = b.readiness(config, "ema_only")
    assert got.state == "failed" and "RuntimeError: boom" in got.reason
    assert "next try in 30 s" in got.reason
    monkeypatch.setattr(codegen, "ready", lambda p: True)
    assert b.readiness(config, "ema_only").ready
    assert b.prepare(config, "ema_only").ready and started == ["EMA-only", "full ATC"]
