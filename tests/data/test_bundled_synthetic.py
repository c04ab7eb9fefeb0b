"""The bundled real data (adjustment, replay) and the synthetic universe."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from core.data import make_provider
from core.data.providers.bundled import BundledProvider, bundled_path
from core.errors import DataError


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(bundled_path())


def test_bundled_symbols_and_unknown_ones():
    p = make_provider("bundled")
    assert p.symbols() == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert p.validate_symbols(["AAPL", "TSLA"]) == {
        "TSLA": "'TSLA' is not in the bundled data (it has AAPL, FB, GOOG, IBM, MSFT)"}
    assert p.intervals == ("1d",)
    with pytest.raises(DataError, match="no '1h' bars"):
        p.fetch(["AAPL"], "1h")


def test_known_aapl_bar_is_adjusted_with_adj_close(raw):
    bars = BundledProvider().fetch(["AAPL"]).bars["AAPL"]
    row = raw[(raw.Ticker == "AAPL") & (raw.Date == "2000-03-01")].iloc[0]
    assert (row.Close, row["Adj Close"]) == (130.31, 4.186662803811)
    i = 0
    assert bars.timestamps[i] == pd.Timestamp("2000-03-01", tz="America/New_York").value
    assert bars.close[i] == row["Adj Close"]
    ratio = row["Adj Close"] / row.Close
    assert bars.open[i] == pytest.approx(row.Open * ratio, rel=1e-15)
    assert bars.high[i] == pytest.approx(row.High * ratio, rel=1e-15)
    assert bars.low[i] == pytest.approx(row.Low * ratio, rel=1e-15)
    assert bars.volume[i] == row.Volume
    all_aapl = raw[raw.Ticker == "AAPL"]
    np.testing.assert_array_equal(bars.close, all_aapl["Adj Close"].to_numpy())
    assert bars.tz == "America/New_York" and bars.source == "bundled" and not bars.synthetic


def test_adjustment_removes_split_jumps(raw):
    # AAPL split 2:1 in June 2000 and 2005: unadjusted closes halve, adjusted ones do not.
    bars = BundledProvider().fetch(["AAPL"]).bars["AAPL"]
    aapl = raw[raw.Ticker == "AAPL"]
    unadjusted = aapl.Close.to_numpy()
    factor = unadjusted / aapl["Adj Close"].to_numpy()
    split_days = np.flatnonzero(factor[:-1] / factor[1:] > 1.9) + 1
    assert list(aapl.Date.iloc[split_days]) == ["2000-06-21", "2005-02-28"]
    adjusted = bars.close[split_days] / bars.close[split_days - 1]
    assert np.all(np.abs(np.log(adjusted)) < 0.1)
    assert np.all(unadjusted[split_days] / unadjusted[split_days - 1] < 0.55)


def test_replay_reveals_one_day_per_fetch_and_on_advance():
    p = make_provider("bundled", replay=True, replay_start=100)
    first = p.fetch(["AAPL", "MSFT"]).bars
    assert len(first["AAPL"]) == 100 and len(first["MSFT"]) == 100
    assert p.cursor == 101
    second = p.fetch(["AAPL"]).bars["AAPL"]
    assert len(second) == 101
    np.testing.assert_array_equal(second.close[:100], first["AAPL"].close)
    assert p.advance(5) == 107
    assert len(p.fetch(["AAPL"], advance=False).bars["AAPL"]) == 107
    assert p.cursor == 107


def test_replay_uses_one_calendar_and_reports_symbols_not_listed_yet():
    p = BundledProvider(replay=True, replay_start=3000)
    result = p.fetch(["AAPL", "FB"])
    assert "FB's bundled history starts 2012-05-18" in result.failures["FB"]
    p.advance(p.calendar_length)
    assert p.replay_finished and p.cursor == p.calendar_length
    result = p.fetch(["AAPL", "FB"])
    assert len(result.bars["FB"]) == 196 and len(result.bars["AAPL"]) == 3270
    assert p.cursor == p.calendar_length  # stays at the end


def test_default_replay_leaves_a_year_to_play():
    p = BundledProvider(replay=True)
    assert p.calendar_length - p.cursor == 250


def test_other_bundled_file_with_broken_rows_is_cleaned(tmp_path):
    path = tmp_path / "mini.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("Ticker,Date,Open,High,Low,Close,Volume,Adj Close\n"
                "ZZ,2001-01-02,10,11,9,10,100,5\n"
                "ZZ,2001-01-03,10,11,9,0,100,5\n"
                "ZZ,2001-01-04,10,11,9,10,100,5\n")
    result = BundledProvider(path=path).fetch(["ZZ"])
    assert len(result.bars["ZZ"]) == 2
    assert result.cleaning["ZZ"].counts == {"non_finite": 1}  # 0 close -> ratio inf


def test_synthetic_universe_is_labelled_deterministic_and_subset_stable():
    p = make_provider("synthetic", count=300, bars=800, seed=3)
    syms = p.symbols()
    assert len(syms) == 300 and syms[0] == "SYN0001" and syms[-1] == "SYN0300"
    all_bars = p.fetch(syms).bars
    one = make_provider("synthetic", count=300, bars=800, seed=3).fetch(["syn0042"]).bars["SYN0042"]
    np.testing.assert_array_equal(one.close, all_bars["SYN0042"].close)
    assert one.synthetic and one.source == "synthetic" and len(one) == 800
    other_seed = make_provider("synthetic", count=300, bars=800, seed=4).fetch(["SYN0042"]).bars
    assert not np.array_equal(other_seed["SYN0042"].close, one.close)
    # Weekdays only, ending on 2024-12-31.
    days = pd.to_datetime(one.timestamps)
    assert (days.day_of_week < 5).all() and str(days[-1].date()) == "2024-12-31"
    assert p.validate_symbols(["SYN0001", "SYN0301", "AAPL", "SYN1"]).keys() == {"SYN0301", "AAPL", "SYN1"}
    assert p.fetch(["SYN9999"]).failures


def test_synthetic_bars_pass_the_cleaner_untouched():
    result = make_provider("synthetic", count=20, bars=2000, seed=1).fetch(
        [f"SYN{i:04d}" for i in range(1, 21)])
    assert all(r.is_clean for r in result.cleaning.values()), [
        r.summary() for r in result.cleaning.values() if not r.is_clean]


def test_unknown_source():
    with pytest.raises(DataError, match="unknown data source 'ftp'"):
        make_provider("ftp")
    with pytest.raises(DataError, match="bad option"):
        make_provider("bundled", speed=3)
