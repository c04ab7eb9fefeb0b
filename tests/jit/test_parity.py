"""The numba kernels against the numpy reference (spec §4.8 arithmetic) and the golden files.

Detail results (one series, ``detail=True``) must show every MA bit for bit as the reference
and the golden files do; batches (generic kernel, and the generated EMA-only screening
kernel) must give the reference's discrete outputs on every bar and its continuous ones
within 1e-9. The series are the near-tie cases of §4.8: constant and flat stretches, cent
and 5-decimal pip prices, random near-tie walks (hypothesis).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.atc import compute_reference
from core.atc.moving_averages import lsma, rolling_sum, sma, wma
from core.backends.numpy_backend import NumpyBackend
from core.config import ATCConfig
from core.jit.backend import NumbaBackend
from core.jit.window_sums import msum9, sma_seed
from core.types import MA_NAMES
from tests.conftest import (GOLDEN_FILES, assert_matches_golden, golden_id, load_golden,
                            mismatches, random_walk)

NUMBA = NumbaBackend()
NUMPY = NumpyBackend()


# -- the series -----------------------------------------------------------------------------------
def cents_with_flats(n: int, seed: int, start: float = 20.0) -> np.ndarray:
    """np.round of a random walk to cents, with flat stretches of 10–80 bars."""
    rng = np.random.default_rng(seed)
    close = np.round(random_walk(n, seed=seed, vol=0.01, start=start), 2)
    t = int(rng.integers(20, 120))
    while t < n:
        k = int(rng.integers(10, 80))
        close[t:t + k] = close[t]
        t += k + int(rng.integers(20, 200))
    return np.maximum(close, 0.01)


def pips(n: int, seed: int) -> np.ndarray:
    """A 5-decimal FX walk around 1.1 that often moves by a single pip or not at all."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-2, -1, 0, 0, 0, 1, 2], n) * 1e-5
    return np.round(1.1 + np.cumsum(steps), 5)


def ramp_and_flats(seed: int) -> np.ndarray:
    """A cent walk, a flat stretch, a one-cent-per-bar ramp (LINREG ends on the close),
    another walk."""
    rng = np.random.default_rng(seed)
    walk = np.round(3.0 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], 100)), 2)
    ramp = np.round(walk[-1] + 0.01 * np.arange(1, 61), 2)
    tail = np.round(ramp[-1] + np.cumsum(rng.choice([-0.01, 0.01], 40)), 2)
    return np.r_[walk, np.full(60, walk[-1]), ramp, tail]


SERIES = {
    "constant": lambda: np.full(400, 12.34),
    "constant-then-walk": lambda: np.r_[np.full(150, 7.0), np.round(random_walk(250, 4, start=7.0), 2)],
    "cents-flat": lambda: cents_with_flats(1500, 1),
    "cents-low-price": lambda: cents_with_flats(900, 2, start=0.8),
    "pips": lambda: pips(1200, 3),
    "ramp-flats": lambda: ramp_and_flats(3),
    "random-walk": lambda: random_walk(700, 5),
}

CONFIGS = {
    "default": ATCConfig(),
    "short-windows": ATCConfig(robustness="Narrow", ema_len=5, hull_len=5, wma_len=5,
                               dema_len=5, lsma_len=5, kama_len=5),
    "hull-cutout": ATCConfig(hma_kind="hull", cutout=40, robustness="Wide", wma_len=12,
                             lsma_len=40),
}


def assert_batch_matches_reference(closes: np.ndarray, config: ATCConfig, mode: str,
                                   tail: int | None = None) -> list[str]:
    tail = closes.shape[1] if tail is None else tail
    got = NUMBA.compute_batch(closes, config, tail=tail, mode=mode)
    want = NUMPY.compute_batch(closes, config, tail=tail, mode=mode)
    for name in ("signals", "direction", "long", "short", "last_event", "bars_since_event"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_allclose(got.family_equities, want.family_equities, rtol=1e-9, atol=0)
    if want.average_signal is not None:
        np.testing.assert_allclose(got.average_signal, want.average_signal, rtol=1e-9,
                                   atol=1e-12)
    return got.notes


# -- the math.sum machine ----------------------------------------------------------------------
def test_machine_is_the_references_rolling_sum_bit_for_bit():
    """msum9 (nine machines side by side) equals the reference's math.sum on every bar,
    fires and re-baselines included, for series that make the compensation fire."""
    lengths = np.array([1, 2, 3, 7, 16, 28, 34, 61, 130], np.int64)
    for x in (cents_with_flats(1500, 7), pips(1500, 8), random_walk(1500, 9, vol=0.05),
              np.abs(np.diff(random_walk(1501, 10)))):
        out = np.empty((9, x.size))
        msum9(x, 0, lengths, out, np.empty((9, x.size)))
        for m, n in enumerate(lengths):
            want = rolling_sum(x, int(n))
            assert [v.hex() for v in out[m]] == [v.hex() for v in want], n


def test_machine_skips_leading_na_like_the_reference():
    x = cents_with_flats(300, 11)
    x[:5] = np.nan
    lengths = np.array([1, 2, 5, 9, 10, 11, 20, 28, 40], np.int64)
    out = np.empty((9, x.size))
    msum9(x, 5, lengths, out, np.empty((9, x.size)))
    for m, n in enumerate(lengths):
        np.testing.assert_array_equal(out[m], rolling_sum(x, int(n)))


def test_ema_seed_is_the_machines_sma():
    for x in (cents_with_flats(200, 12), pips(200, 13), random_walk(200, 14)):
        for n in (1, 2, 5, 22, 28, 34, 100):
            assert sma_seed(x, 0, n) == sma(x, n)[n - 1]
            assert sma_seed(x, 7, n) == sma(x[7:], n)[n - 1]
    assert np.isnan(sma_seed(np.ones(5), 0, 6))


def test_fires_happen_on_these_series():
    """The re-baseline path is exercised: a running compensated sum alone differs."""
    x = cents_with_flats(1500, 7)
    s, c, plain = 0.0, 0.0, np.empty(x.size)
    for t, v in enumerate(x):                   # the machine without its fire test
        y1 = -(x[t - 28] if t >= 28 else 0.0) - c
        tmp = s + y1
        e1 = (tmp - s) - y1
        y2 = v - e1
        s2 = tmp + y2
        c = (s2 - tmp) - y2
        s = s2
        plain[t] = s
    assert (plain[27:] != rolling_sum(x, 28)[27:]).any()


# -- detail results: bit for bit -------------------------------------------------------------------
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_detail_matches_golden_bit_for_bit(path):
    result = assert_matches_golden(NUMBA, path)
    assert result.rate_of_change is not None


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("series", SERIES.keys())
def test_detail_matches_reference_bit_for_bit(series, config):
    close = SERIES[series]()
    got = NUMBA.compute(close, config, detail=True)
    want = compute_reference(close, config, detail=True)
    assert mismatches(dict(got.columns(True)), dict(want.columns(True))) == []


def test_window_mas_sit_exactly_on_the_close_as_in_the_reference():
    """On cent prices WMA and LINREG end exactly on the close on many bars (or within a
    few ULPs, where the §4.8 order decides the side); the detail
    values are the reference's (§4.8) on each of them."""
    close = ramp_and_flats(3)
    got = NUMBA.compute(close, ATCConfig(), detail=True)
    for i, name in enumerate(MA_NAMES):
        n = int(ATCConfig().member_lengths()[MA_NAMES.index(name) // 9, i % 9])
        if name.startswith("WMA"):
            np.testing.assert_array_equal(got.mas[i], wma(close, n), err_msg=name)
        if name.startswith("LSMA"):
            np.testing.assert_array_equal(got.mas[i], lsma(close, n), err_msg=name)
    assert (got.mas[MA_NAMES.index("WMA")] == close).sum() >= 20
    flats = cents_with_flats(1500, 0)
    got = NUMBA.compute(flats, ATCConfig(), detail=True)
    lsma28 = got.mas[MA_NAMES.index("LSMA")]
    np.testing.assert_array_equal(lsma28, lsma(flats, 28))
    assert (lsma28 == flats).sum() >= 10


def test_detail_with_a_separate_source():
    close = cents_with_flats(600, 21)
    src = np.maximum(np.round((close + np.r_[close[0], close[:-1]]) / 2.0, 2), 0.01)
    got = NUMBA.compute(close, ATCConfig(robustness="Wide"), detail=True, src=src)
    want = compute_reference(close, ATCConfig(robustness="Wide"), detail=True, src=src)
    assert mismatches(dict(got.columns(True)), dict(want.columns(True))) == []


# -- batches ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["full", "ema_only"])
@pytest.mark.parametrize("specialised", [True, False], ids=["specialised", "generic"])
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_batches_match_the_reference_on_golden_closes(path, mode, specialised):
    gold, config = load_golden(path)
    close = np.asarray(gold["close"], dtype=np.float64)
    config = config.replace(use_codegen_specialization=specialised)
    notes = assert_batch_matches_reference(close[None, :], config, mode)
    if mode == "ema_only" and specialised:
        assert notes == ["EMA-only: specialised kernel"]


@pytest.mark.parametrize("mode", ["full", "ema_only"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_batches_of_near_tie_series_match_the_reference(config, mode):
    rows = [SERIES[name]()[-400:] for name in SERIES]
    closes = np.full((len(rows), 400), np.nan)
    for i, row in enumerate(rows):
        closes[i, 400 - row.size:] = row
    closes[2, :37] = np.nan                     # a later first bar
    assert_batch_matches_reference(closes, config, mode)
    assert_batch_matches_reference(closes, config, mode, tail=5)


def test_batch_band_is_exercised_on_flat_stretches():
    """On a cent series with flat stretches the batch's running WMA/LINREG fall inside the
    tie band on many bars, and the discrete outputs are still the reference's."""
    closes = np.vstack([cents_with_flats(1500, s) for s in range(4)])
    assert_batch_matches_reference(closes, ATCConfig(), "full")
    wma28 = wma(closes[0], 28)
    assert (wma28 == closes[0]).sum() > 100        # exact ties with the close do occur


near_tie_series = st.builds(
    lambda seed, n, tick, flat, start: _near_tie(seed, n, tick, flat, start),
    st.integers(0, 2**32 - 1), st.integers(60, 500), st.sampled_from((1e-2, 1e-5, 0.25)),
    st.floats(0.0, 0.9), st.sampled_from((0.5, 3.0, 47.0, 1.23456)))


def _near_tie(seed: int, n: int, tick: float, flat: float, start: float) -> np.ndarray:
    """A walk on a price grid (cents, pips or quarters) that stays put with probability
    ``flat``: MAs land on or within a few ULPs of the close all the time."""
    rng = np.random.default_rng(seed)
    moves = rng.choice([-1, 1], n) * (rng.random(n) >= flat)
    ticks = np.round(start / tick) + np.cumsum(moves)
    ticks = np.maximum(ticks, 1)
    return np.round(ticks * tick, 5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(close=near_tie_series, config=st.sampled_from(list(CONFIGS.values())))
def test_random_near_tie_series(close, config):
    got = NUMBA.compute(close, config, detail=True)
    want = compute_reference(close, config, detail=True)
    assert mismatches(dict(got.columns(True)), dict(want.columns(True))) == []
    assert_batch_matches_reference(close[None, :], config, "full")
    assert_batch_matches_reference(close[None, :], config, "ema_only")
