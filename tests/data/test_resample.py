"""Resampling: weeks, months and intraday multiples built from finer bars, on the exchange's
clock, with the last bar flagged while its period is open; and which intervals each
provider gets that way.

Every expected bar comes from a plain per-bar ``datetime`` grouping written here, not from
the module under test.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from core.data import BarStore, Bars
from core.data.intervals import (
    INTERVALS, Timeframe, available_intervals, interval_seconds, resample_base,
)
from core.data.providers.bundled import BundledProvider
from core.data.providers.synthetic import SyntheticProvider
from core.data.providers.yahoo import YAHOO_INTERVALS
from core.data.resample import ResampledView, is_forming, resample
from core.errors import DataError

NS = 1_000_000_000
NY = "America/New_York"


def ns(when: dt.datetime) -> int:
    return int(round(when.timestamp())) * NS


def local_bars(times: list[dt.datetime], interval: str, tz: str, seed: int = 1) -> Bars:
    """Bars at the given local times, with random but valid OHLCV."""
    rng = np.random.default_rng(seed)
    n = len(times)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.02, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.02, n))
    volume = rng.integers(1_000, 100_000, n).astype(np.float64)
    return Bars("TEST", interval, np.array([ns(t) for t in times], dtype=np.int64),
                open_, high, low, close, volume, tz=tz, source="csv")


def trading_days(first: dt.date, last: dt.date, tz: str, holidays: set[dt.date]) -> list[dt.datetime]:
    zone = ZoneInfo(tz)
    days, d = [], first
    while d <= last:
        if d.weekday() < 5 and d not in holidays:
            days.append(dt.datetime(d.year, d.month, d.day, tzinfo=zone))
        d += dt.timedelta(days=1)
    return days


def expected(bars: Bars, key) -> list[tuple]:
    """(key, open, high, low, close, volume) per group of consecutive bars with one key;
    ``key`` maps a bar's local datetime to its group."""
    zone = ZoneInfo(bars.tz)
    groups: dict = {}
    for i, t in enumerate(bars.timestamps):
        k = key(dt.datetime.fromtimestamp(int(t) / NS, zone))
        groups.setdefault(k, []).append(i)
    out = []
    for k, idx in groups.items():
        out.append((k, bars.open[idx[0]], max(bars.high[idx]), min(bars.low[idx]),
                    bars.close[idx[-1]], sum(bars.volume[idx])))
    return out


def check_ohlcv(got: Bars, want: list[tuple]) -> None:
    assert len(got) == len(want)
    for j, (_, o, h, lo, c, v) in enumerate(want):
        assert (got.open[j], got.high[j], got.low[j], got.close[j]) == (o, h, lo, c)
        assert got.volume[j] == pytest.approx(v, rel=1e-12)


def stamps(bars: Bars) -> list[str]:
    zone = ZoneInfo(bars.tz)
    return [dt.datetime.fromtimestamp(int(t) / NS, zone).strftime("%Y-%m-%d %H:%M %a")
            for t in bars.timestamps]


# -- weeks and months from days --------------------------------------------------------------
HOLIDAYS = {dt.date(2020, 5, 25), dt.date(2020, 7, 3), dt.date(2020, 9, 7), dt.date(2020, 11, 26),
            dt.date(2020, 12, 25), dt.date(2021, 1, 1)}


def test_weeks_from_days_across_holidays_month_and_year_ends() -> None:
    days = local_bars(trading_days(dt.date(2020, 5, 1), dt.date(2021, 1, 15), NY, HOLIDAYS), "1d", NY)
    made = resample(days, "1wk", now=ns(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)) / NS)
    week = made.bars
    assert (week.interval, week.tz, made.base, made.forming) == ("1wk", NY, "1d", False)
    want = expected(days, lambda t: t.isocalendar()[:2])
    check_ohlcv(week, want)
    shown = stamps(week)
    assert all(s.endswith("00:00 Mon") for s in shown)       # local Monday midnight, DST or not
    # The Memorial Day week (Monday off) is still stamped on its Monday and opens Tuesday.
    i = shown.index("2020-05-25 00:00 Mon")
    tuesday = int(np.searchsorted(days.timestamps, ns(dt.datetime(2020, 5, 26, tzinfo=ZoneInfo(NY)))))
    assert week.open[i] == days.open[tuesday]
    # A week across a month end is one bar; the one across the new year too (Dec 28 – Jan 1).
    assert "2020-06-29 00:00 Mon" in shown and "2020-12-28 00:00 Mon" in shown
    j = shown.index("2020-12-28 00:00 Mon")
    assert week.close[j] == days.close[int(np.searchsorted(
        days.timestamps, ns(dt.datetime(2020, 12, 31, tzinfo=ZoneInfo(NY)))))]


def test_months_from_days_are_calendar_months() -> None:
    days = local_bars(trading_days(dt.date(2020, 5, 4), dt.date(2021, 1, 15), NY, HOLIDAYS), "1d", NY)
    month = resample(days, "1mo", now=4e9).bars
    check_ohlcv(month, expected(days, lambda t: (t.year, t.month)))
    assert stamps(month)[:3] == ["2020-05-01 00:00 Fri", "2020-06-01 00:00 Mon", "2020-07-01 00:00 Wed"]
    assert stamps(month)[-1] == "2021-01-01 00:00 Fri"        # a holiday, still the 1st


def test_weeks_start_on_the_exchanges_monday_not_utcs() -> None:
    # Tokyo's local midnight is 15:00 UTC the day before: a Monday bar is a Sunday in UTC.
    tokyo = "Asia/Tokyo"
    days = local_bars(trading_days(dt.date(2024, 3, 4), dt.date(2024, 3, 22), tokyo, set()), "1d", tokyo)
    week = resample(days, "1wk", now=4e9).bars
    assert stamps(week) == ["2024-03-04 00:00 Mon", "2024-03-11 00:00 Mon", "2024-03-18 00:00 Mon"]
    check_ohlcv(week, expected(days, lambda t: t.isocalendar()[:2]))
    assert int(week.timestamps[0]) == ns(dt.datetime(2024, 3, 3, 15, tzinfo=dt.timezone.utc))
    # London moves its clocks on Sunday 31 March: the next week starts at 23:00 UTC.
    london = "Europe/London"
    days = local_bars(trading_days(dt.date(2024, 3, 25), dt.date(2024, 4, 5), london, set()), "1d", london)
    week = resample(days, "1wk", now=4e9).bars
    assert [int(t) for t in week.timestamps] == [
        ns(dt.datetime(2024, 3, 25, 0, tzinfo=dt.timezone.utc)),
        ns(dt.datetime(2024, 3, 31, 23, tzinfo=dt.timezone.utc))]


# -- intraday multiples -------------------------------------------------------------------------
def session_hours(day: dt.date, tz: str, skip: tuple[int, ...] = ()) -> list[dt.datetime]:
    """The 1h bars of a 9:30–16:00 session: 9:30, 10:30, …, 15:30 (the last one half an hour)."""
    zone = ZoneInfo(tz)
    return [dt.datetime(day.year, day.month, day.day, 9, 30, tzinfo=zone) + dt.timedelta(hours=h)
            for h in range(7) if h not in skip]


def test_4h_and_2h_from_1h_follow_the_session_open() -> None:
    times = (session_hours(dt.date(2024, 3, 8), NY)            # Friday, before the DST change
             + session_hours(dt.date(2024, 3, 11), NY, skip=(1,)))   # Monday, 10:30 missing
    hours = local_bars(times, "1h", NY)
    four = resample(hours, "4h", now=4e9).bars
    assert stamps(four) == ["2024-03-08 09:30 Fri", "2024-03-08 13:30 Fri",
                            "2024-03-11 09:30 Mon", "2024-03-11 13:30 Mon"]
    check_ohlcv(four, expected(hours, lambda t: (t.date(), (t.hour * 60 + t.minute - 570) // 240)))
    assert four.volume[0] == hours.volume[:4].sum() and four.volume[1] == hours.volume[4:7].sum()
    two = resample(hours, "2h", now=4e9).bars
    assert [s[11:16] for s in stamps(two)] == ["09:30", "11:30", "13:30", "15:30"] * 2
    check_ohlcv(two, expected(hours, lambda t: (t.date(), (t.hour * 60 + t.minute - 570) // 120)))


def test_15m_from_5m_and_a_session_that_opens_off_the_hour() -> None:
    zone = ZoneInfo("Asia/Kolkata")                          # opens 9:15
    start = dt.datetime(2024, 5, 6, 9, 15, tzinfo=zone)
    times = [start + dt.timedelta(minutes=5 * k) for k in range(75)]   # 9:15 … 15:25
    five = local_bars(times, "5m", "Asia/Kolkata")
    quarter = resample(five, "15m", now=4e9).bars
    assert len(quarter) == 25 and stamps(quarter)[:2] == ["2024-05-06 09:15 Mon", "2024-05-06 09:30 Mon"]
    check_ohlcv(quarter, expected(five, lambda t: (t.hour * 60 + t.minute - 555) // 15))


# -- the forming bar ------------------------------------------------------------------------------
def test_the_last_bar_is_flagged_while_its_period_is_open() -> None:
    zone = ZoneInfo(NY)
    days = local_bars(trading_days(dt.date(2024, 6, 3), dt.date(2024, 6, 12), NY, set()), "1d", NY)
    wednesday = ns(dt.datetime(2024, 6, 12, 15, tzinfo=zone)) / NS
    next_monday = ns(dt.datetime(2024, 6, 17, tzinfo=zone)) / NS
    assert resample(days, "1wk", now=wednesday).forming
    assert resample(days, "1wk", now=next_monday - 1).forming
    assert not resample(days, "1wk", now=next_monday).forming
    assert resample(days, "1mo", now=next_monday).forming            # June is not over
    assert not resample(days, "1mo", now=ns(dt.datetime(2024, 7, 1, tzinfo=zone)) / NS).forming
    hours = local_bars(session_hours(dt.date(2024, 6, 12), NY)[:6], "1h", NY)   # up to 14:30
    four = resample(hours, "4h", now=ns(dt.datetime(2024, 6, 12, 15, tzinfo=zone)) / NS)
    assert four.forming and is_forming(four.bars, ns(dt.datetime(2024, 6, 12, 17, 29, tzinfo=zone)) / NS)
    assert not is_forming(four.bars, ns(dt.datetime(2024, 6, 12, 17, 30, tzinfo=zone)) / NS)


def test_only_a_listed_base_is_resampled() -> None:
    hours = local_bars(session_hours(dt.date(2024, 6, 12), NY), "1h", NY)
    with pytest.raises(DataError, match=r"cannot build 1wk bars from 1h bars \(bases of 1wk: 1d\)"):
        resample(hours, "1wk")
    with pytest.raises(DataError, match="1d: none"):
        resample(hours, "1d")
    empty = resample(hours.slice(0, 0), "4h")
    assert len(empty.bars) == 0 and empty.bars.interval == "4h" and not empty.forming


# -- which intervals a provider gets ----------------------------------------------------------------
def test_every_source_offers_the_timeframes_traders_use() -> None:
    assert available_intervals(BundledProvider.intervals) == [
        Timeframe("1d"), Timeframe("1wk", "1d"), Timeframe("1mo", "1d")]
    synthetic = available_intervals(SyntheticProvider.intervals)
    assert [t.interval for t in synthetic] == ["1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1wk", "1mo"]
    assert {t.interval: t.base for t in synthetic if t.resampled} == {
        "2h": "1h", "4h": "1h", "1wk": "1d", "1mo": "1d"}
    yahoo = {t.interval: t.base for t in available_intervals(YAHOO_INTERVALS)}
    assert yahoo["1wk"] is None and yahoo["1mo"] is None          # Yahoo's own bars win
    assert yahoo["2h"] == "1h" and yahoo["4h"] == "1h"
    assert available_intervals(["5m", "1d"])[1:3] == [Timeframe("15m", "5m"), Timeframe("30m", "5m")]
    assert resample_base("4h", ["30m", "1h"]) == "1h" and resample_base("1d", ["1h"]) is None
    # 2h and 4h are never asked of a provider, but their length is known.
    assert "4h" not in INTERVALS and interval_seconds("4h") == 4 * 3600


# -- the store-like view ------------------------------------------------------------------------------
def test_the_view_serves_resampled_bars_from_the_store(tmp_path) -> None:
    days = local_bars(trading_days(dt.date(2024, 1, 2), dt.date(2024, 6, 28), NY, set()), "1d", NY)
    other = Bars("OTHER", "1d", days.timestamps[:30], days.open[:30], days.high[:30], days.low[:30],
                 days.close[:30], days.volume[:30], tz=NY, source="csv")
    with BarStore(tmp_path / "bars.sqlite") as store:
        store.upsert_many([days, other])
        view = ResampledView(store, "1wk", "1d")
        want = resample(days, "1wk").bars
        info = view.info("TEST", "1wk")
        assert (info.interval, info.n_bars, info.first_ts, info.last_ts, info.tz) == (
            "1wk", len(want), int(want.timestamps[0]), int(want.timestamps[-1]), NY)
        tail = view.load("TEST", "1wk", last=3)
        assert np.array_equal(tail.close, want.close[-3:]) and tail.interval == "1wk"
        many = view.load_many(["TEST", "OTHER", "NONE"], "1wk")
        assert set(many) == {"TEST", "OTHER"} and len(many["OTHER"]) == 7
        assert view.info("NONE", "1wk") is None and view.load("NONE", "1wk") is None
        with pytest.raises(DataError, match="serves 1wk bars, not 1mo"):
            view.load("TEST", "1mo")
        assert store.info("TEST", "1wk") is None           # nothing resampled was stored
