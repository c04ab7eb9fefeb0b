"""The full ATC's generated kernel (numba, built by ``prepare(config, "full")``): bit for bit
the generic kernel's outputs, the golden files' and the reference's.

Each configuration's full kernel takes ~2 minutes to compile, so the compiled run builds
only the default configuration's (every test here shares it); the run with
NUMBA_DISABLE_JIT=1 checks the others' code on small inputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import ATCConfig
from core.jit.backend import NumbaBackend
from core.types import BatchResult
from tests.conftest import (GOLDEN_FILES, assert_batch_discrete_equal_reference,
                            assert_batch_matches_golden, golden_id, load_golden)
from tests.jit.conftest import INTERPRETED
from tests.jit.test_family_only import CONFIGS, screening_batch, small_screening_batch

OUTPUTS = ("signals", "family_equities", "average_signal", "direction", "long", "short",
           "last_event", "bars_since_event")
#: The family-only tests' configurations, and colour and alert bases that name families.
FULL_CONFIGS = {**CONFIGS, "bases": ATCConfig(colbase="HMA", alertbase="KAMA", cutout=12)}
DEFAULT = ATCConfig()


def compiles_here(config: ATCConfig) -> None:
    """Skip a configuration whose kernel the compiled run does not build (see above)."""
    if not INTERPRETED and config != DEFAULT:
        pytest.skip("compiled run: the default configuration's full kernel only")


class PreparedFull:
    """The numba backend, each configuration's full kernel built before its batch."""

    def __init__(self) -> None:
        self.backend = NumbaBackend()

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        self.backend.prepare(config, mode)
        assert self.backend.wait_prepared(timeout=900)
        out = self.backend.compute_batch(closes, config, tail=tail, mode=mode)
        assert out.notes == ["full ATC: specialised kernel"]
        assert not self.backend.specialisation_failures
        return out


def assert_generated_equals_generic(batch: np.ndarray, config: ATCConfig, tail: int) -> BatchResult:
    fast = PreparedFull().compute_batch(batch, config, tail=tail)
    generic = NumbaBackend().compute_batch(
        batch, config.replace(use_codegen_specialization=False), tail=tail)
    assert generic.notes == []
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(generic, name), err_msg=name)
    return fast


@pytest.mark.jit_only           # minutes as plain Python: the small block below stands in
@pytest.mark.parametrize("tail", [1, 7, 900])
def test_full_kernel_equals_the_generic_kernel_on_a_tie_heavy_ragged_batch(tail):
    """Tie-heavy, constant, pip and random rows in several blocks with staggered first bars
    (some never leave the warm-up): every output of every kept bar, bit for bit."""
    batch, checked = screening_batch()
    fast = assert_generated_equals_generic(batch, DEFAULT, tail)
    if tail == batch.shape[1]:
        assert_batch_discrete_equal_reference(fast, batch[checked], DEFAULT, rows=checked)


@pytest.mark.parametrize("config", FULL_CONFIGS.values(), ids=FULL_CONFIGS.keys())
def test_full_kernel_on_one_small_block(config):
    """One block: every output equal to the generic kernel's, with every bar kept and with
    a tail longer than the late rows (their slots before the first bar stay NaN), and the
    reference's signals, direction and events on every row."""
    compiles_here(config)
    batch, checked = small_screening_batch()
    fast = assert_generated_equals_generic(batch, config, batch.shape[1])
    assert_batch_discrete_equal_reference(fast, batch[checked], config, rows=checked)
    late = assert_generated_equals_generic(batch[5:], config, 300)
    assert np.isnan(late.average_signal[2, :20]).all() and not late.long[2, :20].any()


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_full_kernel_matches_the_golden_files(path: Path):
    """Every bar of every golden file (ties included), as a one-row and a ragged batch."""
    gold, config = load_golden(path)
    compiles_here(config)
    assert_batch_matches_golden(PreparedFull(), path, "full")


def test_full_kernel_serves_only_where_prepared():
    """Without ``prepare`` a full batch runs the generic kernel (no compile in line); once
    prepared, the generic kernel serves while the kernel builds, then the kernel; with the
    Hull option there is none to prepare."""
    batch = small_screening_batch()[0][:3]
    backend = NumbaBackend()
    assert backend.compute_batch(batch, DEFAULT).notes == []
    backend.prepare(DEFAULT, "full")
    first = backend.compute_batch(batch, DEFAULT).notes
    assert first in (["full ATC: generic kernel while the specialised one compiles"],
                     ["full ATC: specialised kernel"])
    assert backend.wait_prepared(timeout=900)
    assert backend.compute_batch(batch, DEFAULT).notes == ["full ATC: specialised kernel"]
    hull = ATCConfig(hma_kind="hull")
    assert backend.prepare(hull, "full").state == "ready"
    assert backend.compute_batch(batch, hull).notes == []


def test_full_source_runs_the_six_families_in_order_with_the_configuration_baked_in():
    from core.jit import codegen
    from core.kernel_params import kernel_params

    text = codegen.kernel_source(kernel_params(ATCConfig(colbase="HMA", cut_threshold=0.3),
                                               "full"))
    calls = [text.index(f"    family_{f}(closes, xb") for f in
             ("ema", "hma", "wma", "dema", "lsma", "kama")]
    assert calls == sorted(calls) and text.index("    average_events(") > calls[-1]
    assert "(sig > 0.3) & (abs(sig - 0.3) > EPS)" in text
    assert "(sig < -0.3) & (abs(sig - -0.3) > EPS)" in text
    assert text.count("COLS[tt, k] = sig") == 1 and "ALERTS[tt, k]" not in text
    assert "COLS = np.empty(xb.shape); ALERTS = np.empty((1, 1))" in text
    compile(text, "generated", "exec")
