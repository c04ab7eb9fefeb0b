"""The Rust backend against the golden files and the numpy reference: discrete outputs
identical, continuous ones within 1e-9 relative, and in single-series detail results the
54 MAs bit for bit (TradingView's arithmetic, spec §4.8)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.atc import compute_reference
from core.atc.moving_averages import hull, kama, lsma, sma, wma
from core.backends.numpy_backend import NumpyBackend
from core.config import BASE_CHOICES, ROBUSTNESS_OFFSETS, ATCConfig
from core.types import EQUITY_NAMES, MA_NAMES, SIGNAL_NAMES, ATCResult
from tests.conftest import assert_matches_golden
from tests.rust.rust_helpers import GOLDEN_FILES, assert_matches, golden_id, random_walk


def test_golden_files_present():
    names = {p.stem for p in GOLDEN_FILES}
    assert {"gbm1500_default", "aapl_adjclose_default", "gbm1200_wide_hl2_strategy",
            "gbm1500_narrow_cutout", "gbm300_short_history"} <= names


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_golden_file(rust, path):
    """Every golden column, ties/ included: the MAs and discrete columns exactly, the rest
    within 1e-9; a missing column fails."""
    res = assert_matches_golden(rust, path)
    assert res.backend == "rust" and res.rate_of_change is not None


def test_golden_files_include_the_near_tie_series():
    assert sum(p.parent.name == "ties" for p in GOLDEN_FILES) >= 3


def assert_same_result(got: ATCResult, want: ATCResult, detail: bool, what: str) -> None:
    """Every output of ``got`` equals the reference's under the project's tolerances."""
    pairs = [("Average_Signal", got.average_signal, want.average_signal, False),
             ("signal_base", got.signal_base, want.signal_base, False),
             ("direction", got.direction, want.direction, True)]
    for i, name in enumerate(SIGNAL_NAMES):
        pairs.append((name, got.signals[i], want.signals[i], True))
    for i, name in enumerate(EQUITY_NAMES):
        pairs.append((name, got.family_equities[i], want.family_equities[i], False))
    pairs.append(("cuts", got.cuts, want.cuts, True))
    for name in ("arrow_long", "arrow_short", "long", "short"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == np.bool_, f"{name} dtype {g.dtype}"
        pairs.append((name, g, w, True))
    if detail:
        assert got.mas.shape == got.equities.shape == got.states.shape == (54, got.bars)
        assert got.states.dtype == np.int8
        pairs += [("mas", got.mas, want.mas, False), ("states", got.states, want.states, True),
                  ("equities", got.equities, want.equities, False)]
    for name, g, w, discrete in pairs:
        assert_matches(g, w, discrete, f"{what}:{name}")
    assert got.growth_factor == want.growth_factor or (
        np.isnan(got.growth_factor) and np.isnan(want.growth_factor))


CONFIGS = {
    "default": {},
    "hull": {"hma_kind": "hull"},
    "narrow_cutout_weights": {"robustness": "Narrow", "cutout": 137, "La": 0.31, "De": 0.2,
                              "ema_w": 0.0, "kama_w": 3.5, "wma_w": 0.2,
                              "long_threshold": 0.3, "short_threshold": -0.05},
    "wide_strategy_bases": {"robustness": "Wide", "strategy": True, "colbase": "KAMA",
                            "alertbase": "EMA", "ema_len": 12, "lsma_len": 40},
    "strategy_average_alert_wma": {"strategy": True, "alertbase": "WMA", "cut_threshold": 0.2},
    "shortest_members": {"robustness": "Narrow", "ema_len": 5, "hull_len": 5, "wma_len": 5,
                         "dema_len": 5, "lsma_len": 5, "kama_len": 5, "hma_kind": "hull"},
    "long_members": {"ema_len": 120, "dema_len": 200, "kama_len": 150, "lsma_len": 90,
                     "cutout": 5},
    "cutout_past_end": {"cutout": 5000},
}


@pytest.mark.parametrize("name", CONFIGS)
def test_random_walk_matches_reference(rust, name):
    config = ATCConfig.from_dict(CONFIGS[name])
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    close = random_walk(rng, 900)
    want = compute_reference(close, config, detail=True)
    got = rust.compute(close, config, detail=True)
    assert_same_result(got, want, True, name)


def test_separate_source_feeds_only_the_mas(rust):
    rng = np.random.default_rng(7)
    close = random_walk(rng, 700)
    src = close * (1.0 + rng.uniform(-0.01, 0.01, close.size))
    config = ATCConfig(strategy=True, hma_kind="hull")
    want = compute_reference(close, config, detail=True, src=src)
    got = rust.compute(close, config, detail=True, src=src)
    assert_same_result(got, want, True, "src")
    # The source really matters: with close as source the MAs differ.
    plain = rust.compute(close, config, detail=True)
    assert not np.allclose(plain.mas[:, 100:], got.mas[:, 100:])


def test_without_detail_has_no_member_rows(rust):
    close = random_walk(np.random.default_rng(3), 400)
    res = rust.compute(close, ATCConfig())
    assert res.mas is None and res.states is None and res.equities is None
    assert_same_result(res, compute_reference(close, ATCConfig()), False, "no detail")


def test_long_series_runs_families_in_parallel_identically(rust):
    """Above the parallel threshold the six families run on the pool; same numbers."""
    close = random_walk(np.random.default_rng(11), 5000, vol=0.01)
    config = ATCConfig(cutout=10)
    got = rust.compute(close, config, detail=True)
    assert_same_result(got, compute_reference(close, config, detail=True), True, "5000 bars")


config_strategy = st.builds(
    lambda rob, lens, cut, strat, col, alert, kind, ct: ATCConfig(
        robustness=rob, cutout=cut, strategy=strat, colbase=col, alertbase=alert,
        hma_kind=kind, cut_threshold=ct,
        **dict(zip(("ema_len", "hull_len", "wma_len", "dema_len", "lsma_len", "kama_len"),
                   (max(x, 1 + ROBUSTNESS_OFFSETS[rob][3]) for x in lens)))),
    st.sampled_from(tuple(ROBUSTNESS_OFFSETS)),
    st.lists(st.integers(1, 60), min_size=6, max_size=6),
    st.integers(0, 250),
    st.booleans(),
    st.sampled_from(BASE_CHOICES),
    st.sampled_from(BASE_CHOICES),
    st.sampled_from(("sma", "hull")),
    st.sampled_from((0.49, 0.0, 0.3, 1.0)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=config_strategy, seed=st.integers(0, 2**32 - 1), n=st.integers(2, 400),
       vol=st.sampled_from((0.0005, 0.02, 0.08)))
def test_random_configs_match_reference(rust, config, seed, n, vol):
    close = random_walk(np.random.default_rng(seed), n, vol=vol)
    assert_same_result(rust.compute(close, config, detail=True),
                       compute_reference(close, config, detail=True), True, "hypothesis")


# -- batches -------------------------------------------------------------------------------
def padded_batch(rng: np.random.Generator, starts: list[int], bars: int) -> np.ndarray:
    out = np.full((len(starts), bars), np.nan)
    for i, s in enumerate(starts):
        out[i, s:] = random_walk(rng, bars - s, start=rng.uniform(5, 500))
    return out


def assert_same_batch(got, want, what: str) -> None:
    assert got.mode == want.mode
    assert got.signals.shape == want.signals.shape
    assert_matches(got.signals, want.signals, True, f"{what}:signals")
    assert_matches(got.family_equities, want.family_equities, False, f"{what}:family_equities")
    assert_matches(got.direction, want.direction, True, f"{what}:direction")
    assert got.long.dtype == got.short.dtype == np.bool_
    np.testing.assert_array_equal(got.long, want.long, err_msg=f"{what}:long")
    np.testing.assert_array_equal(got.short, want.short, err_msg=f"{what}:short")
    assert got.last_event.dtype == np.int8 and got.bars_since_event.dtype == np.int64
    np.testing.assert_array_equal(got.last_event, want.last_event, err_msg=f"{what}:last_event")
    np.testing.assert_array_equal(got.bars_since_event, want.bars_since_event,
                                  err_msg=f"{what}:bars_since_event")
    if want.average_signal is None:
        assert got.average_signal is None
    else:
        assert_matches(got.average_signal, want.average_signal, False, f"{what}:average")


STARTS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 37, 37, 37, 250, 0, 398, 399 - 2, 120, 5, 5]


@pytest.mark.parametrize("mode", ["full", "ema_only"])
@pytest.mark.parametrize("tail", [1, 9, 400])
def test_batch_matches_reference(rust, mode, tail):
    rng = np.random.default_rng(tail * 7 + len(mode))
    closes = padded_batch(rng, STARTS, 400)
    config = ATCConfig(cutout=3, strategy=(tail == 9), colbase="HMA" if tail == 400 else "Average")
    got = rust.compute_batch(closes, config, tail=tail, mode=mode)
    want = NumpyBackend().compute_batch(closes, config, tail=tail, mode=mode)
    assert_same_batch(got, want, f"{mode} tail={tail}")
    assert got.backend == "rust"


def test_batch_rows_equal_single_series(rust):
    """A batch row is the single-series computation of its history, on its last bars."""
    rng = np.random.default_rng(5)
    closes = padded_batch(rng, [0, 60, 0, 200, 0, 0, 0, 0, 0, 10], 600)
    config = ATCConfig(hma_kind="hull", alertbase="DEMA")
    tail = 50
    got = rust.compute_batch(closes, config, tail=tail)
    for i, row in enumerate(closes):
        s = int(np.argmax(np.isfinite(row)))
        single = rust.compute(row[s:], config)
        np.testing.assert_array_equal(got.signals[i], single.signals[:, -tail:])
        np.testing.assert_array_equal(got.family_equities[i], single.family_equities[:, -tail:])
        np.testing.assert_array_equal(got.average_signal[i], single.average_signal[-tail:])
        np.testing.assert_array_equal(got.direction[i], single.direction[-tail:])
        np.testing.assert_array_equal(got.long[i], single.long[-tail:])


def test_batch_events_are_counted_over_the_whole_history(rust):
    closes = padded_batch(np.random.default_rng(9), [0] * 12, 1500)
    got = rust.compute_batch(closes, ATCConfig(), tail=1)
    for i, row in enumerate(closes):
        single = rust.compute(row, ATCConfig())
        hits = np.flatnonzero(single.long | single.short)
        if hits.size == 0:
            assert got.last_event[i] == 0 and got.bars_since_event[i] == -1
        else:
            assert got.last_event[i] == (1 if single.long[hits[-1]] else -1)
            assert got.bars_since_event[i] == 1499 - hits[-1]
    assert (got.last_event != 0).any()


# -- long series: running sums stay exact ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sma", "hull"])
def test_100k_bars_match_direct_window_sums(rust, kind):
    """Running window sums are re-summed periodically, so after 100k bars (prices moving
    over three orders of magnitude) they still equal direct window sums within 1e-9."""
    rng = np.random.default_rng(2024)
    n = 100_000
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.00007, 0.02, n)))
    assert close.max() / close.min() > 1000
    config = ATCConfig(hma_kind=kind)
    res = rust.compute(close, config, detail=True)
    lengths = config.member_lengths()
    direct = {1: hull if kind == "hull" else sma, 2: wma, 4: lsma}
    for f, fn in direct.items():
        for m in range(9):
            row = f * 9 + m
            assert_matches(res.mas[row], fn(close, int(lengths[f, m])), False, MA_NAMES[row])
    # KAMA's noise is a running window sum too; compare two members with the reference.
    for m in (0, 8):
        row = 5 * 9 + m
        assert_matches(res.mas[row], kama(close, int(lengths[5, m])), False, MA_NAMES[row])


# -- near ties: prices on a tick grid, flat stretches, constants ----------------------------
def flat_stretches(rng: np.random.Generator, n: int, tick: float, start: float) -> np.ndarray:
    """A walk on a tick grid that often stands still for a while (MAs of a flat window
    equal the close to the last bit)."""
    steps = rng.choice([-1, 0, 0, 0, 1], size=n)
    hold = rng.random(n) < 0.3
    steps[hold] = 0
    return np.round(start + tick * np.cumsum(steps), 10).clip(min=tick)


def near_tie_batch(kind: str, symbols: int, bars: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(symbols):
        if kind == "constant":
            rows.append(np.full(bars, [42.0, 0.07, 1.5, 1234.5][i % 4]))
        elif kind == "flat":
            row = np.round(random_walk(rng, bars // 40 + 1, start=rng.uniform(5, 50)), 2)
            rows.append(np.repeat(row, 40)[:bars])
        elif kind == "cents":
            rows.append(np.round(random_walk(rng, bars, start=rng.uniform(2, 4), vol=0.003), 2))
        else:   # 5-decimal FX
            rows.append(np.round(random_walk(rng, bars, start=rng.uniform(0.6, 1.6), vol=0.002), 5))
    return np.ascontiguousarray(np.vstack(rows))


@pytest.mark.parametrize("kind", ["constant", "flat", "cents", "pips"])
def test_near_tie_batches_match_the_reference(rust, kind):
    """Batches of series whose MAs sit on the close: the running sums' band must hand
    every such bar to the exact §4.8 value, so every discrete output equals the
    reference's."""
    closes = near_tie_batch(kind, 10, 500, seed=len(kind))
    for config in (ATCConfig(), ATCConfig(robustness="Narrow", cutout=20, ema_len=6, hull_len=6,
                                          wma_len=6, dema_len=6, lsma_len=6, kama_len=6)):
        got = rust.compute_batch(closes, config, tail=closes.shape[1])
        want = NumpyBackend().compute_batch(closes, config, tail=closes.shape[1])
        assert_same_batch(got, want, kind)


@pytest.mark.parametrize("kind", ["constant", "flat", "cents", "pips"])
def test_near_tie_detail_mas_are_exact(rust, kind):
    """Single series of the same kinds: every MA bit for bit, states identical."""
    close = near_tie_batch(kind, 1, 700, seed=3 + len(kind))[0]
    want = compute_reference(close, ATCConfig(), detail=True)
    got = rust.compute(close, ATCConfig(), detail=True)
    np.testing.assert_array_equal(got.mas, want.mas)
    assert_same_result(got, want, True, kind)


near_tie_series = st.builds(
    flat_stretches,
    st.integers(0, 2**32 - 1).map(np.random.default_rng),
    st.integers(30, 400),
    st.sampled_from((0.01, 0.00001, 0.25)),
    st.sampled_from((1.0, 3.0, 150.0)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(close=near_tie_series, narrow=st.booleans())
def test_random_near_tie_series_match_the_reference(rust, close, narrow):
    """Random tick-grid series full of near ties: discrete outputs identical in single
    series and in batches, detail MAs bit for bit."""
    config = ATCConfig(robustness="Narrow", ema_len=5, hull_len=7, wma_len=5, dema_len=6,
                       lsma_len=5, kama_len=8) if narrow else ATCConfig()
    want = compute_reference(close, config, detail=True)
    got = rust.compute(close, config, detail=True)
    np.testing.assert_array_equal(got.mas, want.mas)
    assert_same_result(got, want, True, "near ties")
    batch = rust.compute_batch(np.vstack([close, close[::-1].copy()]), config, tail=close.size)
    np.testing.assert_array_equal(batch.signals[0], want.signals)
    np.testing.assert_array_equal(batch.direction[0], want.direction)
    np.testing.assert_array_equal(batch.long[0], want.long)
    np.testing.assert_array_equal(batch.short[0], want.short)
