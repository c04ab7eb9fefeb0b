"""Backend selection, skip reasons and per-call fallback."""
from __future__ import annotations

import numpy as np
import pytest

from core.atc import compute_reference
from core.backends.base import READY, ProbeResult, Readiness
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import ORDER, Registry
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from tests.conftest import random_walk


class Broken(NumpyBackend):
    """Probes fine, fails every call (as a CUDA launch or a Rust panic would)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def compute(self, *args, **kwargs):
        self.calls += 1
        raise RuntimeError("device lost")

    compute_batch = compute


class Missing:
    name = "missing"

    def probe(self) -> ProbeResult:
        return ProbeResult(False, "library not installed")


def test_default_order_is_cuda_rust_numba_numpy():
    reg = Registry()
    assert reg.names == ORDER
    status = {s.name: s for s in reg.status()}
    assert status["numpy"].available and status["numba"].available
    for s in status.values():
        assert s.available or s.reason            # every skip has a reason
    assert sum(s.active for s in status.values()) == 1


def test_import_failure_of_an_optional_backend_is_a_reason():
    def broken_import():
        raise ImportError("No module named 'cupy'")
    reg = Registry({"cuda": broken_import, "numpy": NumpyBackend})
    assert not reg.probe("cuda").available
    assert "cupy" in reg.probe("cuda").reason
    assert reg.active() == "numpy"


def test_failure_falls_back_per_call_and_is_recorded():
    broken = Broken("rust")
    reg = Registry({"rust": lambda: broken, "numpy": NumpyBackend})
    seen = []
    reg.add_listener(seen.append)
    close = random_walk(300, 1)
    result = reg.compute(close, ATCConfig())
    assert result.backend == "numpy"
    np.testing.assert_array_equal(result.signals, compute_reference(close, ATCConfig()).signals)
    events = reg.fallbacks()
    assert len(events) == 1 and events[0].backend == "rust" and events[0].fallback_to == "numpy"
    assert "device lost" in events[0].reason and seen == events
    reg.compute_batch(np.vstack([close, close]), ATCConfig(), tail=3, mode="ema_only")
    assert broken.calls == 2 and reg.fallbacks()[-1].operation == "compute_batch[ema_only]"


def test_bad_input_is_not_a_backend_failure():
    reg = Registry({"rust": lambda: Broken("rust"), "numpy": NumpyBackend})
    with pytest.raises(ATCInputError, match="bar 2"):
        reg.compute(np.array([1.0, 2.0, -3.0]), ATCConfig(), backend="numpy")
    assert reg.fallbacks() == []


def test_named_backend_unavailable_falls_back_with_reason():
    reg = Registry({"cuda": Missing, "numpy": NumpyBackend})
    result = reg.compute(random_walk(50, 2), ATCConfig(), backend="cuda")
    assert result.backend == "numpy"
    assert "library not installed" in reg.fallbacks()[0].reason


def test_every_backend_failing_is_a_clear_error():
    reg = Registry({"a": lambda: Broken("a"), "b": lambda: Broken("b")})
    with pytest.raises(BackendError, match="every backend failed"):
        reg.compute(random_walk(50, 2), ATCConfig())


def test_unknown_preferred_backend_names_the_choices():
    with pytest.raises(ATCInputError, match="auto"):
        Registry(preferred="gpu")


def test_a_broken_listener_does_not_break_computing():
    reg = Registry({"x": lambda: Broken("x"), "numpy": NumpyBackend})
    reg.add_listener(lambda event: 1 / 0)
    assert reg.compute(random_walk(50, 3), ATCConfig()).backend == "numpy"


# -- preparing (core.backends.base.PreparingBackend) ----------------------------------------------
class Preparing(NumpyBackend):
    """A backend with something to prepare per (config, mode), as numba's specialised
    kernels: records what it was asked."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.prepared: list[tuple[ATCConfig, str]] = []
        self.waited: list[float | None] = []

    def prepare(self, config, mode="full"):
        if self.fail:
            raise RuntimeError("no compiler")
        self.prepared.append((config, mode))
        return Readiness("preparing", "compiling")

    def readiness(self, config, mode="full"):
        return Readiness("preparing", "compiling") if (config, mode) in self.prepared else \
            Readiness("cold", "compiles on the first call")

    def wait_prepared(self, timeout=None):
        self.waited.append(timeout)
        return True


def test_a_backend_without_prepare_counts_as_ready():
    reg = Registry({"numpy": NumpyBackend})
    assert reg.prepare(ATCConfig(), "ema_only") == READY
    assert reg.readiness(ATCConfig(), "ema_only").ready
    assert reg.wait_prepared(timeout=1.0)


def test_prepare_goes_to_the_backend_that_would_serve_the_call():
    first, second = Preparing("rust"), Preparing("numba")
    reg = Registry({"rust": lambda: first, "numba": lambda: second})
    config = ATCConfig(ema_len=21)
    assert reg.readiness(config, "family:KAMA").state == "cold"
    assert reg.prepare(config, "family:KAMA") == Readiness("preparing", "compiling")
    assert first.prepared == [(config, "family:KAMA")] and second.prepared == []
    assert reg.prepare(config, "ema_only", backend="numba").state == "preparing"
    assert second.prepared == [(config, "ema_only")]
    assert reg.readiness(config, "ema_only", backend="numba").state == "preparing"
    assert reg.readiness(config, "ema_only").state == "cold"          # rust was not asked
    assert reg.wait_prepared(timeout=5.0)
    assert len(first.waited) == len(second.waited) == 1 and 0 < first.waited[0] <= 5.0


def test_a_failing_prepare_is_a_reason_not_an_exception():
    reg = Registry({"numba": lambda: Preparing("numba", fail=True), "numpy": NumpyBackend})
    got = reg.prepare(ATCConfig(), "ema_only")
    assert got.state == "failed" and not got.ready and "no compiler" in got.reason
    assert reg.fallbacks() == []          # the call that follows records its own fallback
    none_left = Registry({"rust": lambda: Missing()})
    assert none_left.prepare(ATCConfig()).state == "failed"
