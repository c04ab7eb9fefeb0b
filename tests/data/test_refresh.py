"""Incremental refresh, staleness and the close series for ``atc compute --symbol``."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.data import (
    BarStore, FetchResult, closes_for_symbol, is_stale, make_provider, refresh, stale_after,
)
from core.data.cleaning import clean_arrays
from core.data.providers.yahoo import YahooProvider
from core.data.refresh import ns_to_datetime
from core.data.rewrites import TAIL_BARS
from core.errors import DataError
from tests.data.fakes import DAY_NS, NOW, daily_frame, make_bars


@pytest.fixture
def store(tmp_path):
    with BarStore(tmp_path / "bars.sqlite3") as s:
        yield s


class Recording:
    """A provider serving fixed bars and recording each fetch call."""

    name = "csv"
    intervals = ("1d",)

    def __init__(self, bars, earliest=None, refuse=False):
        self.bars = {b.symbol: b for b in bars}
        self.calls = []
        self.earliest = earliest
        self.refuse = refuse

    def validate_symbols(self, symbols):
        return {}

    def earliest_start(self, interval):
        return self.earliest

    def fetch(self, symbols, interval="1d", start=None):
        self.calls.append((list(symbols), start))
        if self.refuse:
            raise DataError("history limit exceeded")
        out = FetchResult()
        for s in symbols:
            if s not in self.bars:
                out.fail(s, "unknown")
                continue
            b = self.bars[s]
            if start is not None:
                b = b.since(int(pd.Timestamp(start).value))
            bars, report = clean_arrays(s, interval, b.timestamps, b.open, b.high, b.low,
                                        b.close, b.volume)
            out.add(bars, report)
        return out


def test_bundled_replay_refresh_adds_one_bar_each_time(store):
    p = make_provider("bundled", replay=True, replay_start=500)
    clock = iter([100.0, 200.0, 300.0])
    first = refresh(store, p, ["AAPL", "MSFT"], clock=lambda: next(clock))
    assert first.updated == {"AAPL": 500, "MSFT": 500} and first.fetched_at == 100.0
    assert store.last_fetch("AAPL", "1d") == 100.0
    for t in (200.0, 300.0):
        r = refresh(store, p, ["AAPL", "MSFT"], clock=lambda t=t: t)
        assert r.updated == {"AAPL": 1, "MSFT": 1} and r.failures == {}
        assert store.last_fetch("MSFT", "1d") == t
    assert store.count("AAPL", "1d") == 502


def test_one_day_per_refresh_even_when_a_new_symbol_needs_its_own_fetch(store):
    p = make_provider("bundled", replay=True, replay_start=500)
    refresh(store, p, ["AAPL"])
    cursor = p.cursor
    r = refresh(store, p, ["AAPL", "MSFT"])
    assert p.cursor == cursor + 1
    assert r.updated == {"MSFT": 501, "AAPL": 1}
    assert store.last_timestamp("AAPL", "1d") == store.last_timestamp("MSFT", "1d")


def test_incremental_fetch_starts_at_the_overlap_and_counts_the_last_bars_change(store, fake_yahoo):
    frame = daily_frame(30)
    fake_yahoo.add("AAPL", frame.iloc[:20].copy())
    p = YahooProvider(now=lambda: NOW)
    assert refresh(store, p, ["AAPL"]).updated == {"AAPL": 20}
    overlap_start = int(store.load("AAPL", last=TAIL_BARS).timestamps[0])
    # The forming bar closed differently, and two more bars appeared.
    newer = frame.iloc[:22].copy()
    newer.iloc[19, newer.columns.get_loc("Close")] *= 1.01
    fake_yahoo.add("AAPL", newer)
    fake_yahoo.calls.clear()
    r = refresh(store, p, ["AAPL"])
    assert r.updated == {"AAPL": 3} and r.rewritten == {}
    assert [kw["start"] for _, kw in fake_yahoo.calls] == [ns_to_datetime(overlap_start)]
    got = store.load("AAPL")
    assert len(got) == 22 and got.close[19] == newer["Close"].iloc[19]
    # Nothing new: the refetched last bar is unchanged, so 0 updates, but it counts as a fetch.
    r = refresh(store, p, ["AAPL"], clock=lambda: 42.0)
    assert r.updated == {"AAPL": 0} and store.last_fetch("AAPL", "1d") == 42.0


def test_failures_leave_stored_bars_and_fetch_times_alone(store):
    good = make_bars("A", 50)
    p = Recording([good])
    refresh(store, p, ["A"], clock=lambda: 1.0)
    p.bars = {}
    r = refresh(store, p, ["A", "B"], clock=lambda: 2.0)
    assert r.failures == {"A": "unknown", "B": "unknown"} and r.updated == {}
    assert store.count("A", "1d") == 50 and store.last_fetch("A", "1d") == 1.0
    assert store.last_fetch("B", "1d") is None


def test_a_request_refused_as_a_whole_fails_its_symbols(store):
    r = refresh(store, Recording([], refuse=True), ["A", "B"])
    assert r.failures == {"A": "history limit exceeded", "B": "history limit exceeded"}


def test_series_far_apart_get_separate_requests_near_ones_share(store):
    a, b, c = make_bars("A", 100), make_bars("B", 98), make_bars("C", 100, first_day=21_000)
    p = Recording([a, b, c])
    refresh(store, p, ["A", "B", "C"])
    assert p.calls == [(["A", "B", "C"], None)]
    p.calls.clear()
    refresh(store, p, ["A", "B", "C"])
    starts = {tuple(syms): start for syms, start in p.calls}
    assert starts == {("B", "A"): ns_to_datetime(int(b.timestamps[-TAIL_BARS])),
                      ("C",): ns_to_datetime(int(c.timestamps[-TAIL_BARS]))}


def test_start_is_clamped_to_what_the_provider_keeps(store):
    p = Recording([make_bars("A", 100)])
    refresh(store, p, ["A"])
    limit = ns_to_datetime(19_000 * DAY_NS + 99 * DAY_NS) + dt.timedelta(days=5)
    p.earliest = limit
    p.calls.clear()
    refresh(store, p, ["A"])
    assert p.calls == [(["A"], limit)]


def test_stored_series_from_another_source_is_fetched_in_full(store):
    store.upsert(make_bars("A", 10, source="bundled"))
    p = Recording([make_bars("A", 40, seed=5)])
    r = refresh(store, p, ["A"])
    assert p.calls == [(["A"], None)] and r.updated == {"A": 40}
    assert store.load("A").source == "csv" and store.count("A", "1d") == 40


@pytest.mark.parametrize("interval, age, stale", [
    ("1d", 23 * 3600, False), ("1d", 25 * 3600, True), ("1wk", 25 * 3600, True),
    ("1m", 100, False), ("1m", 130, True), ("1h", 7000, False), ("1h", 7300, True),
])
def test_staleness_policy(interval, age, stale):
    now = 1_700_000_000.0
    assert is_stale(now - age, interval, now) is stale


def test_never_fetched_is_stale_and_future_fetch_times_are_not():
    assert is_stale(None, "1d", 0.0)
    assert not is_stale(1000.0, "1m", 10.0)
    assert stale_after("5m") == 600.0


def test_closes_for_symbol_reads_the_default_store():
    with BarStore() as s:
        s.upsert(make_bars("AAPL", 30))
    closes = closes_for_symbol("aapl")
    np.testing.assert_array_equal(closes, make_bars("AAPL", 30).close)
    assert closes.dtype == np.float64 and closes.flags.c_contiguous and closes.flags.writeable
    with pytest.raises(DataError, match=r"no 1h bars for AAPL .*run `atc fetch AAPL --interval 1h` first") as err:
        closes_for_symbol("AAPL", "1h")
    assert err.value.symbol == "AAPL"
