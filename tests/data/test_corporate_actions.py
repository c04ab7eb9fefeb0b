"""History that survives corporate actions: a split or dividend rewrites the provider's
adjusted history, and the refresh replaces the stored one instead of appending a fake jump.

Yahoo is faked below ``yf.download`` (the ``fake_yahoo`` fixture): the frames the provider
parses come from yfinance's own ``download``, with the ``Dividends`` and ``Stock Splits``
columns of ``actions=True``.
"""
from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from core.data import BarStore, chunks, refresh
from core.data.actions import DIVIDEND, SPLIT, CorporateAction
from core.data.providers import yahoo_frames
from core.data.providers.csv_folder import CsvFolderProvider
from core.data.providers.yahoo import YahooProvider, _default_download
from core.data.refresh import ns_to_datetime
from core.data.rewrites import OVERLAP_BARS, RTOL, TAIL_BARS, rewrite_cause
from core.errors import DataError
from tests.data.fakes import (
    adjusted, daily_frame, download_frame, make_bars, price_frame, with_actions,
)

NOW = dt.datetime(2024, 9, 2, 21, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(tmp_path):
    with BarStore(tmp_path / "bars.sqlite3") as s:
        yield s


def yahoo(**kw) -> YahooProvider:
    return YahooProvider(now=lambda: NOW, rng=random.Random(1), **kw)


def utc_ns(frame: pd.DataFrame) -> np.ndarray:
    return frame.index.tz_convert("UTC").as_unit("ns").asi8


def the_split():
    """Nine bars at 100 stored before a 4:1 split on 2024-06-10; afterwards Yahoo serves
    those nine at 25 and three new bars at 25, the split on the first of them."""
    before = price_frame([100.0] * 9)
    after = adjusted(price_frame([100.0] * 9 + [25.0] * 3), "2024-06-10", split=4.0)
    return before, after


def test_a_split_replaces_the_whole_history_and_says_why(store, fake_yahoo):
    before, after = the_split()
    fake_yahoo.add("AAPL", before)
    p = yahoo()
    assert refresh(store, p, ["AAPL"]).updated == {"AAPL": 9}
    overlap = ns_to_datetime(int(store.load("AAPL", last=TAIL_BARS).timestamps[0]))

    fake_yahoo.add("AAPL", after)
    fake_yahoo.calls.clear()
    report = refresh(store, p, ["AAPL"], clock=lambda: 5.0)
    assert report.rewritten == {"AAPL": "history rewritten: 4:1 split on 2024-06-10"}
    assert report.updated == {"AAPL": 12} and report.failures == {}
    stored = store.load("AAPL")
    # Without the rewrite the store held [100 x 9, 25, 25, 25]: a 75% crash that never was.
    np.testing.assert_array_equal(stored.close, [25.0] * 12)
    np.testing.assert_array_equal(stored.timestamps, utc_ns(after))
    np.testing.assert_array_equal(stored.volume, after["Volume"].to_numpy())
    assert store.last_fetch("AAPL", "1d") == 5.0
    # The incremental call asked for the overlap with actions, then the whole history.
    calls = [kw for _, kw in fake_yahoo.calls]
    assert [kw.get("start") for kw in calls] == [overlap, None]
    assert calls[0]["actions"] is True and calls[1]["period"] == "max"

    # The next refresh still sees the split in its overlap, but the compared bars before
    # it match: the split is already in the stored history, so only the new bar is added.
    fake_yahoo.add("AAPL", adjusted(price_frame([100.0] * 9 + [25.0] * 4), "2024-06-10", split=4.0))
    fake_yahoo.calls.clear()
    again = refresh(store, p, ["AAPL"])
    assert again.rewritten == {} and again.updated == {"AAPL": 1}
    assert len(fake_yahoo.calls) == 1 and store.count("AAPL", "1d") == 13


def test_a_rewrite_yahoo_reports_no_action_for_names_the_changed_bar(store, fake_yahoo):
    before, after = the_split()
    fake_yahoo.add("AAPL", before)
    p = yahoo()
    refresh(store, p, ["AAPL"])
    fake_yahoo.add("AAPL", after.drop(columns=["Stock Splits"]))  # history() adds zeros
    report = refresh(store, p, ["AAPL"])
    # Stored May 28 .. June 7; the overlap compares May 31 .. June 6 (June 7 may have been forming).
    assert report.rewritten == {
        "AAPL": "history rewritten: stored bar 2024-05-31 changed (close 100 → 25)"}
    np.testing.assert_array_equal(store.load("AAPL").close, [25.0] * 12)


def test_a_dividend_rewrite_in_a_batch_leaves_the_other_ticker_incremental(store, fake_yahoo):
    ex_date = "2024-08-09"
    first = pd.bdate_range(end=ex_date, periods=21)[0].strftime("%Y-%m-%d")
    ko = daily_frame(23, start=first, price=62.0, seed=3)
    msft = daily_frame(23, start=first, price=400.0, seed=4)
    fake_yahoo.add("KO", ko.iloc[:20])
    fake_yahoo.add("MSFT", msft.iloc[:20])
    p = yahoo()
    assert refresh(store, p, ["KO", "MSFT"]).updated == {"KO": 20, "MSFT": 20}

    paid = adjusted(ko, ex_date, dividend=0.24)  # bars before Aug 9 scaled by ~0.996
    fake_yahoo.add("KO", paid)
    fake_yahoo.add("MSFT", msft)
    fake_yahoo.calls.clear()
    report = refresh(store, p, ["KO", "MSFT"])
    assert report.rewritten == {"KO": "history rewritten: dividend 0.24 on 2024-08-09"}
    assert report.updated == {"KO": 23, "MSFT": 3} and report.failures == {}
    np.testing.assert_allclose(store.load("KO").close, paid["Close"].to_numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(store.load("MSFT").close, msft["Close"].to_numpy())
    # One batch for both, then the whole history of KO alone.
    assert sorted(t for t, kw in fake_yahoo.calls if kw.get("start") is not None) == ["KO", "MSFT"]
    assert [t for t, kw in fake_yahoo.calls if kw.get("period") == "max"] == ["KO"]


def test_plain_appends_stay_one_incremental_call(store, fake_yahoo):
    frame = daily_frame(40, seed=7)
    fake_yahoo.add("IBM", frame.iloc[:30])
    p = yahoo()
    refresh(store, p, ["IBM"])
    for n in (31, 33, 33):  # one new bar, two new bars, nothing new
        tail_start = int(store.load("IBM", last=TAIL_BARS).timestamps[0])
        fake_yahoo.add("IBM", frame.iloc[:n])
        fake_yahoo.calls.clear()
        previous = store.count("IBM", "1d")
        report = refresh(store, p, ["IBM"])
        assert report.rewritten == {} and report.updated == {"IBM": n - previous}
        assert [kw.get("start") for _, kw in fake_yahoo.calls] == [ns_to_datetime(tail_start)]
    np.testing.assert_array_equal(store.load("IBM").close, frame["Close"].to_numpy()[:33])


def test_rounding_noise_is_not_a_rewrite_but_a_real_change_is(store, fake_yahoo):
    frame = daily_frame(20, seed=8)
    fake_yahoo.add("IBM", frame)
    p = yahoo()
    refresh(store, p, ["IBM"])
    compared = -TAIL_BARS  # the oldest compared bar
    for rel, rewritten in ((1e-12, False), (RTOL * 100, True)):
        noisy = frame.copy()
        noisy.iloc[compared, noisy.columns.get_loc("High")] *= 1 + rel
        fake_yahoo.add("IBM", noisy)
        report = refresh(store, p, ["IBM"])
        assert bool(report.rewritten) is rewritten, rel
    assert "changed (high " in report.rewritten["IBM"]


def test_a_failed_whole_refetch_keeps_the_stored_history_and_says_so(store, fake_yahoo):
    before, after = the_split()
    fake_yahoo.add("AAPL", before)

    def download(**kwargs):
        if kwargs.get("period") == "max" and refused:
            raise ConnectionError("no route to host")
        return _default_download(**kwargs)

    refused = False
    p = yahoo(download=download)
    refresh(store, p, ["AAPL"], clock=lambda: 1.0)
    fake_yahoo.add("AAPL", after)
    refused = True
    report = refresh(store, p, ["AAPL"], clock=lambda: 2.0)
    assert report.updated == {} and report.rewritten == {}
    reason = report.failures["AAPL"]
    assert reason.startswith("the source rewrote its history (4:1 split on 2024-06-10) but "
                             "fetching all of it again failed")
    assert "ConnectionError: no route to host" in reason and "stored bars are unchanged" in reason
    # Neither the fake crash nor a fetch time: the next refresh tries again.
    np.testing.assert_array_equal(store.load("AAPL").close, [100.0] * 9)
    assert store.last_fetch("AAPL", "1d") == 1.0


# -- CSV folders --------------------------------------------------------------------------

class CountingCsv(CsvFolderProvider):
    def __init__(self, folder):
        super().__init__(folder)
        self.starts: list = []

    def fetch(self, symbols, interval="1d", start=None):
        self.starts.append(start)
        return super().fetch(symbols, interval, start)


def write_csv(path, frame: pd.DataFrame) -> None:
    out = frame[["Open", "High", "Low", "Close", "Volume"]].copy()
    out.index = out.index.strftime("%Y-%m-%d")
    out.to_csv(path, index_label="Date")


def test_a_rewritten_csv_file_replaces_the_history_and_an_appended_one_does_not(store, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    frame = price_frame(np.linspace(50.0, 60.0, 40), start="2024-01-02", tz="UTC")
    write_csv(folder / "abc.csv", frame.iloc[:30])
    p = CountingCsv(folder)
    assert refresh(store, p, ["ABC"]).updated == {"ABC": 30}

    write_csv(folder / "abc.csv", frame.iloc[:32])  # appended rows: the cheap path
    p.starts.clear()
    report = refresh(store, p, ["ABC"])
    assert report.rewritten == {} and report.updated == {"ABC": 2}
    assert len(p.starts) == 1 and p.starts[0] is not None

    # Re-exported after a 2:1 split, with the first ten rows left out: every past row halved.
    rewritten = adjusted(frame, "2024-02-19", split=2.0).iloc[10:]
    write_csv(folder / "abc.csv", rewritten)
    p.starts.clear()
    report = refresh(store, p, ["ABC"])
    assert report.rewritten["ABC"].startswith("history rewritten: stored bar 2024-02-07 changed (close ")
    assert report.rewritten["ABC"].endswith(
        "; stored bars before 2024-01-16, which the source no longer serves, were dropped")
    assert p.starts[1] is None and len(p.starts) == 2
    stored = store.load("ABC")
    np.testing.assert_allclose(stored.close, rewritten["Close"].to_numpy(), rtol=1e-15)
    np.testing.assert_array_equal(stored.timestamps, utc_ns(rewritten))


# -- the store's replacement is one transaction ------------------------------------------

def test_replace_series_is_all_or_nothing(store, monkeypatch):
    old = make_bars("A", 3000, source="yahoo")  # about six chunks
    store.upsert(old)
    store.mark_fetched("A", "1d", 3.0)
    new = make_bars("A", 2500, first_day=19_200, seed=9, source="yahoo")
    real_encode, encoded = chunks.encode, []

    def failing_encode(block):
        encoded.append(block.shape[1])
        if len(encoded) == 3:
            raise OSError("disk full")
        return real_encode(block)

    monkeypatch.setattr(chunks, "encode", failing_encode)
    with pytest.raises(OSError, match="disk full"):
        store.replace_series(new)
    got = store.load("A")
    np.testing.assert_array_equal(got.close, old.close)
    np.testing.assert_array_equal(got.timestamps, old.timestamps)

    monkeypatch.setattr(chunks, "encode", real_encode)
    with pytest.raises(DataError, match="refusing to replace the stored 1d bars of A with no bars"):
        store.replace_series(new.slice(0, 0))
    assert store.count("A", "1d") == 3000
    assert store.replace_series(new) == 2500
    got = store.load("A")
    np.testing.assert_array_equal(got.timestamps, new.timestamps)
    np.testing.assert_array_equal(got.close, new.close)
    info = store.info("A", "1d")
    assert (info.n_bars, info.first_ts, info.last_ts) == (2500, int(new.timestamps[0]),
                                                         int(new.timestamps[-1]))
    assert store.last_fetch("A", "1d") == 3.0


def test_a_failure_while_a_refresh_replaces_leaves_the_old_history(store, fake_yahoo, monkeypatch):
    before, after = the_split()
    fake_yahoo.add("AAPL", before)
    fake_yahoo.add("MSFT", price_frame([300.0] * 9))
    p = yahoo()
    refresh(store, p, ["AAPL", "MSFT"])
    fake_yahoo.add("AAPL", after)
    fake_yahoo.add("MSFT", price_frame([300.0] * 12))

    def broken(block):
        raise OSError("disk full")

    monkeypatch.setattr(chunks, "encode", broken)
    with pytest.raises(OSError):
        refresh(store, p, ["AAPL", "MSFT"])
    # Neither the replacement nor the other symbol's append was half written.
    np.testing.assert_array_equal(store.load("AAPL").close, [100.0] * 9)
    assert store.count("MSFT", "1d") == 9


# -- reading actions from yfinance's frames ----------------------------------------------

def histories():
    aaa = adjusted(price_frame([100.0] * 5 + [25.0] * 2), "2024-06-04", split=4.0)
    bbb = adjusted(price_frame([50.0] * 6, start="2024-05-29", tz="Europe/London"),
                   "2024-06-03", dividend=0.5)
    return {"AAA": aaa, "BBB": bbb}


def test_the_fake_download_frame_is_what_yfinance_builds(fake_yahoo):
    frames = histories()
    for sym, frame in frames.items():
        fake_yahoo.add(sym, frame)
    real = _default_download(tickers=["AAA", "BBB"], period="max", interval="1d",
                             group_by="column", auto_adjust=True, actions=True, ignore_tz=False,
                             progress=False, multi_level_index=True)
    pd.testing.assert_frame_equal(download_frame(frames), real, check_freq=False)


@pytest.mark.parametrize("tickers", [["AAA"], ["AAA", "BBB"]])
def test_actions_are_read_from_single_and_batch_frames(tickers):
    frames = {t: histories()[t] for t in tickers}
    got = yahoo(download=lambda **kw: download_frame(frames)).fetch(
        tickers, "1d", start=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc))
    assert got.failures == {}
    split = CorporateAction(int(utc_ns(frames["AAA"])[5]), SPLIT, 4.0)
    assert got.actions["AAA"] == [split]
    assert len(got.bars["AAA"]) == 7  # BBB's London rows are padding for AAA, dropped
    if "BBB" in frames:
        ex = int(utc_ns(frames["BBB"])[3])
        assert got.actions["BBB"] == [CorporateAction(ex, DIVIDEND, 0.5)]
        assert got.actions["BBB"][0].describe("Europe/London") == "dividend 0.5 on 2024-06-03"


def test_frame_actions_ignores_padding_and_keeps_events_on_days_without_prices():
    frame = with_actions(price_frame([10.0] * 4))
    frame.iloc[1, frame.columns.get_loc("Close")] = np.nan
    frame.iloc[1, frame.columns.get_loc("Dividends")] = 0.1
    frame.loc[frame.index[1], ["Open", "High", "Low"]] = np.nan  # an event-only row
    frame.iloc[2, frame.columns.get_loc("Stock Splits")] = np.nan  # padding
    [action] = yahoo_frames.frame_actions(frame)
    assert action == CorporateAction(int(utc_ns(frame)[1]), DIVIDEND, 0.1)
    cols, _ = yahoo_frames.frame_arrays(frame)
    assert cols["timestamps"].size == 3
    assert yahoo_frames.frame_actions(price_frame([10.0] * 4)) == []


@pytest.mark.parametrize("ratio, text", [(4.0, "4:1 split"), (1.5, "3:2 split"),
                                         (0.1, "1:10 reverse split")])
def test_split_ratios_read_as_people_write_them(ratio, text):
    ts = int(pd.Timestamp("2024-06-10", tz="America/New_York").value)
    assert CorporateAction(ts, SPLIT, ratio).describe("America/New_York") == f"{text} on 2024-06-10"


def test_an_action_with_nothing_to_compare_is_a_rewrite():
    stored = make_bars("A", 1, source="yahoo")
    fetched = make_bars("A", 3, source="yahoo")
    split = CorporateAction(int(fetched.timestamps[1]), SPLIT, 2.0)
    since = int(stored.timestamps[0])
    assert rewrite_cause(stored, fetched, [split], since=since) == "2:1 split on 2022-01-09"
    assert rewrite_cause(stored, fetched, [], since=since) is None
    # A refetch that lost the stored bars it should have repeated is a rewrite too.
    tail = make_bars("A", TAIL_BARS, source="yahoo")
    start = int(tail.timestamps[0])
    assert rewrite_cause(tail, tail.slice(0, 0), [], since=start) == \
        "stored bar 2022-01-08 is missing from the refetched bars"
    assert rewrite_cause(tail, tail.slice(1, TAIL_BARS), [], since=start) == \
        "stored bar 2022-01-08 is missing from the refetched bars"
    assert rewrite_cause(tail, tail.slice(0, TAIL_BARS - 1), [], since=start) is None  # the newest may go
    assert OVERLAP_BARS >= 1 and TAIL_BARS == OVERLAP_BARS + 1
