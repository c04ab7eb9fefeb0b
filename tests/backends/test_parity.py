"""One parity test for every backend: golden files, random walks, batches, properties.

A backend that is not available here is skipped with its probe's reason.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.atc import compute_reference
from core.backends.registry import ORDER, Registry
from core.config import ATCConfig
from tests.conftest import (GOLDEN_FILES, REQUIRED_BACKENDS, assert_batch_matches_golden, golden_id, assert_batch_discrete_equal_reference, assert_matches_golden,
                            mismatches, random_walk, skip_unavailable)

REGISTRY = Registry()


def backend_or_skip(name: str):
    probe = REGISTRY.probe(name)
    if not probe.available:
        skip_unavailable(name, probe.reason)
    return REGISTRY.get(name)


@pytest.fixture(params=ORDER)
def backend(request):
    return backend_or_skip(request.param)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_golden(backend, path):
    assert_matches_golden(backend, path)


@pytest.mark.parametrize("mode", ["full", "ema_only"])
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_golden_batch(backend, path, mode):
    assert_batch_matches_golden(backend, path, mode)


def assert_same(result, ref, detail=False):
    """Discrete outputs identical, continuous ones within 1e-9 relative."""
    got, want = dict(result.columns(detail)), dict(ref.columns(detail))
    assert got.keys() == want.keys()
    assert mismatches(got, want) == []


CONFIGS = [
    ATCConfig(),
    ATCConfig(robustness="Narrow", cutout=37, La=0.3, De=0.2, ema_len=9, hull_len=15,
              kama_len=6, hma_w=0.1, long_threshold=0.3, short_threshold=0.05),
    ATCConfig(robustness="Wide", strategy=True, colbase="LSMA", alertbase="KAMA",
              cut_threshold=0.2, dema_len=13, lsma_len=8),
    ATCConfig(hma_kind="hull", hull_len=31, wma_len=11),
    # Wide with base 8: the shortest members have length 1, MAs equal to the close exactly,
    # which must never count as a crossing (running sums would add rounding noise).
    ATCConfig(robustness="Wide", ema_len=8, hull_len=8, wma_len=8, dema_len=8, lsma_len=8,
              kama_len=8, cut_threshold=0.0),
    # Medium with base 8: two-bar members; a two-point LSMA also equals the close up to
    # rounding, so every backend must round exactly as the reference does.
    ATCConfig(ema_len=8, hull_len=8, wma_len=8, dema_len=8, lsma_len=8, kama_len=8,
              cut_threshold=0.0),
]


@pytest.mark.parametrize("config", CONFIGS,
                         ids=["default", "narrow-cutout", "wide-strategy", "hull", "one-bar-members",
                              "two-bar-members"])
def test_random_walk_with_src(backend, config):
    close = random_walk(900, seed=11)
    src = close * (1 + 0.01 * np.sin(np.arange(900)))
    assert_same(backend.compute(close, config, detail=True, src=src),
                compute_reference(close, config, detail=True, src=src), detail=True)


@pytest.mark.parametrize("mode", ["full", "ema_only"])
@pytest.mark.parametrize("config", CONFIGS[:3], ids=["default", "narrow-cutout", "wide-strategy"])
def test_ragged_batch_tail(backend, mode, config):
    closes = np.vstack([random_walk(600, seed=s) for s in range(7)])
    firsts = [0, 1, 150, 400, 590, 598, 0]
    for row, first in enumerate(firsts):
        closes[row, :first] = np.nan
    tail = 300
    out = backend.compute_batch(closes, config, tail=tail, mode=mode)
    nf = 6 if mode == "full" else 1
    assert out.signals.shape == (7, nf, tail) and out.direction.shape == (7, tail)
    for row, first in enumerate(firsts):
        ref = compute_reference(closes[row, first:], config, families=nf)
        k = min(tail, 600 - first)
        assert np.isnan(out.signals[row, :, :tail - k]).all()
        np.testing.assert_array_equal(out.signals[row, :, tail - k:], ref.signals[:nf, -k:])
        np.testing.assert_allclose(out.family_equities[row, :, tail - k:],
                                   ref.family_equities[:nf, -k:], rtol=1e-9)
        np.testing.assert_array_equal(out.direction[row, tail - k:], ref.direction[-k:])
        np.testing.assert_array_equal(out.long[row, tail - k:], ref.long[-k:])
        np.testing.assert_array_equal(out.short[row, tail - k:], ref.short[-k:])
        if mode == "full":
            np.testing.assert_allclose(out.average_signal[row, tail - k:],
                                       ref.average_signal[-k:], rtol=1e-9, atol=1e-15)
        hits = np.flatnonzero(ref.long | ref.short)
        if hits.size:
            assert out.last_event[row] == (1 if ref.long[hits[-1]] else -1)
            assert out.bars_since_event[row] == ref.long.size - 1 - hits[-1]
        else:
            assert (out.last_event[row], out.bars_since_event[row]) == (0, -1)


def cent_prices(n: int, seed: int) -> np.ndarray:
    """A low-priced walk rounded to cents: flat stretches and regressions land an MA exactly
    on the close, and the reference's own summation order decides every such tie."""
    rng = np.random.default_rng(seed)
    vol = float(rng.uniform(0.002, 0.03))
    prices = float(rng.uniform(1.0, 30.0)) * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    return np.maximum(np.round(prices, 2), 0.01)


CENT_CONFIGS = [ATCConfig(), ATCConfig(robustness="Wide", lsma_len=12),
                ATCConfig(robustness="Narrow", hma_kind="hull")]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("config", CENT_CONFIGS, ids=["default", "wide", "narrow-hull"])
def test_cent_prices_tie_as_the_reference(backend, config, seed):
    close = cent_prices(1500, seed)
    assert_same(backend.compute(close, config, detail=True),
                compute_reference(close, config, detail=True), detail=True)


def test_cent_prices_batch(backend):
    closes = np.vstack([cent_prices(800, 100 + s) for s in range(8)])
    config = ATCConfig(robustness="Wide")
    assert_batch_discrete_equal_reference(backend.compute_batch(closes, config, tail=800), closes, config)


def pip_prices(n: int, seed: int) -> np.ndarray:
    """An FX-like walk quoted to 5 decimals (pips): a sum of such quotes is rarely exact, so
    only TradingView's own summation decides where an MA meets the close."""
    rng = np.random.default_rng(seed)
    return np.round(1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n))), 5)


def flat_stretches(n: int, seed: int, decimals: int = 2) -> np.ndarray:
    """Quoted prices that stand still for runs of bars (halts, illiquid hours): inside a
    run every SMA, WMA and regression line converges onto the close."""
    rng = np.random.default_rng(seed)
    prices = cent_prices(n, seed)
    held = prices.copy()
    t = 0
    while t < n:
        run = int(rng.integers(1, 60))
        if rng.random() < 0.4:
            held[t:t + run] = held[t]
        t += run
    return np.round(held, decimals)


TIE_SERIES = {
    "constant": lambda: np.full(700, 42.17),
    "constant-pip": lambda: np.full(700, 1.08437),
    "flat-stretches": lambda: flat_stretches(1200, 5),
    "flat-stretches-pip": lambda: np.round(flat_stretches(1200, 6) / 20.0, 5),
    "pip-walk": lambda: pip_prices(2000, 7),
}


@pytest.mark.parametrize("series", TIE_SERIES)
@pytest.mark.parametrize("config", CENT_CONFIGS, ids=["default", "wide", "narrow-hull"])
def test_tie_heavy_series_as_the_reference(backend, config, series):
    close = TIE_SERIES[series]()
    assert_same(backend.compute(close, config, detail=True),
                compute_reference(close, config, detail=True), detail=True)


@pytest.mark.parametrize("mode", ["full", "ema_only"])
def test_tie_heavy_batch(backend, mode):
    closes = np.vstack([f() for f in (lambda: np.full(1200, 42.17), lambda: flat_stretches(1200, 8),
                                      lambda: pip_prices(1200, 9),
                                      lambda: np.round(flat_stretches(1200, 10) / 20.0, 5))])
    config = ATCConfig(robustness="Narrow", ema_len=12, hull_len=12, wma_len=12, dema_len=12,
                       lsma_len=12, kama_len=12)
    out = backend.compute_batch(closes, config, tail=1200, mode=mode)
    nf = 6 if mode == "full" else 1
    for row in range(closes.shape[0]):
        ref = compute_reference(closes[row], config, families=nf)
        np.testing.assert_array_equal(out.signals[row], ref.signals[:nf])
        np.testing.assert_array_equal(out.direction[row], ref.direction)
        np.testing.assert_array_equal(out.long[row], ref.long)
        np.testing.assert_array_equal(out.short[row], ref.short)


@st.composite
def near_tie_series(draw):
    """Quoted prices (2 to 5 decimals) with optional flat runs and steps of one tick."""
    n = draw(st.integers(30, 500))
    decimals = draw(st.integers(2, 5))
    tick = 10.0 ** -decimals
    level = draw(st.floats(0.5, 300.0)) if decimals <= 3 else draw(st.floats(0.5, 3.0))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    ticks = rng.choice([-2, -1, 0, 0, 1, 2], size=n) * draw(st.integers(1, 4))
    if draw(st.booleans()):                                 # long flat stretches
        ticks[rng.random(n) < draw(st.floats(0.3, 0.9))] = 0
    prices = np.round(level + tick * np.cumsum(ticks), decimals)
    return np.maximum(prices, tick)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(close=near_tie_series(), config=st.sampled_from(CENT_CONFIGS + CONFIGS[4:]))
def test_properties_on_near_tie_series(close, config):
    """Every available backend, one series (detail) and as a batch row, on random quoted
    prices: the MAs equal the reference's bits and every discrete output is identical."""
    ref = compute_reference(close, config, detail=True)
    batch = np.vstack([close, close[::-1].copy()])
    for name in ORDER:
        if name == "numpy" or not REGISTRY.probe(name).available:
            assert name not in REQUIRED_BACKENDS, f"required backend {name} is unavailable"
            continue
        backend = REGISTRY.get(name)
        assert_same(backend.compute(close, config, detail=True), ref, detail=True)
        assert_batch_discrete_equal_reference(backend.compute_batch(batch, config, tail=batch.shape[1]),
                                              batch, config)


def configs():
    lengths = st.integers(min_value=8, max_value=60)
    return st.builds(
        ATCConfig,
        La=st.floats(0.005, 0.5), De=st.floats(0.01, 0.25), cutout=st.integers(0, 80),
        robustness=st.sampled_from(["Narrow", "Medium", "Wide"]),
        long_threshold=st.floats(0.0, 0.6), short_threshold=st.floats(-0.6, 0.0),
        ema_len=lengths, hull_len=lengths, wma_len=lengths, dema_len=lengths,
        lsma_len=lengths, kama_len=lengths,
        ema_w=st.floats(0.0, 5.0), hma_w=st.floats(0.0, 5.0), kama_w=st.floats(0.0, 5.0),
        hma_kind=st.sampled_from(["sma", "hull"]), cut_threshold=st.floats(0.0, 0.99),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), seed=st.integers(0, 2**31), n=st.integers(2, 400),
       vol=st.floats(0.001, 0.08))
def test_properties_on_random_walks(config, seed, n, vol):
    close = random_walk(n, seed, vol)
    ref = compute_reference(close, config, detail=True)
    avg = ref.average_signal[~np.isnan(ref.average_signal)]
    assert ((avg >= -1.0) & (avg <= 1.0)).all()
    for eq in (ref.equities, ref.family_equities):
        finite = eq[~np.isnan(eq)]
        assert (finite >= 0.25).all()
    sigs = ref.signals[~np.isnan(ref.signals)]
    assert (np.abs(sigs) <= 1.0).all() and np.allclose(sigs * 100, np.round(sigs * 100))
    # With alerts and arrows on the same unshifted base, long and short alternate.
    kinds = [1 if ref.long[i] else -1 for i in np.flatnonzero(ref.long | ref.short)]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))
    for name in ORDER:
        if REGISTRY.probe(name).available and name != "numpy":
            assert_same(REGISTRY.get(name).compute(close, config, detail=True), ref, detail=True)
