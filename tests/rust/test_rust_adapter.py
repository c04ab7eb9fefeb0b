"""The Rust adapter: errors surface as the project's exceptions, a missing or broken
extension is reported by the probe and the registry falls back to numba, the probe shows
version and threads, and the GIL is released while computing."""
from __future__ import annotations

import dataclasses
import re
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

import rust_backend
from core.backends.base import Backend
from core.backends.registry import Registry
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.kernel_params import KernelParams
from core.types import rate_of_change
from rust_backend import backend as adapter
from rust_backend.backend import RustBackend
from tests.rust.rust_helpers import random_walk

CARGO_TOML = Path(rust_backend.__file__).with_name("Cargo.toml")


def native_params(**changes) -> KernelParams:
    """The default configuration's kernel parameters with some attributes replaced."""
    return dataclasses.replace(KernelParams.from_config(ATCConfig()), **changes)


# -- probe -----------------------------------------------------------------------------------
def test_probe_reports_crate_version_threads_and_device(rust):
    probe = rust.probe()
    assert probe.available, probe.reason
    crate_version = re.search(r'^version = "([^"]+)"', CARGO_TOML.read_text(), re.M).group(1)
    assert probe.version == crate_version
    native = rust._native
    assert probe.threads == native.thread_count() >= 1
    assert probe.device == f"CPU ({probe.threads} threads)"
    assert probe.extra["simd"] in ("baseline", "avx2", "avx512")
    assert isinstance(rust, Backend) and rust.name == "rust"


def test_registry_status_lists_rust_with_version_and_threads(rust):
    rows = {s.name: s for s in Registry().status()}
    assert rows["rust"].available
    assert rows["rust"].version == rust.probe().version
    assert rows["rust"].threads == rust.probe().threads


# -- errors ------------------------------------------------------------------------------------
def test_adapter_validates_series_and_batches(rust):
    cfg = ATCConfig()
    with pytest.raises(ATCInputError, match="1-D"):
        rust.compute(np.ones((3, 40)), cfg)
    with pytest.raises(ATCInputError, match="bar 7"):
        bad = random_walk(np.random.default_rng(0), 40)
        bad[7] = np.nan
        rust.compute(bad, cfg)
    with pytest.raises(ATCInputError, match="src"):
        close = random_walk(np.random.default_rng(1), 40)
        rust.compute(close, cfg, src=close[:-1])
    with pytest.raises(ATCInputError, match="2-D"):
        rust.compute_batch(np.ones(40), cfg)
    with pytest.raises(ATCInputError, match="tail"):
        rust.compute_batch(np.ones((2, 40)), cfg, tail=41)
    with pytest.raises(ATCInputError, match="mode"):
        rust.compute_batch(np.ones((2, 40)), cfg, mode="fast")


def test_adapter_converts_dtype_and_layout(rust):
    """Integer, list and non-contiguous inputs are converted before the zero-copy call."""
    close = random_walk(np.random.default_rng(2), 300)
    want = rust.compute(close, ATCConfig()).average_signal
    strided = np.repeat(close, 2)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(rust.compute(strided, ATCConfig()).average_signal, want)
    np.testing.assert_array_equal(rust.compute(close.tolist(), ATCConfig()).average_signal, want)
    ints = np.arange(100, 400, dtype=np.int32)
    assert rust.compute(ints, ATCConfig()).average_signal.shape == (300,)


def test_native_rejects_bad_arrays_with_python_errors(rust):
    native = rust._native
    close = random_walk(np.random.default_rng(3), 60)
    with pytest.raises(TypeError, match="float64"):
        native.compute(close.astype(np.float32), None, native_params(), False)
    with pytest.raises(TypeError, match="1-D"):
        native.compute(close.reshape(6, 10), None, native_params(), False)
    with pytest.raises(ValueError, match="C-contiguous"):
        native.compute(np.repeat(close, 2)[::2], None, native_params(), False)
    with pytest.raises(ValueError, match=r"shape \(6, 9\)"):
        native.compute(close, None, native_params(lengths=np.full((5, 9), 3, dtype=np.int64)), False)
    with pytest.raises(TypeError, match="int64"):
        native.compute(close, None, native_params(lengths=np.full((6, 9), 3.0)), False)
    zero = np.full((6, 9), 3, dtype=np.int64)
    zero[4, 8] = 0
    with pytest.raises(ValueError, match="LSMA") as info:
        native.compute(close, None, native_params(lengths=zero), False)
    assert info.value.args[1] == "lengths"
    closes = np.vstack([close, close])
    starts = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="starts"):
        native.compute_batch(closes, starts[:1], native_params(), 1)
    with pytest.raises(ValueError, match="tail"):
        native.compute_batch(closes, starts, native_params(), 0)


def test_native_reads_one_kernel_parameter_object(rust):
    """The extension takes the constants from a KernelParams; a bad attribute is a
    ValueError naming it, something else than a KernelParams a TypeError."""
    native = rust._native
    close = random_walk(np.random.default_rng(13), 120)
    cfg = ATCConfig(cutout=7, strategy=True, hma_kind="hull")
    got = native.compute(close, None, KernelParams.from_config(cfg), False)
    np.testing.assert_array_equal(got[0], rust.compute(close, cfg).average_signal)
    for field, value in [("cutout", -1), ("colbase", 9), ("hma_kind", "ema"), ("families", 3),
                         ("lam", float("nan")), ("weights", np.array([1.0, 1, 1, 1, 1, -1])),
                         ("delta", "0.1")]:
        with pytest.raises(ValueError) as info:
            native.compute_batch(np.vstack([close]), np.zeros(1, dtype=np.int64),
                                 native_params(**{field: value}), 1)
        assert info.value.args[1] == field, (field, info.value.args)
    with pytest.raises(TypeError, match="KernelParams"):
        native.compute(close, None, object(), False)
    ema = native.compute_batch(np.vstack([close]), np.zeros(1, dtype=np.int64),
                               KernelParams.from_config(ATCConfig(), "ema_only"), 3)
    assert ema[0].shape == (1, 1, 3) and ema[7] is None


def test_detail_results_carry_the_rate_of_change(rust):
    close = random_walk(np.random.default_rng(14), 90)
    res = rust.compute(close, ATCConfig(), detail=True)
    np.testing.assert_array_equal(res.rate_of_change, rate_of_change(close))
    assert dict(res.columns(detail=True))["R"] is res.rate_of_change
    assert rust.compute(close, ATCConfig()).rate_of_change is None


def test_rust_errors_become_atc_input_errors_through_the_adapter(rust, monkeypatch):
    """A length < 1 reaching the kernels surfaces as ATCInputError naming the field."""
    bad = np.full((6, 9), 3, dtype=np.int64)
    bad[0, 0] = 0
    original = adapter.kernel_params
    monkeypatch.setattr(adapter, "kernel_params",
                        lambda cfg, mode="full": dataclasses.replace(original(cfg, mode), lengths=bad))
    close = random_walk(np.random.default_rng(4), 60)
    with pytest.raises(ATCInputError, match="length 0") as info:
        rust.compute(close, ATCConfig())
    assert info.value.field == "lengths"
    with pytest.raises(ATCInputError, match="EMA"):
        rust.compute_batch(np.vstack([close, close]), ATCConfig())


def test_a_panic_is_a_backend_error_not_a_crash(rust):
    native = rust._native
    with pytest.raises(RuntimeError, match="deliberate panic"):
        native._panic_for_tests()
    with pytest.raises(BackendError, match="deliberate panic") as info:
        adapter._call(native._panic_for_tests)
    assert info.value.backend == "rust"
    # The interpreter and the module are still fine afterwards.
    assert rust.compute(random_walk(np.random.default_rng(5), 80), ATCConfig()).bars == 80


# -- missing or broken extension ---------------------------------------------------------------
def registry_without_cuda() -> Registry:
    from core.backends.registry import DEFAULT_FACTORIES
    return Registry({k: v for k, v in DEFAULT_FACTORIES.items() if k != "cuda"})


def test_missing_extension_is_reported_and_the_registry_falls_back_to_numba(monkeypatch):
    monkeypatch.setitem(sys.modules, "rust_backend._native", None)   # import → ImportError
    backend = rust_backend.create_backend()
    probe = backend.probe()
    assert not probe.available
    assert "rust_backend._native could not be loaded" in probe.reason
    assert "ModuleNotFoundError" in probe.reason
    with pytest.raises(BackendError, match="unavailable"):
        backend.compute(np.linspace(1, 2, 50), ATCConfig())

    registry = registry_without_cuda()
    assert not registry.probe("rust").available
    assert registry.probe("rust").reason == probe.reason
    assert registry.active() == "numba"
    close = random_walk(np.random.default_rng(6), 200)
    assert registry.compute(close, ATCConfig()).backend == "numba"
    # Asking for rust by name falls back too, and the fallback is recorded with the reason.
    result = registry.compute(close, ATCConfig(), backend="rust")
    assert result.backend == "numba"
    assert any(e.backend == "rust" and "could not be loaded" in e.reason for e in registry.fallbacks())


def test_incomplete_extension_is_reported(monkeypatch):
    fake = types.ModuleType("rust_backend._native")
    fake.__version__ = "0.0.0"
    monkeypatch.setitem(sys.modules, "rust_backend._native", fake)
    probe = rust_backend.create_backend().probe()
    assert not probe.available
    assert "incomplete" in probe.reason and "compute_batch" in probe.reason


def test_extension_failing_its_self_check_is_reported(monkeypatch):
    fake = types.ModuleType("rust_backend._native")
    fake.__version__ = "0.1.0"
    fake.SINGLE_OUTPUTS = fake.BATCH_OUTPUTS = ()
    fake.thread_count = lambda: 2
    fake.simd_level = lambda: "avx2"
    fake.compute_batch = lambda *a: None
    fake.prices_within = lambda *a: True

    def broken(*args):
        raise RuntimeError("internal error in the Rust ATC kernels: boom")
    fake.compute = broken
    monkeypatch.setitem(sys.modules, "rust_backend._native", fake)
    probe = rust_backend.create_backend().probe()
    assert not probe.available
    assert "self-check" in probe.reason and "boom" in probe.reason


def test_run_time_failure_falls_back_per_call(rust, monkeypatch):
    """A failure inside a call (not bad input) is a BackendError, so the registry moves on."""
    def broken(*args):
        raise RuntimeError("internal error in the Rust ATC kernels: simulated")
    registry = registry_without_cuda()
    backend = registry.get("rust")
    monkeypatch.setattr(backend, "_native", types.SimpleNamespace(compute=broken))
    close = random_walk(np.random.default_rng(7), 200)
    result = registry.compute(close, ATCConfig())
    assert result.backend == "numba"
    assert registry.fallbacks()[-1].backend == "rust"
    assert "simulated" in registry.fallbacks()[-1].reason


def test_input_errors_are_not_swallowed_by_the_fallback(rust):
    registry = registry_without_cuda()
    with pytest.raises(ATCInputError):
        registry.compute(np.array([1.0, -2.0, 3.0]), ATCConfig(), backend="rust")
    assert registry.fallbacks() == []


# -- results ----------------------------------------------------------------------------------
def test_batch_modes_shapes_and_dtypes(rust):
    closes = np.vstack([random_walk(np.random.default_rng(i), 300) for i in range(5)])
    full = rust.compute_batch(closes, ATCConfig(), tail=7)
    assert full.signals.shape == full.family_equities.shape == (5, 6, 7)
    assert full.average_signal.shape == full.direction.shape == full.long.shape == (5, 7)
    assert full.long.dtype == full.short.dtype == np.bool_
    assert full.last_event.dtype == np.int8 and full.bars_since_event.dtype == np.int64
    ema = rust.compute_batch(closes, ATCConfig(), tail=7, mode="ema_only")
    assert ema.mode == "ema_only" and ema.average_signal is None
    assert ema.signals.shape == ema.family_equities.shape == (5, 1, 7)
    np.testing.assert_array_equal(ema.signals[:, 0], full.signals[:, 0])


def test_results_own_memory_that_outlives_later_calls(rust):
    """Output memory is recycled between calls, but never while an array still uses it."""
    first = rust.compute(random_walk(np.random.default_rng(8), 500), ATCConfig(), detail=True)
    kept = first.average_signal.copy(), first.mas.copy()
    first.signals = None     # drop some arrays of the result, keep others
    for seed in range(5):
        rust.compute(random_walk(np.random.default_rng(100 + seed), 500), ATCConfig(), detail=True)
    np.testing.assert_array_equal(first.average_signal, kept[0])
    np.testing.assert_array_equal(first.mas, kept[1])
    first.average_signal[:] = 0.0     # writable, like any numpy result
    assert not np.shares_memory(first.average_signal, rust.compute(
        random_walk(np.random.default_rng(9), 500), ATCConfig(), detail=True).average_signal)


def test_concurrent_calls_from_several_threads_agree_with_sequential_ones(rust):
    """The app computes from a worker pool: per-thread buffers, pools and caches must not
    mix results of calls running at the same time."""
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(12)
    series = [random_walk(rng, n) for n in (300, 1500, 5000, 1500, 700, 9000)]
    batch = np.vstack([random_walk(rng, 800) for _ in range(40)])
    configs = [ATCConfig(), ATCConfig(cutout=20, hma_kind="hull"), ATCConfig(strategy=True)]
    jobs = [(i, c) for i in range(len(series)) for c in configs]
    want = [rust.compute(series[i], c, detail=True) for i, c in jobs]
    want_batch = [rust.compute_batch(batch, c, tail=5) for c in configs]

    def run(k):
        if k < len(jobs):
            i, c = jobs[k]
            return rust.compute(series[i], c, detail=True)
        return rust.compute_batch(batch, configs[k - len(jobs)], tail=5)

    order = list(range(len(jobs) + len(configs))) * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(run, order))
    for k, res in zip(order, got):
        if k < len(jobs):
            np.testing.assert_array_equal(res.mas, want[k].mas)
            np.testing.assert_array_equal(res.average_signal, want[k].average_signal)
            np.testing.assert_array_equal(res.long, want[k].long)
        else:
            np.testing.assert_array_equal(res.signals, want_batch[k - len(jobs)].signals)
            np.testing.assert_array_equal(res.average_signal, want_batch[k - len(jobs)].average_signal)


def test_the_gil_is_released_while_computing(rust):
    """A Python thread keeps running while a large batch is computed."""
    closes = np.vstack([random_walk(np.random.default_rng(i), 1500) for i in range(2000)])
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.01)
        before = ticks
        start = time.perf_counter()
        rust.compute_batch(closes, ATCConfig(), tail=1)
        elapsed = time.perf_counter() - start
        during = ticks - before
    finally:
        stop.set()
        t.join()
    assert elapsed > 0.005
    assert during > 20, f"only {during} ticks of the other thread in {elapsed:.3f}s"
