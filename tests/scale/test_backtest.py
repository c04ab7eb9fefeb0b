"""The backtest: hand-computed cases for both entries, costs, flips and long-only, and the
compiled fast path against the numpy reference on random events and ragged batches."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.backtest import METRICS, BacktestOptions, backtest_many_reference, backtest_reference, periods_per_year
from core.errors import ATCInputError
from core.jit.backtest import backtest_batch


def events(n: int, longs: list[int], shorts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    long, short = np.zeros(n, bool), np.zeros(n, bool)
    long[longs] = True
    short[shorts] = True
    return long, short


def both(open_, close, long, short, options, ppy=252.0) -> dict[str, float]:
    """The reference's metrics, after checking the fast path gives the same."""
    ref = backtest_reference(np.asarray(open_, float), np.asarray(close, float), long, short, options, ppy)
    fast = backtest_batch(np.asarray([open_], float), np.asarray([close], float), long[None], short[None],
                          options, ppy)[0]
    np.testing.assert_allclose(fast, [ref[k] for k in METRICS], rtol=1e-12, atol=1e-15)
    return ref


CLOSE = [100.0, 110.0, 121.0, 110.0, 99.0]


def test_close_entry_long_then_flip_short_without_cost():
    m = both(CLOSE, CLOSE, *events(5, [0], [2]), BacktestOptions(entry="close"))
    # +1 over bars 1-2 (+10 % twice), −1 over bars 3-4 (+1/11, +10 %)
    assert m["total_return"] == pytest.approx(1.1 * 1.1 * (1 + 1 / 11) * 1.1 - 1)
    assert (m["trades"], m["hit_rate"], m["exposure"], m["max_drawdown"]) == (2, 1.0, 1.0, 0.0)


def test_costs_per_side_a_flip_pays_twice():
    keep = 1 - 10 / 10_000
    m = both(CLOSE, CLOSE, *events(5, [0], [2]), BacktestOptions(entry="close", cost_bps=10))
    assert m["total_return"] == pytest.approx(1.452 * keep ** 3 - 1, rel=1e-12)


def test_long_only_goes_flat_on_a_short_event():
    m = both(CLOSE, CLOSE, *events(5, [0], [2]), BacktestOptions(entry="close", long_only=True))
    assert m["total_return"] == pytest.approx(0.21)
    assert (m["trades"], m["hit_rate"], m["exposure"]) == (1, 1.0, 0.5)


def test_next_open_entry_trades_at_the_following_open():
    close = [100.0, 100.0, 110.0, 110.0, 121.0]
    open_ = [100.0, 102.0, 105.0, 112.0, 120.0]
    m = both(open_, close, *events(5, [0], [2]), BacktestOptions(entry="next_open"))
    bought_102_sold_112 = 112 / 102
    short = (1 + 2 / 112) * (1 - 10 / 110) * (1 - 1 / 120)     # from open 3 to the last close
    assert m["total_return"] == pytest.approx(bought_102_sold_112 * short - 1, rel=1e-12)
    assert (m["trades"], m["hit_rate"], m["exposure"]) == (2, 0.5, 1.0)


def test_drawdown_sharpe_and_cagr_by_hand():
    close = [100.0, 110.0, 99.0, 108.9]
    m = both(close, close, *events(4, [0], []), BacktestOptions(entry="close"))
    r = np.array([0.1, -0.1, 0.1])
    assert m["max_drawdown"] == pytest.approx(0.1)
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert m["cagr"] == pytest.approx(1.089 ** (252 / 3) - 1)


def test_an_event_on_the_last_bar_is_never_traded():
    m = both(CLOSE, CLOSE, *events(5, [4], []), BacktestOptions(entry="close"))
    assert (m["trades"], m["total_return"], m["exposure"]) == (0, 0.0, 0.0)
    assert math.isnan(m["hit_rate"]) and math.isnan(m["sharpe"])


@pytest.mark.parametrize("options", [BacktestOptions(), BacktestOptions(entry="close", cost_bps=7.5),
                                     BacktestOptions(long_only=True, cost_bps=3)])
def test_fast_path_matches_the_reference_on_ragged_random_batches(options):
    rng = np.random.default_rng(5)
    symbols, bars = 60, 500
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (symbols, bars)), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.01, (symbols, bars)))
    draw = rng.random((symbols, bars))
    long, short = draw < 0.02, draw > 0.98
    for i in range(symbols):                   # ragged: later starts, padded with NaN
        k = int(rng.integers(0, 480))
        close[i, :k] = open_[i, :k] = np.nan
        long[i, :k] = short[i, :k] = False
    ref = backtest_many_reference(open_, close, long, short, options, 52.0)
    fast = backtest_batch(open_, close, long, short, options, 52.0)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)
    assert np.array_equal(fast[:, 4], ref[:, 4]) and fast[:, 4].sum() > symbols


def test_options_and_annualisation_are_checked():
    with pytest.raises(ATCInputError, match="entry = 'open' is not allowed"):
        BacktestOptions(entry="open")
    with pytest.raises(ATCInputError, match="cost_bps = -1 is out of range"):
        BacktestOptions(cost_bps=-1)
    with pytest.raises(ATCInputError, match="unknown backtest option 'fee'"):
        BacktestOptions.from_dict({"fee": 1})
    assert periods_per_year("1d") == 252 and periods_per_year("1wk") == 52
    assert periods_per_year("1h") == pytest.approx(252 * 6.5)
    assert BacktestOptions(periods_per_year=365).annualisation("1d") == 365
