"""Window sums in the reference's own order, and moving averages that equal the close.

On cent-rounded prices an SMA over a flat stretch, a WMA, a regression line through a ramp
or a Hull MA often equals the close exactly in the reference, and only its summation order
(numpy's pairwise ``.sum()``, a left-to-right ``win @ weights``) decides ``close > MA``.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from core.atc import compute_reference
from core.atc.moving_averages import hull, lsma, sma, wma
from core.config import ATCConfig
from core.jit.backend import NumbaBackend
from core.jit.kernels import pairwise_sum, seq_dot
from core.types import MA_NAMES
from tests.conftest import assert_batch_discrete_equal_reference, mismatches

# Lengths that cross every branch of numpy's pairwise summation: sequential below 8, eight
# accumulators up to 128, halves above (rounded down to a multiple of 8), twice nested.
WINDOWS = (1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 135, 136, 137, 200, 255, 256, 257, 300)


def bits(v: float) -> str:
    return float(v).hex()


def mixed(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mixed signs and magnitudes: every summation order rounds differently."""
    return rng.normal(0.0, 1.0, n) * 10.0 ** rng.uniform(-6.0, 6.0, n)


def test_pairwise_sum_is_numpys_sum_bit_for_bit():
    rng = np.random.default_rng(5)
    for n in range(1, 301):
        for _ in range(3):
            a = mixed(rng, n)
            assert bits(pairwise_sum(a, 0, n, False)) == bits(np.sum(a)), n


def test_window_sums_are_the_references_windows_bit_for_bit():
    rng = np.random.default_rng(6)
    x = mixed(rng, 420)
    steps = np.abs(np.diff(x))
    for n in WINDOWS:
        plain = sliding_window_view(x, n).sum(axis=1)           # sma, lsma
        noise = sliding_window_view(steps, n).sum(axis=1)       # kama (steps of x[1:])
        wsum = sliding_window_view(x, n) @ np.arange(1, n + 1, dtype=np.float64)   # wma
        psum = sliding_window_view(x, n) @ np.arange(n, dtype=np.float64)          # lsma
        for lo in (0, 1, 3, 58, x.size - n - 1):
            assert bits(pairwise_sum(x, lo, n, False)) == bits(plain[lo]), (n, lo)
            assert bits(pairwise_sum(x, lo + 1, n, True)) == bits(noise[lo]), (n, lo)
            assert bits(seq_dot(x, lo, n, 1)) == bits(wsum[lo]), (n, lo)
            assert bits(seq_dot(x, lo, n, 0)) == bits(psum[lo]), (n, lo)


def cent_ties() -> np.ndarray:
    """A cent walk, a flat stretch, a one-cent-per-bar ramp and another walk."""
    rng = np.random.default_rng(3)
    walk = np.round(3.0 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], 100)), 2)
    ramp = np.round(walk[-1] + 0.01 * np.arange(1, 61), 2)
    tail = np.round(ramp[-1] + np.cumsum(rng.choice([-0.01, 0.01], 40)), 2)
    return np.r_[walk, np.full(60, walk[-1]), ramp, tail]


def test_the_series_ties_and_a_running_sum_does_not():
    """The reference lands MAs exactly on the close here, and a running sum carried into the
    flat stretch misses those ties: the case needs the direct recomputation."""
    close = cent_ties()
    for ma in (sma, wma, lsma, hull):
        assert (ma(close, 34) == close).sum() >= 20, ma.__name__
    n = 34
    ref = sma(close, n)
    s = close[:n].sum()
    running = np.full(close.size, np.nan)
    for t in range(n, close.size):
        s = s + close[t] - close[t - n]
        running[t] = s / n
    tie = ref == close
    assert (running[tie] != close[tie]).any()


@pytest.mark.parametrize("config", [ATCConfig(), ATCConfig(hma_kind="hull"),
                                    ATCConfig(robustness="Narrow", lsma_len=5, wma_len=5,
                                              hull_len=5)],
                         ids=["default", "hull", "short-windows"])
def test_ties_are_decided_as_the_reference_decides_them(config):
    close = cent_ties()
    got = NumbaBackend().compute(close, config, detail=True)
    want = compute_reference(close, config, detail=True)
    assert mismatches(dict(got.columns(True)), dict(want.columns(True))) == []
    # Every window MA that equals the close in the reference does so here too.
    for i, name in enumerate(MA_NAMES):
        if name.startswith(("HMA", "WMA", "LSMA")):
            tie = want.mas[i] == close
            np.testing.assert_array_equal(got.mas[i][tie], close[tie], err_msg=name)


def test_ties_with_a_separate_source():
    """The MAs run on src, their crossover partner is the close (spec §2)."""
    close = cent_ties()
    src = np.maximum(np.round((close + np.r_[close[0], close[:-1]]) / 2.0, 2), 0.01)
    config = ATCConfig(robustness="Wide")
    got = NumbaBackend().compute(close, config, detail=True, src=src)
    want = compute_reference(close, config, detail=True, src=src)
    assert mismatches(dict(got.columns(True)), dict(want.columns(True))) == []


def test_ties_in_a_batch():
    close = cent_ties()
    closes = np.vstack([close, close[::-1].copy(), np.r_[close[50:], close[:50]]])
    config = ATCConfig()
    out = NumbaBackend().compute_batch(closes, config, tail=closes.shape[1])
    assert_batch_discrete_equal_reference(out, closes, config)
