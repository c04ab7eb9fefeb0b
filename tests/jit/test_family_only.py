"""Screening on one family (mode ``family:F``): the generated kernel of every family against
the generic kernel bit for bit, and both against the reference and the golden files."""
from __future__ import annotations

import numpy as np
import pytest

from core.atc import compute_reference
from core.backends.registry import Registry
from core.config import FAMILIES, ATCConfig
from core.errors import ATCInputError
from core.jit import codegen
from core.jit.backend import GENERIC, NumbaBackend
from core.kernel_params import family_mode, kernel_params
from tests.conftest import GOLDEN_FILES, golden_id, load_golden, random_walk

OUTPUTS = ("signals", "family_equities", "direction", "long", "short", "last_event",
           "bars_since_event")
#: The default, and one that reaches every special case of the generated code: one-bar
#: and short (exact) windows, a cutout past the longest warm-up, Strategy View, other
#: weights, decay and thresholds.
CONFIGS = {
    "default": ATCConfig(),
    "edge": ATCConfig(robustness="Wide", ema_len=8, hull_len=8, wma_len=8, dema_len=8,
                      lsma_len=8, kama_len=8, cutout=40, strategy=True, La=0.05, De=0.1,
                      long_threshold=0.3, short_threshold=-0.05, hma_w=0.5, wma_w=2.0,
                      dema_w=0.7, lsma_w=1.5, kama_w=0.8),
}


def cents_with_flat_stretches(n: int, seed: int) -> np.ndarray:
    """Cent-quoted walk that stands still for runs of bars: every MA meets the close to the
    last bit, the math.sum and KAMA's noise reach 0, WMA/LINREG take exact values."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(2.0, 30.0) * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    held = rng.random(n) < 0.4
    held[0] = False
    idx = np.maximum.accumulate(np.where(held, 0, np.arange(n)))
    return np.maximum(np.round(prices[idx], 2), 0.01)


def screening_batch() -> tuple[np.ndarray, list[int]]:
    """Three blocks of the generated kernel (rows go in blocks of 128 by first bar): tie-heavy
    rows (cent prices with flat stretches, a constant series, an FX walk in pips) and random
    walks from bar 0; a block whose symbols start on bars 0, 1, 37 and 250 (the early ones
    run alone up to the last start's warm-up, then all together); and one of late starts
    that never leave the warm-up. Returns the batch and the rows checked against the
    reference."""
    n = 900
    rows = [cents_with_flat_stretches(n, 40 + s) for s in range(6)]
    rows += [np.full(n, 42.17), np.round(1.1 * np.exp(np.cumsum(
        np.random.default_rng(3).normal(0.0, 0.0008, n))), 5)]
    rows += [random_walk(n, seed=s) for s in range(250)]
    rows += [random_walk(n, seed=300 + s) for s in range(5)]
    closes = np.vstack(rows)
    late = {258: 1, 259: 37, 260: 300, 261: 860, 262: 898}
    for row in range(148, 258):
        closes[row, :250] = np.nan
    for row, first in late.items():
        closes[row, :first] = np.nan
    return closes, [0, 3, 6, 7, 130, 150, 257, 258, 259, 260, 262]


BATCH, CHECKED = screening_batch()


def small_screening_batch() -> tuple[np.ndarray, list[int]]:
    """One block of the generated kernel with the same kinds of rows as ``screening_batch``
    (tie-heavy, constant, pips, random walks; first bars 0, 1, 37 and 250), small enough
    for the kernels run as plain Python (NUMBA_DISABLE_JIT=1). Every row is checked."""
    n = 320
    rows = [cents_with_flat_stretches(n, 40 + s) for s in range(3)]
    rows += [np.full(n, 42.17), np.round(1.1 * np.exp(np.cumsum(
        np.random.default_rng(3).normal(0.0, 0.0008, n))), 5)]
    rows += [random_walk(n, seed=s) for s in range(4)]
    closes = np.vstack(rows)
    for row, first in {5: 1, 6: 37, 7: 250}.items():
        closes[row, :first] = np.nan
    return closes, list(range(closes.shape[0]))


def assert_generated_equals_generic_and_reference(batch: np.ndarray, checked: list[int],
                                                  family: str, config: ATCConfig) -> None:
    backend = NumbaBackend()
    mode = f"family:{family}"
    fast = backend.compute_batch(batch, config, tail=batch.shape[1], mode=mode)
    generic = backend.compute_batch(batch, config.replace(use_codegen_specialization=False),
                                    tail=batch.shape[1], mode=mode)
    assert fast.notes == [f"{family}-only: specialised kernel"]
    assert not backend.specialisation_failures and generic.notes == []
    assert fast.signals.shape == (batch.shape[0], 1, batch.shape[1]) and fast.average_signal is None
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(generic, name), err_msg=name)
    # ... and both are the reference's family alone (its signal is §9's base).
    f = FAMILIES.index(family)
    for row in checked:
        first = int(np.argmax(np.isfinite(batch[row])))
        ref = compute_reference(batch[row, first:], config, families=1, family=f)
        np.testing.assert_array_equal(fast.signals[row, 0, first:], ref.signals[f])
        np.testing.assert_allclose(fast.family_equities[row, 0, first:], ref.family_equities[f],
                                   rtol=1e-9)
        for name in ("direction", "long", "short"):
            np.testing.assert_array_equal(getattr(fast, name)[row, first:], getattr(ref, name),
                                          err_msg=f"{name} row {row}")


@pytest.mark.jit_only           # minutes as plain Python: the small batch below stands in
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("family", FAMILIES)
def test_generated_kernel_equals_the_generic_kernel_bit_for_bit(family, config):
    assert_generated_equals_generic_and_reference(BATCH, CHECKED, family, config)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("family", FAMILIES)
def test_generated_kernel_on_one_small_block(family, config):
    """The same on one block of a few rows: what the run with NUMBA_DISABLE_JIT=1 checks of
    the generated kernels (the compiled run builds no other kernel for it)."""
    batch, checked = small_screening_batch()
    assert_generated_equals_generic_and_reference(batch, checked, family, config)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("path", [p for p in GOLDEN_FILES if "src" not in load_golden(p)[0]],
                         ids=golden_id)
def test_golden_files_family_alone(path, family):
    """Every bar of every golden file (ties included): the family's Layer-1 signal is the
    full computation's exactly and its Layer-2 equity within 1e-9; direction and events are
    §9's with that signal as base, on a one-row and a ragged batch."""
    gold, config = load_golden(path)
    close = np.asarray(gold["close"], dtype=np.float64)
    ragged = np.full(close.size, np.nan)
    ragged[37:] = close[:-37] * 1.5
    f = FAMILIES.index(family)
    # The generic kernel: the generated one equals it bit for bit (the test above, on a
    # tie-heavy batch), and a kernel generated per golden configuration would cost CI
    # minutes of compiling.
    out = NumbaBackend().compute_batch(np.vstack([close, ragged]),
                                       config.replace(use_codegen_specialization=False),
                                       tail=close.size, mode=f"family:{family}")
    np.testing.assert_array_equal(out.signals[0, 0], gold[family + "_Signal"])
    np.testing.assert_allclose(out.family_equities[0, 0], gold[family + "_S"], rtol=1e-9)
    for row, series in ((0, close), (1, ragged[37:])):
        ref = compute_reference(series, config, families=1, family=f)
        np.testing.assert_array_equal(out.signals[row, 0, -series.size:], ref.signals[f])
        for name in ("direction", "long", "short"):
            np.testing.assert_array_equal(getattr(out, name)[row, -series.size:],
                                          getattr(ref, name), err_msg=name)


def test_family_modes_and_their_names():
    assert family_mode("KAMA") == "family:KAMA" and family_mode("EMA") == "ema_only"
    params = kernel_params(ATCConfig(), "family:KAMA")
    assert (params.family, params.families, params.family_name) == (5, 1, "KAMA")
    assert kernel_params(ATCConfig(), "ema_only").family == 0
    with pytest.raises(ATCInputError, match="family:KAMA") as err:
        NumbaBackend().compute_batch(BATCH[:2], ATCConfig(), mode="family:kama")
    assert err.value.field == "mode"
    with pytest.raises(ATCInputError, match="EMA | HMA") as err:
        family_mode("SMA")
    assert err.value.field == "family"


def test_family_ema_is_the_ema_only_screening():
    backend = NumbaBackend()
    a = backend.compute_batch(BATCH, ATCConfig(), tail=5, mode="family:EMA")
    b = backend.compute_batch(BATCH, ATCConfig(), tail=5, mode="ema_only")
    assert a.notes == b.notes == ["EMA-only: specialised kernel"]
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_generated_source_bakes_in_the_family_constants():
    kama = codegen.kernel_source(kernel_params(ATCConfig(kama_len=40, cutout=7), "family:KAMA"))
    assert "LENGTHS_kama = np.array([40, 41, 42, 44, 46, 39, 38, 36, 34]" in kama
    assert "xb[tt - 46, k]" in kama and "sc = ratio * 0.6020000000000001 + 0.064" in kama
    assert "starts[rows[k]] + 7" in kama
    wma = codegen.kernel_source(kernel_params(ATCConfig(wma_len=20, wma_w=2.5), "family:WMA"))
    assert f"v = wm * {1.0 / 210.0!r} - sm * 0.0" in wma      # 1/(1 + … + 20)
    assert "fe = FE[k] * 0.9997 * (1.0 + fa)" in wma
    assert "2.5" in wma                                          # the family's weight
    for family in FAMILIES:
        compile(codegen.kernel_source(kernel_params(ATCConfig(), family_mode(family))),
                "generated", "exec")


def test_hull_option_is_served_by_the_generic_kernel():
    backend = NumbaBackend()
    config = ATCConfig(hma_kind="hull")
    out = backend.compute_batch(BATCH[:20], config, tail=50, mode="family:HMA")
    assert out.notes == ["HMA-only: generic kernel (no specialised kernel for the Hull option)"]
    assert not codegen.supports(kernel_params(config, "family:HMA"))
    assert codegen.supports(kernel_params(config, "family:WMA"))
    ref = compute_reference(BATCH[0], config, families=1, family=1)
    np.testing.assert_array_equal(out.signals[0, 0], ref.signals[1, -50:])


def test_a_failing_family_kernel_falls_back_with_its_name(monkeypatch):
    def exploding(params):
        def kernel(*args):
            args[4][:] = 7.0            # a partial write that must not leak
            raise MemoryError("simulated")
        return kernel
    monkeypatch.setattr(codegen, "specialised_screen", exploding)
    registry = Registry({"numba": NumbaBackend})
    out = registry.compute_batch(BATCH[:30], ATCConfig(), tail=10, mode="family:KAMA")
    assert "KAMA-only: generic kernel (specialised kernel failed: MemoryError" in out.notes[0]
    (event,) = registry.fallbacks()
    assert (event.backend, event.fallback_to) == ("numba (specialised KAMA-only kernel)", GENERIC)
    ref = NumbaBackend().compute_batch(BATCH[:30], ATCConfig(use_codegen_specialization=False),
                                       tail=10, mode="family:KAMA")
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(out, name), getattr(ref, name))


def test_while_a_family_kernel_builds_the_generic_kernel_serves(monkeypatch):
    """The background build itself is the EMA kernel's (tests/jit/test_ema_only.py); here:
    a family's build is asked for, and the note names the family."""
    asked = []
    monkeypatch.setattr(codegen, "ready", lambda params: False)
    monkeypatch.setattr(codegen, "compile_in_background",
                        lambda params, warm, on_failure: asked.append(params) or True)
    backend = NumbaBackend()
    backend.prepare(ATCConfig(), "family:LSMA")
    out = backend.compute_batch(BATCH[:40], ATCConfig(), tail=30, mode="family:LSMA")
    assert out.notes == ["LSMA-only: generic kernel while the specialised one compiles"]
    assert [p.family_name for p in asked] == ["LSMA"]
    ref = backend.compute_batch(BATCH[:40], ATCConfig(use_codegen_specialization=False), tail=30,
                                mode="family:LSMA")
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(out, name), getattr(ref, name))


def test_a_failed_family_build_is_recorded_with_its_family(monkeypatch, capsys):
    from core.cli.main import main

    def broken_import(params):
        raise RuntimeError("simulated compile failure")

    monkeypatch.setattr(codegen, "_import_kernel", broken_import)
    monkeypatch.setattr(codegen, "_failures", {})
    params = kernel_params(ATCConfig(kama_len=31), "family:KAMA")
    assert codegen.compile_in_background(params, lambda kernel: None)
    assert codegen.wait_for_background(timeout=60)
    assert codegen.build_failure(params).kernel == "KAMA-only"
    (record,) = codegen.recorded_failures()
    assert record["kernel"] == "KAMA-only" and "simulated compile failure" in record["reason"]
    assert main(["backends"]) == 0
    assert ("fallback: numba specialised KAMA-only kernel → numba generic kernel: build failed"
            in capsys.readouterr().out)
