"""``compute_batch(mode="family:F")`` on every backend with a batch path: the family alone,
with its signal as the base of spec §9, equal to the reference on every bar.

numba runs its own one-family kernels (tests/jit/test_family_only.py); Rust and CUDA run
EMA alone natively and any other family as the full computation with that family as §9's
base, keeping its rows. CUDA runs here on the CPU emulation of its kernels (the real
device in tests/cuda when there is one).
"""
from __future__ import annotations

import numpy as np
import pytest

from core.atc import compute_reference
from core.backends.registry import Registry
from core.config import FAMILIES, ATCConfig
from core.errors import ATCInputError
from core.types import MODES
from tests.conftest import random_walk, skip_unavailable

REGISTRY = Registry()
BACKENDS = ("numpy", "numba", "rust", "cuda-emulated")
CONFIG = ATCConfig(robustness="Narrow", cutout=20, strategy=True, long_threshold=0.2,
                   short_threshold=-0.05, kama_len=14, wma_len=12, lsma_len=12, hull_len=18,
                   dema_len=16, ema_len=20, colbase="KAMA", alertbase="WMA")


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "cuda-emulated":
        from tests.cuda import emulator
        return emulator.emulated_backend(request.getfixturevalue("emu_lib"))[0]
    probe = REGISTRY.probe(request.param)
    if not probe.available:
        skip_unavailable(request.param, probe.reason)
    return REGISTRY.get(request.param)


@pytest.fixture(scope="module")
def emu_lib(tmp_path_factory):
    from tests.cuda import emulator
    if emulator.compiler() is None:
        pytest.skip("g++ is not installed: the CPU emulation of the CUDA kernels cannot be built")
    return emulator.build(tmp_path_factory.mktemp("cuda-emu"))


def ragged_batch() -> tuple[np.ndarray, list[int]]:
    """Random walks and a cent-quoted walk with flat stretches, later starts."""
    rng = np.random.default_rng(9)
    cents = np.maximum(np.round(8.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 500))), 2), 0.01)
    cents[100:160] = cents[100]
    closes = np.vstack([random_walk(500, seed=s) for s in range(5)] + [cents])
    firsts = [0, 1, 90, 300, 470, 0]
    for row, first in enumerate(firsts):
        closes[row, :first] = np.nan
    return closes, firsts


def test_every_family_alone_equals_the_reference(backend):
    closes, firsts = ragged_batch()
    tail = 250
    config = CONFIG.replace(use_codegen_specialization=False)     # numba: its generic kernel
    for f, family in enumerate(FAMILIES):
        out = backend.compute_batch(closes, config, tail=tail, mode=f"family:{family}")
        assert out.mode == f"family:{family}" and out.average_signal is None
        assert out.signals.shape == out.family_equities.shape == (6, 1, tail)
        for row, first in enumerate(firsts):
            ref = compute_reference(closes[row, first:], config, families=1, family=f)
            k = min(tail, closes.shape[1] - first)
            where = f"{family} row {row}"
            assert np.isnan(out.signals[row, 0, :tail - k]).all(), where
            np.testing.assert_array_equal(out.signals[row, 0, tail - k:], ref.signals[f, -k:],
                                          err_msg=where)
            np.testing.assert_allclose(out.family_equities[row, 0, tail - k:],
                                       ref.family_equities[f, -k:], rtol=1e-9, err_msg=where)
            for name in ("direction", "long", "short"):
                np.testing.assert_array_equal(getattr(out, name)[row, tail - k:],
                                              getattr(ref, name)[-k:], err_msg=f"{where} {name}")
            hits = np.flatnonzero(ref.long | ref.short)
            expected = ((1 if ref.long[hits[-1]] else -1), ref.long.size - 1 - hits[-1]) \
                if hits.size else (0, -1)
            assert (out.last_event[row], out.bars_since_event[row]) == expected, where


def test_the_family_is_the_base_not_the_configured_one(backend):
    """colbase/alertbase name other series; a one-family screen bases §9 on its own family
    (the events differ from those of the full computation)."""
    closes, _ = ragged_batch()
    out = backend.compute_batch(closes[:1], CONFIG, tail=500, mode="family:DEMA")
    full = backend.compute_batch(closes[:1], CONFIG, tail=500, mode="full")
    np.testing.assert_array_equal(out.signals[0, 0], full.signals[0, 3])
    np.testing.assert_allclose(out.family_equities[0, 0], full.family_equities[0, 3], rtol=1e-9)
    ref = compute_reference(closes[0], CONFIG, families=1, family=3)
    np.testing.assert_array_equal(out.direction[0], ref.direction)
    assert not np.array_equal(out.direction[0], full.direction[0], equal_nan=True)


def test_an_unknown_mode_names_the_field_and_the_modes(backend):
    closes, _ = ragged_batch()
    with pytest.raises(ATCInputError) as err:
        backend.compute_batch(closes, CONFIG, mode="family:SMA")
    assert err.value.field == "mode"
    assert all(mode in str(err.value) for mode in MODES)


def test_modes_list_every_family():
    assert MODES == ("full", "ema_only") + tuple(f"family:{f}" for f in FAMILIES)


def test_rust_says_it_computed_the_full_atc_for_a_family():
    probe = REGISTRY.probe("rust")
    if not probe.available:
        skip_unavailable("rust", probe.reason)
    closes, _ = ragged_batch()
    out = REGISTRY.get("rust").compute_batch(closes, CONFIG, tail=3, mode="family:KAMA")
    assert out.notes == ["KAMA-only: from the full computation (no one-family kernel for it "
                         "on this backend)"]
    assert REGISTRY.get("rust").compute_batch(closes, CONFIG, tail=3, mode="family:EMA").notes == []
