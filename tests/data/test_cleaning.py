"""The cleaner: one test per policy, then arbitrary malformed rows (hypothesis)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.cleaning import KINDS, POLICIES, clean_arrays
from core.errors import DataError

DAY = 86_400 * 10**9
NAT = np.iinfo(np.int64).min


def clean(ts, close, *, open=None, high=None, low=None, volume=None, interval="1d"):
    close = np.asarray(close, dtype=float)
    o = close if open is None else np.asarray(open, dtype=float)
    h = np.fmax(o, close) if high is None else np.asarray(high, dtype=float)
    lo = np.fmin(o, close) if low is None else np.asarray(low, dtype=float)
    v = np.ones_like(close) if volume is None else volume
    return clean_arrays("T", interval, np.asarray(ts, dtype=np.int64), o, h, lo, close, v)


def days(*d):
    return [x * DAY for x in d]


def test_clean_input_is_passed_through_untouched():
    bars, report = clean(days(0, 1, 2, 3), [10.0, 11.0, 10.5, 10.7])
    assert report.is_clean and report.counts == {} and report.rows_out == 4
    np.testing.assert_array_equal(bars.close, [10.0, 11.0, 10.5, 10.7])
    assert report.summary() == "T 1d: clean, 4 bars"


def test_missing_timestamps_are_dropped():
    bars, report = clean([NAT, DAY, 2 * DAY], [1.0, 2.0, 3.0])
    assert report.counts == {"bad_timestamp": 1} and report.first["bad_timestamp"] is None
    assert len(bars) == 2


def test_non_finite_and_non_positive_rows_are_dropped_and_first_is_the_earliest():
    close = [10.0, np.nan, 11.0, np.inf, 12.0, 0.0, -3.0, 12.5]
    bars, report = clean(days(7, 6, 5, 4, 3, 2, 1, 0), close)
    assert report.counts["non_finite"] == 2 and report.first["non_finite"] == 4 * DAY
    assert report.counts["non_positive"] == 2 and report.first["non_positive"] == 1 * DAY
    assert np.all(np.isfinite(bars.close)) and np.all(bars.close > 0)


def test_prices_beyond_the_computable_range_are_dropped_and_reported():
    close = [10.0, 2e100, 11.0, 1e-120, 12.0]
    bars, report = clean(days(0, 1, 2, 3, 4), close)
    assert report.counts == {"out_of_range": 2} and report.first["out_of_range"] == 1 * DAY
    np.testing.assert_array_equal(bars.close, [10.0, 11.0, 12.0])
    assert "1e-100 … 1e+100" in report.summary()


def test_unsorted_rows_are_sorted():
    bars, report = clean(days(0, 2, 1, 3), [1.0, 3.0, 2.0, 4.0])
    assert report.counts == {"unsorted": 1} and report.first["unsorted"] == DAY
    np.testing.assert_array_equal(bars.close, [1.0, 2.0, 3.0, 4.0])


def test_duplicates_keep_the_last_row_received():
    bars, report = clean(days(0, 1, 1, 2, 1), [1.0, 2.0, 2.1, 3.0, 2.2])
    assert report.counts["duplicate"] == 2 and report.first["duplicate"] == DAY
    np.testing.assert_array_equal(bars.close, [1.0, 2.2, 3.0])


def test_a_broken_refetch_does_not_replace_a_good_bar():
    bars, report = clean(days(0, 1, 1), [1.0, 2.0, np.nan])
    np.testing.assert_array_equal(bars.close, [1.0, 2.0])
    assert report.counts == {"non_finite": 1}


def test_inconsistent_high_low_are_widened():
    bars, report = clean(days(0, 1), [10.0, 11.0], open=[10.0, 12.0], high=[9.0, 12.5],
                         low=[9.5, 11.5])
    assert report.counts == {"inconsistent": 2}
    np.testing.assert_array_equal(bars.high, [10.0, 12.5])
    np.testing.assert_array_equal(bars.low, [9.0, 11.0])  # the bar's lowest price was its "high"


def test_bad_volume_becomes_zero():
    bars, report = clean(days(0, 1, 2), [1.0, 1.0, 1.0], volume=[np.nan, -5.0, 7.0])
    assert report.counts == {"bad_volume": 2}
    np.testing.assert_array_equal(bars.volume, [0.0, 0.0, 7.0])


def test_isolated_spike_is_dropped_but_a_level_shift_is_kept_and_flagged():
    bars, report = clean(days(0, 1, 2, 3), [10.0, 250.0, 10.5, 11.0])
    assert report.counts == {"spike": 1} and report.first["spike"] == DAY
    np.testing.assert_array_equal(bars.close, [10.0, 10.5, 11.0])

    bars, report = clean(days(0, 1, 2, 3), [100.0, 101.0, 5.0, 5.1])  # 20:1, unadjusted
    assert report.counts == {"jump": 1} and report.first["jump"] == 2 * DAY
    assert len(bars) == 4


def test_gaps_are_reported_not_filled():
    bars, report = clean(days(0, 1, 12, 13, 30), [1.0, 1.0, 1.0, 1.0, 1.0])
    assert report.counts == {"gap": 2} and report.first["gap"] == 12 * DAY
    assert len(bars) == 5
    # A weekend or a long holiday weekend is not a gap for daily bars...
    assert clean(days(0, 3, 7), [1.0, 1.0, 1.0])[1].is_clean
    # ...and intraday bars tolerate nights and weekends.
    minute = 60 * 10**9
    ts = [0, minute, 3 * DAY, 8 * DAY]
    assert clean(ts, [1.0] * 4, interval="1m")[1].counts == {"gap": 1}


def test_summary_names_counts_first_timestamp_and_policy():
    _, report = clean(days(0, 1, 1, 20), [1.0, 2.0, 2.0, np.nan])
    line = report.summary()
    assert line.startswith("T 1d: 4 rows -> 2 bars;")
    assert "1 non_finite, first 1970-01-21 (rows with a NaN or infinite price dropped)" in line
    assert "1 duplicate, first 1970-01-02" in line
    assert report.policy == {"non_finite": POLICIES["non_finite"], "duplicate": POLICIES["duplicate"]}


def test_mismatched_lengths_are_a_provider_bug():
    with pytest.raises(DataError, match="close has shape"):
        clean_arrays("T", "1d", [0, 1], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0], [1.0, 1.0])


def test_datetime64_input_and_nat():
    ts = np.array(["2024-01-02", "NaT", "2024-01-03"], dtype="datetime64[D]")
    bars, report = clean_arrays("T", "1d", ts, [1.0] * 3, [1.0] * 3, [1.0] * 3, [1.0] * 3)
    assert len(bars) == 2 and report.counts == {"bad_timestamp": 1}
    assert bars.timestamps[0] == np.datetime64("2024-01-02", "ns").astype(np.int64)


# -- property tests ---------------------------------------------------------------------

prices = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, -1.0, 1e-300, 5e-324, 1e300, np.nan, np.inf, -np.inf]),
    st.floats(min_value=1.0, max_value=200.0),
)
timestamps = st.one_of(
    st.integers(min_value=np.iinfo(np.int64).min, max_value=np.iinfo(np.int64).max),
    st.integers(min_value=0, max_value=40).map(lambda d: d * DAY),
)
rows = st.lists(st.tuples(timestamps, prices, prices, prices, prices, prices), max_size=60)


@settings(max_examples=300, deadline=None)
@given(rows=rows, interval=st.sampled_from(["1m", "1h", "1d", "1wk", "1mo"]))
def test_cleaner_never_crashes_and_passes_only_valid_bars(rows, interval):
    cols = list(zip(*rows)) if rows else [[]] * 6
    ts, o, h, lo, c, v = (np.asarray(x) for x in cols)
    bars, report = clean_arrays("P", interval, ts.astype(np.int64), o, h, lo, c, v)
    prices_out = np.vstack([bars.open, bars.high, bars.low, bars.close])
    assert np.isfinite(prices_out).all() and (prices_out > 0).all()
    assert np.isfinite(bars.volume).all() and (bars.volume >= 0).all()
    # Compare neighbours directly: np.diff of extreme int64 timestamps would wrap around.
    assert (bars.timestamps[1:] > bars.timestamps[:-1]).all()
    assert (bars.high >= np.fmax(bars.open, bars.close)).all()
    assert (bars.low <= np.fmin(bars.open, bars.close)).all()
    assert report.rows_in == len(rows) and report.rows_out == len(bars)
    assert set(report.counts) <= set(KINDS) and all(n > 0 for n in report.counts.values())
    dropping = ("bad_timestamp", "non_finite", "non_positive", "out_of_range", "duplicate", "spike")
    # Nothing disappears unreported.
    assert report.rows_in - report.rows_out == sum(report.counts.get(k, 0) for k in dropping)
    assert isinstance(report.summary(), str)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=3, max_value=40), data=st.data())
def test_every_kind_injected_is_reported(n, data):
    base_ts = np.arange(n, dtype=np.int64) * DAY
    close = np.full(n, 100.0)
    kind = data.draw(st.sampled_from(KINDS))
    i = data.draw(st.integers(min_value=1, max_value=n - 2))
    o, h, lo, v = close.copy(), close.copy(), close.copy(), np.ones(n)
    ts = base_ts.copy()
    if kind == "bad_timestamp":
        ts[i] = NAT
    elif kind == "non_finite":
        h[i] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "non_positive":
        lo[i] = data.draw(st.sampled_from([0.0, -1.0]))
    elif kind == "out_of_range":
        h[i] = data.draw(st.sampled_from([1e101, 1e305]))
    elif kind == "unsorted":
        ts[[i, i + 1]] = ts[[i + 1, i]]
    elif kind == "duplicate":
        ts[i + 1] = ts[i]
        ts[i + 2:] = base_ts[i + 1:-1]
    elif kind == "inconsistent":
        h[i] = 99.0
    elif kind == "bad_volume":
        v[i] = -1.0
    elif kind == "spike":
        close[i] = o[i] = h[i] = lo[i] = 5000.0
    elif kind == "jump":
        close[i:] = o[i:] = h[i:] = lo[i:] = 5000.0
    elif kind == "gap":
        ts[i:] += 30 * DAY
    bars, report = clean_arrays("K", "1d", ts, o, h, lo, close, v)
    assert kind in report.counts, (kind, report.counts)
    expected_first = {"bad_timestamp": None, "unsorted": base_ts[i], "duplicate": base_ts[i]}
    if kind in expected_first:
        assert report.first[kind] == expected_first[kind]
    elif kind == "gap":
        assert report.first[kind] == ts[i]
    else:
        assert report.first[kind] == base_ts[i]
