"""The numpy reference against the golden files and against hand-checked spec rules."""
import math

import numpy as np
import pytest

from core.atc import compute_reference
from core.atc.equity import crossover_state, equity
from core.atc.layers import round2
from core.atc.moving_averages import dema, ema, kama, lsma, rolling_sum, sma, wma
from core.atc.pine import gt, lt, ne
from core.config import ATCConfig
from core.types import as_series
from tests.conftest import GOLDEN_FILES, golden_id, load_golden, mismatches


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_reference_matches_golden(path):
    gold, config = load_golden(path)
    src = as_series(gold["src"], "src") if "src" in gold else None
    result = compute_reference(as_series(gold["close"]), config, detail=True, src=src)
    columns = dict(result.columns(detail=True))
    assert len(set(columns) & set(gold)) >= 180
    assert mismatches(columns, gold) == []


def test_round2_is_half_away_from_zero():
    v = np.array([0.125, -0.125, 0.135, 0.0049999, 0.004999999999999, -0.5, 0.0])
    # 0.125, 0.135 and 0.004999999999999 are ties (within 1e-10 below ½ after scaling)
    assert round2(v).tolist() == [0.13, -0.13, 0.14, 0.0, 0.01, -0.5, 0.0]


def test_ema_seeds_with_the_sma_and_steps_pine_style():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    out = ema(x, 3)
    assert np.isnan(out[:2]).all() and out[2] == 2.0
    assert out[3] == 2.0 + 0.5 * (4.0 - 2.0) and out[4] == 3.0 + 0.5 * 7.0


def test_dema_first_value_is_on_bar_2n_minus_2():
    x = np.linspace(1, 2, 40)
    out = dema(x, 5)
    assert np.isnan(out[:8]).all() and not np.isnan(out[8])


def test_window_mas_against_direct_sums():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    assert sma(x, 3)[6] == pytest.approx((5 + 9 + 2) / 3)
    assert wma(x, 3)[6] == pytest.approx((1 * 5 + 2 * 9 + 3 * 2) / 6)
    slope, icpt = np.polyfit([0, 1, 2, 3], x[3:7], 1)
    assert lsma(x, 4)[6] == pytest.approx(icpt + 3 * slope)
    assert lsma(x, 1).tolist() == x.tolist()


def test_kama_starts_from_zero_and_creeps():
    x = np.full(30, 100.0) + np.arange(30)
    out = kama(x, 10)
    assert out[0] == pytest.approx(0.004096 * 100.0)
    assert out[9] < 10.0 < x[9]                        # far below price during warm-up


def test_crossover_state_persists_and_starts_at_zero():
    close = np.array([1.0, 3.0, 3.0, 1.0, 1.0])
    ma = np.array([np.nan, 2.0, 2.0, 2.0, 2.0])
    assert crossover_state(close, ma).tolist() == [0, 0, 0, -1, -1]   # na on bar 0 → no event
    ma2 = np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    assert crossover_state(close, ma2).tolist() == [0, 1, 1, -1, -1]


def test_equity_keeps_a_when_the_signal_goes_flat_and_floors():
    sig = np.array([0.0, 1.0, 0.0, 0.0, -1.0])
    rg = np.array([np.nan, 0.1, 0.2, 0.3, -0.5])
    e = equity(1.0, sig, rg, 0, 0.0)
    # bar1: p=0 → a=0; bar2: p=1 → a=.2; bar3: p=0 → a stays .2; bar4: p=0 → a stays .2
    assert e.tolist() == pytest.approx([1.0, 1.0, 1.2, 1.44, 1.728])
    e2 = equity(1.0, np.array([1.0, 1.0, 1.0]), np.array([np.nan, -0.9, -0.9]), 0, 0.0)
    assert e2.tolist() == [1.0, 0.25, 0.25]


def test_values_depend_only_on_history_before_each_bar():
    """No look-ahead: truncating the series leaves every earlier value unchanged."""
    x = np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, 400))) * 50
    full = compute_reference(x, ATCConfig())
    part = compute_reference(x[:250], ATCConfig())
    np.testing.assert_array_equal(full.average_signal[:250], part.average_signal)
    np.testing.assert_array_equal(full.long[:250], part.long)


def test_growth_warning_follows_the_pine_thresholds():
    c = ATCConfig(La=0.5)
    r = compute_reference(np.linspace(10, 20, 300), c)
    assert r.growth_factor == pytest.approx(math.exp(0.0005 * 299))
    assert r.growth_warning and "1.1" in r.growth_warning
    assert compute_reference(np.linspace(10, 20, 300), ATCConfig()).growth_warning is None


# -- TradingView's arithmetic (spec §4.8) ---------------------------------------------------

def test_rolling_sum_rebaselines_when_the_compensation_is_lost():
    """Hand-traced: after 0.3, 0.5, 0.2 the compensation is −2⁻⁵⁴; adding its size to 0.5
    rounds it away (the fire test), so bar 3 is re-summed newest first: 0.5 + (0.2 + 0.5)
    = 1.2, where the compensated update alone would give 1.2000000000000002."""
    out = rolling_sum(np.array([0.3, 0.5, 0.2, 0.5]), 3)
    assert math.isnan(out[0]) and math.isnan(out[1])
    assert out[2] == 1.0
    assert out[3] == 0.5 + (0.2 + 0.5) == 1.2


def test_rolling_sum_skips_na_and_passes_length_one_through():
    x = np.array([1.0, np.nan, 2.0, 3.0, np.nan, 4.0])
    out = rolling_sum(x, 2)
    assert np.isnan(out[:2]).all() and out[2] == 3.0 and out[3] == 5.0
    assert out[4] == 5.0 and out[5] == 7.0          # na after the warm-up: the current sum
    np.testing.assert_array_equal(rolling_sum(x, 1), x)


def test_rolling_sum_stays_within_a_few_ulps_of_the_exact_window_sum():
    x = np.exp(np.random.default_rng(7).normal(0, 1, 5000)) * 37.3
    out = rolling_sum(x, 29)
    exact = np.array([math.fsum(x[t - 28:t + 1]) for t in range(28, 5000)])
    np.testing.assert_allclose(out[28:], exact, rtol=2e-15, atol=0)
    ints = np.arange(1.0, 200.0)                     # integer sums are exact
    np.testing.assert_array_equal(rolling_sum(ints, 7)[6:], np.convolve(ints, np.ones(7), "valid"))


def test_sma_and_ema_seed_come_from_the_rolling_sum():
    x = np.array([0.3, 0.5, 0.2, 0.5, 0.2, 0.3])
    assert sma(x, 3)[3] == 1.2 / 3
    e = ema(x, 3)
    assert e[2] == 1.0 / 3 and e[3] == e[2] + 0.5 * (0.5 - e[2])


def test_wma_and_linreg_sum_each_window_oldest_first():
    """A scalar transcription of §4.8's loops, window by window, against the vectorised one."""
    x = np.round(np.exp(np.random.default_rng(2).normal(0, 0.01, 300).cumsum()) * 13.37, 2)
    for n in (2, 5, 17, 34):
        norm = 0.0
        for i in range(1, n + 1):
            norm += i
        sx = sx2 = 0.0
        for i in range(1, n + 1):
            sx += i
            sx2 += i * i
        den = n * sx2 - sx * sx
        w_out, l_out = wma(x, n), lsma(x, n)
        for t in range(n - 1, 300):
            win = x[t - n + 1:t + 1].tolist()
            w = acc = 0.0
            sy = sxy = 0.0
            for p, y in enumerate(win, start=1):
                w += 1.0
                acc += y * w
                sy += y
                sxy += y * p
            assert w_out[t] == acc / norm
            slope = (n * sxy - sx * sy) / den
            intercept = (sy / n - slope * sx / n) + slope
            assert l_out[t] == intercept + slope * (n - 1)


def test_script_comparisons_are_pine_tolerant():
    assert not lt(0.25 - 5e-11, 0.25) and lt(0.25 - 2e-10, 0.25)
    assert not gt(0.49 + 1e-11, 0.49) and gt(0.4901, 0.49)
    assert not ne(5e-11, 0.0) and ne(1e-9, 0.0) and not ne(math.nan, 0.0)
    # an equity a hair under the floor is not floored
    e = equity(1.0, np.array([1.0, 1.0]), np.array([np.nan, -0.75 - 4e-11]), 0, 0.0)
    assert e[1] == 1.0 * (1.0 + (-0.75 - 4e-11)) and e[1] < 0.25
    # KAMA: a noise of 5e-11 counts as zero, so the ratio is 0 and smooth the slow constant
    x = np.array([1.0, 1.0 + 5e-11, 1.0 + 5e-11, 1.0 + 5e-11])
    k = kama(x, 2)
    assert k[3] == k[2] + (0.064 ** 2) * (x[3] - k[2])
