"""The Yahoo provider against yfinance's real ``download`` fed by scripted tickers."""
from __future__ import annotations

import datetime as dt
import random
import threading
import time

import numpy as np
import pandas as pd
import pytest
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from core.data import make_provider
from core.data.providers import yahoo_frames
from core.data.providers.yahoo import YahooProvider, _default_download
from core.errors import DataError, RateLimited
from tests.data.fakes import NOW, daily_frame


def provider(fake_clock=None, **kw) -> YahooProvider:
    hooks = {} if fake_clock is None else {"sleep": fake_clock.sleep, "clock": fake_clock.clock}
    return YahooProvider(now=lambda: NOW, rng=random.Random(1), **hooks, **kw)


def test_batch_happy_path_keeps_values_utc_and_exchange_tz(fake_yahoo):
    aapl, msft = daily_frame(30, seed=1), daily_frame(30, seed=2, price=300)
    fake_yahoo.add("AAPL", aapl)
    fake_yahoo.add("MSFT", msft)
    result = provider().fetch(["aapl", "MSFT"], "1d")
    assert result.failures == {}
    assert set(result.bars) == {"AAPL", "MSFT"}
    bars = result.bars["AAPL"]
    np.testing.assert_array_equal(bars.close, aapl["Close"].to_numpy())
    np.testing.assert_array_equal(bars.volume, aapl["Volume"].to_numpy(np.float64))
    want_ts = aapl.index.tz_convert("UTC").as_unit("ns").asi8
    np.testing.assert_array_equal(bars.timestamps, want_ts)
    # Midnight in New York is 05:00 UTC in January.
    assert pd.Timestamp(int(bars.timestamps[0]), tz="UTC").hour == 5
    assert bars.tz == "America/New_York" and bars.source == "yahoo" and not bars.synthetic
    assert result.cleaning["AAPL"].is_clean
    # One batch request for both symbols, adjusted prices asked for, period=max by default.
    assert {t for t, _ in fake_yahoo.calls} == {"AAPL", "MSFT"}
    assert all(kw["auto_adjust"] and kw["period"] == "max" for _, kw in fake_yahoo.calls)


def test_partial_failure_names_each_symbol_and_keeps_the_others(fake_yahoo):
    fake_yahoo.add("AAPL", daily_frame(10))
    fake_yahoo.errors["DEAD"] = lambda t: YFPricesMissingError(t, " (1d 2024-01-01 -> 2024-02-01)")
    result = provider().fetch(["AAPL", "NOPE", "DEAD", "bad ticker!"], "1d")
    assert set(result.bars) == {"AAPL"} and len(result.bars["AAPL"]) == 10
    assert result.failures["NOPE"] == "possibly delisted; no timezone found"
    assert result.failures["DEAD"].startswith("possibly delisted; no price data found")
    assert "not a valid ticker" in result.failures["BAD TICKER!"]


def test_empty_frame_for_full_fetch_is_a_failure_but_not_for_incremental(fake_yahoo):
    fake_yahoo.add("EMPT", daily_frame(5).iloc[:0])
    fake_yahoo.add("AAPL", daily_frame(5))
    full = provider().fetch(["EMPT", "AAPL"], "1d")
    assert "no 1d bars" in full.failures["EMPT"] and "AAPL" in full.bars
    later = provider().fetch(["EMPT"], "1d", start=dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc))
    assert later.failures == {} and len(later.bars["EMPT"]) == 0


def test_rate_limited_tickers_are_retried_with_growing_jittered_delays(fake_yahoo, fake_clock):
    fake_yahoo.add("AAPL", daily_frame(10))
    fake_yahoo.add("MSFT", daily_frame(10))
    fake_yahoo.rate_limited["AAPL"] = 3
    p = provider(fake_clock, base_delay_s=2.0, max_delay_s=30.0, max_wait_s=60.0)
    result = p.fetch(["AAPL", "MSFT"], "1d")
    assert result.failures == {} and len(result.bars["AAPL"]) == 10
    assert len(fake_clock.sleeps) == 3
    for k, delay in enumerate(fake_clock.sleeps):
        nominal = 2.0 * 2 ** k
        assert nominal / 2 <= delay <= nominal  # equal jitter: half fixed, half random
    # Only the limited ticker is asked again.
    assert [t for t, _ in fake_yahoo.calls].count("MSFT") == 1
    assert [t for t, _ in fake_yahoo.calls].count("AAPL") == 4


def test_rate_limit_gives_up_within_the_time_bound(fake_yahoo, fake_clock):
    fake_yahoo.add("AAPL", daily_frame(10))
    fake_yahoo.rate_limited["AAPL"] = 10_000
    p = provider(fake_clock, base_delay_s=1.0, max_delay_s=8.0, max_wait_s=20.0)
    with pytest.raises(RateLimited, match="rate limited by Yahoo"):   # every symbol limited
        p.fetch(["AAPL"], "1d")
    assert sum(fake_clock.sleeps) <= 20.0
    assert len(fake_clock.sleeps) >= 3


def test_rate_limit_raised_by_download_itself_is_retried(fake_clock):
    calls = []

    def download(**kwargs):
        calls.append(kwargs["tickers"])
        if len(calls) < 3:
            raise YFRateLimitError()
        return _default_download(**kwargs)

    p = provider(fake_clock, download=lambda **kw: download(**kw))
    # The third call goes to the real download with no fake history: it must not reach
    # the network (the guard would fail the test) - pretend the ticker is unknown instead.
    with pytest.MonkeyPatch.context() as mp:
        from yfinance.base import TickerBase
        from yfinance.exceptions import YFTzMissingError

        mp.setattr(TickerBase, "history", lambda self, **kw: (_ for _ in ()).throw(YFTzMissingError(self.ticker)))
        result = p.fetch(["AAPL"], "1d")
    assert len(calls) == 3 and len(fake_clock.sleeps) == 2
    assert result.failures["AAPL"] == "possibly delisted; no timezone found"


def test_other_download_exceptions_fail_the_batch_without_raising(fake_clock):
    def download(**kwargs):
        raise ValueError("malformed answer")       # no network: tests/data/test_yahoo_offline.py

    result = provider(fake_clock, download=download).fetch(["AAPL", "MSFT"], "1d")
    assert set(result.failures) == {"AAPL", "MSFT"}
    assert "ValueError: malformed answer" in result.failures["AAPL"]
    assert fake_clock.sleeps == []


@pytest.mark.parametrize("interval, days, ok", [
    ("1m", 29, True), ("1m", 31, False), ("5m", 59, True), ("5m", 61, False),
    ("90m", 61, False), ("1h", 729, True), ("1h", 731, False), ("1d", 9000, True),
])
def test_history_limits_are_enforced_before_any_request(fake_yahoo, interval, days, ok):
    fake_yahoo.add("AAPL", daily_frame(3))
    start = NOW - dt.timedelta(days=days)
    if ok:
        provider().fetch(["AAPL"], interval, start=start)
    else:
        with pytest.raises(DataError, match=rf"keeps {interval} bars for about \d+ days"):
            provider().fetch(["AAPL"], interval, start=start)
        assert fake_yahoo.calls == []


def test_one_minute_requests_are_split_into_seven_day_windows(fake_yahoo):
    frame = daily_frame(20 * 390, start="2024-02-05 14:30", tz="UTC", freq="min")
    fake_yahoo.add("AAPL", frame)
    start = NOW - dt.timedelta(days=20)
    result = provider().fetch(["AAPL"], "1m", start=start)
    windows = [(kw["start"], kw.get("end")) for _, kw in fake_yahoo.calls]
    assert len(windows) == 3
    for lo, hi in windows[:-1]:
        assert hi - lo == dt.timedelta(days=7)
    assert windows[-1][1] is None
    assert windows[1][0] == windows[0][1]
    want = frame[frame.index >= pd.Timestamp(start)]
    np.testing.assert_array_equal(result.bars["AAPL"].close, want["Close"].to_numpy())


def test_unknown_interval_is_refused():
    with pytest.raises(DataError, match="no '3h' bars"):
        provider().fetch(["AAPL"], "3h")


def test_downloads_never_overlap_across_threads(fake_clock):
    active = 0
    peak = 0
    lock = threading.Lock()

    def download(**kwargs):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return pd.DataFrame()

    p = provider(fake_clock, download=download, batch_size=1)
    threads = [threading.Thread(target=p.fetch, args=(["A", "B", "C"], "1d")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1


def _frame(group_by: str) -> pd.DataFrame:
    a, b = daily_frame(4, seed=1), daily_frame(3, seed=2, start="2024-01-03")
    data = pd.concat({"AAA": a, "BBB": b}, axis=1, names=["Ticker", "Price"])
    if group_by == "column":
        data.columns = data.columns.swaplevel(0, 1)
        data = data.sort_index(axis=1, level=0)
    return data


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_split_frame_reads_both_multiindex_orientations(group_by):
    parts = yahoo_frames.split_frame(_frame(group_by), ["AAA", "BBB"])
    assert set(parts) == {"AAA", "BBB"}
    cols, tz = yahoo_frames.frame_arrays(parts["BBB"])
    # BBB was reindexed onto AAA's 4 days; the padding row is dropped, not reported.
    assert cols["timestamps"].size == 3 and tz == "America/New_York"


def test_split_frame_flat_columns_for_a_single_ticker():
    flat = daily_frame(4)
    parts = yahoo_frames.split_frame(flat, ["AAA"])
    assert list(parts) == ["AAA"]
    with pytest.raises(DataError, match="flat columns"):
        yahoo_frames.split_frame(flat, ["AAA", "BBB"])


def test_partly_broken_rows_reach_the_cleaner_and_are_reported(fake_yahoo):
    frame = daily_frame(10)
    frame.iloc[3, frame.columns.get_loc("Close")] = np.nan
    frame.iloc[5, frame.columns.get_loc("Low")] = -1.0
    fake_yahoo.add("AAPL", frame)
    result = provider().fetch(["AAPL"], "1d")
    report = result.cleaning["AAPL"]
    assert report.counts == {"non_finite": 1, "non_positive": 1}
    assert report.first["non_finite"] == frame.index[3].tz_convert("UTC").as_unit("ns").value
    assert len(result.bars["AAPL"]) == 8


def test_make_provider_builds_yahoo_with_options():
    p = make_provider("yahoo", batch_size=7)
    assert isinstance(p, YahooProvider) and p.batch_size == 7
    assert p.validate_symbols(["AAPL", "BRK-B", "^GSPC", "no way"]) == {
        "no way": "'NO WAY' is not a valid ticker (letters, digits and . - ^ = & _ only, at most 32 characters)"}
    with pytest.raises(DataError, match="bad option"):
        make_provider("yahoo", colour="red")
