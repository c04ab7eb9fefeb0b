"""Forming bars from streamed quotes, and the repaint throttle."""
from __future__ import annotations

import datetime as dt

import pytest

from core.data.live import FormingBars, Quote, Throttle
from core.errors import ATCInputError, DataError
from tests.data.fakes import daily_frame

NS = 1_000_000_000


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()


T0 = utc(2024, 3, 1, 15, 0)                 # a minute boundary


def q(offset_s: float, price: float, symbol: str = "AAPL",
      day_volume: float | None = None, base: float = T0) -> Quote:
    return Quote(symbol, price, base + offset_s, day_volume)


def ohlc(bar) -> tuple:
    return bar.open, bar.high, bar.low, bar.close


def test_quotes_aggregate_into_ohlc_and_roll_at_the_boundary() -> None:
    bars = FormingBars("1m")
    for offset, price in [(5, 100.0), (20, 102.0), (50, 99.0), (59.999, 101.0)]:
        symbol, bar = bars.add(q(offset, price))
    assert symbol == "AAPL"
    assert bar.start == int(T0) * NS
    assert ohlc(bar) == (100.0, 102.0, 99.0, 101.0) and bar.ticks == 4
    _, nxt = bars.add(q(60, 103.0))          # exactly on the boundary: the next bar
    assert nxt.start == int(T0 + 60) * NS
    assert ohlc(nxt) == (103.0, 103.0, 103.0, 103.0)
    assert bars.forming("AAPL") == nxt
    assert [b.start for b in bars.unclosed("AAPL")] == [int(T0) * NS, int(T0 + 60) * NS]
    assert bars.forming("MSFT") is None


def test_symbols_are_kept_apart() -> None:
    bars = FormingBars("5m")
    bars.add(q(1, 10.0, "AAPL"))
    bars.add(q(2, 500.0, "MSFT"))
    bars.add(q(3, 11.0, "AAPL"))
    assert ohlc(bars.forming("AAPL")) == (10.0, 11.0, 10.0, 11.0)
    assert ohlc(bars.forming("MSFT")) == (500.0,) * 4


def test_late_ticks_never_touch_a_closed_or_a_left_bar() -> None:
    bars = FormingBars("1m")
    bars.add(q(10, 100.0))
    bars.close_through("AAPL", int(T0) * NS)  # history closed the bar at T0
    assert bars.forming("AAPL") is None
    assert bars.add(q(30, 1.0)) is None       # a late tick inside the closed bar
    assert bars.add(q(-30, 1.0)) is None      # and one before it
    _, bar = bars.add(q(65, 50.0))
    assert bars.add(q(59, 1.0)) is None       # arrives after the next bar began
    assert bars.forming("AAPL") == bar and bars.late == 3


def test_an_out_of_order_tick_widens_the_range_but_keeps_the_close() -> None:
    bars = FormingBars("1m")
    bars.add(q(10, 100.0))
    bars.add(q(40, 101.0))
    _, bar = bars.add(q(20, 95.0))            # same bar, older than the last tick
    assert ohlc(bar) == (100.0, 101.0, 95.0, 101.0)
    assert bar.last_time == T0 + 40


def test_close_through_drops_the_bars_history_delivered() -> None:
    bars = FormingBars("1m")
    for minute in range(4):
        bars.add(q(60 * minute + 1, 100.0 + minute))
    bars.close_through("AAPL", int(T0 + 60) * NS)
    assert [b.start for b in bars.unclosed("AAPL")] == [int(T0 + 120) * NS, int(T0 + 180) * NS]
    bars.close_through("AAPL", int(T0) * NS)  # an older close reopens nothing
    assert bars.add(q(70, 1.0)) is None
    assert len(bars.unclosed("AAPL")) == 2
    bars.close_through("AAPL", int(T0 + 180) * NS)
    assert bars.forming("AAPL") is None and bars.unclosed("AAPL") == ()
    bars.discard("AAPL")
    assert bars.add(q(70, 1.0)) is not None   # forgotten: a fresh symbol


def test_hourly_grid_runs_through_the_last_closed_bar() -> None:
    # Yahoo's 1h bars of a NYSE stock start at :30 (the market opens 9:30 New York).
    bars = FormingBars("1h")
    assert bars.bar_start(utc(2024, 3, 1, 15, 45)) == int(utc(2024, 3, 1, 15, 0)) * NS
    bars.close_through("AAPL", int(utc(2024, 3, 1, 14, 30)) * NS)
    _, bar = bars.add(Quote("AAPL", 10.0, utc(2024, 3, 1, 15, 45)))
    assert bar.start == int(utc(2024, 3, 1, 15, 30)) * NS
    # The next session (Monday 9:30 New York = 14:30 UTC) lies on the same grid.
    _, monday = bars.add(Quote("AAPL", 11.0, utc(2024, 3, 4, 14, 31)))
    assert monday.start == int(utc(2024, 3, 4, 14, 30)) * NS


def test_daily_bar_starts_where_the_stored_daily_bar_starts() -> None:
    from core.data.providers.yahoo_frames import frame_arrays

    # How the history fetch stores 2024-03-01 for a New York stock.
    columns, tz = frame_arrays(daily_frame(5, start="2024-02-26"))
    stored_mar1 = int(columns["timestamps"][4])
    assert tz == "America/New_York"
    bars = FormingBars("1d")
    bars.close_through("AAPL", int(columns["timestamps"][3]), tz=tz)
    _, bar = bars.add(Quote("AAPL", 10.0, utc(2024, 3, 1, 14, 31)))
    assert bar.start == stored_mar1
    # 21:30 New York is already March 2 in UTC but still the same exchange day.
    _, evening = bars.add(Quote("AAPL", 10.5, utc(2024, 3, 2, 2, 30)))
    assert evening.start == stored_mar1 and evening.ticks == 2
    bars.close_through("AAPL", stored_mar1, tz=tz)   # history delivers the closed day
    assert bars.forming("AAPL") is None
    assert bars.add(Quote("AAPL", 9.0, utc(2024, 3, 1, 20, 59))) is None


def test_daily_bar_without_a_timezone_is_the_utc_date() -> None:
    bars = FormingBars("1d")
    assert bars.bar_start(utc(2024, 3, 2, 2, 30)) == int(utc(2024, 3, 2)) * NS


@pytest.mark.parametrize("interval, when, start", [
    ("1wk", (2024, 3, 1, 18), (2024, 2, 26, 5)),     # Friday -> Monday, New York midnight
    ("1mo", (2024, 3, 29, 18), (2024, 3, 1, 5)),
    ("1mo", (2024, 4, 2, 18), (2024, 4, 1, 4)),      # daylight saving time: UTC-4
])
def test_weekly_and_monthly_bars_start_at_local_midnight(interval: str, when: tuple,
                                                         start: tuple) -> None:
    bars = FormingBars(interval, tz="America/New_York")
    _, bar = bars.add(Quote("AAPL", 10.0, utc(*when)))
    assert bar.start == int(utc(*start)) * NS


def test_volume_from_day_volume() -> None:
    minute = FormingBars("1m")
    day = FormingBars("1d")
    ticks = [q(1, 10.0, day_volume=1000), q(30, 10.0, day_volume=1300),
             q(61, 10.0, day_volume=1450), q(62, 10.0)]          # the last without volume
    for tick in ticks:
        minute.add(tick)
        day.add(tick)
    first, second = minute.unclosed("AAPL")
    assert (first.volume, second.volume) == (300.0, 150.0)     # growth between quotes
    assert day.forming("AAPL").volume == 1450.0                  # the day's total so far
    minute.add(q(24 * 3600, 10.0, day_volume=40))                # next day: total restarts
    assert minute.forming("AAPL").volume == 40.0


def test_intervals_that_cannot_stream_are_refused() -> None:
    with pytest.raises(DataError, match="5d"):
        FormingBars("5d")
    with pytest.raises(DataError, match="unknown interval"):
        FormingBars("7m")


# ------------------------------------------------------------------- throttle

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_coalesces_to_at_most_n_per_second() -> None:
    clock = Clock()
    throttle: Throttle[str, int] = Throttle(4, clock=clock)      # every 0.25 s
    assert throttle.due_in() is None and throttle.take() == {}
    throttle.push("AAPL", 1)
    assert throttle.due_in() == 0.0
    assert throttle.take() == {"AAPL": 1}                        # first one at once
    for value in range(2, 50):
        throttle.push("AAPL", value)
    throttle.push("MSFT", 7)
    clock.now += 0.1
    assert throttle.take() == {}
    assert throttle.due_in() == pytest.approx(0.15)
    clock.now += 0.15
    assert throttle.take() == {"AAPL": 49, "MSFT": 7}            # only the latest per key
    assert throttle.due_in() is None
    # Over 10 simulated seconds of continuous updates: at most 4 releases per second.
    releases = 0
    for step in range(1000):
        clock.now += 0.01
        throttle.push("AAPL", step)
        releases += bool(throttle.take())
    assert releases == 40


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan"), "4"])
def test_throttle_rejects_a_bad_rate_by_name(rate: object) -> None:
    with pytest.raises(ATCInputError) as err:
        Throttle(rate)                                           # type: ignore[arg-type]
    assert err.value.field == "max_per_second"
