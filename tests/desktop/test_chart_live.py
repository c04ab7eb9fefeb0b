"""The chart's live full ATC: incremental refreshes equal a fresh computation bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from atc_desktop.analysis import AnalysisRequest, ChartLive
from core.backends.registry import Registry
from core.config import ATCConfig
from tests.conftest import random_walk
from tests.desktop.test_screen_states import bars_of

REGISTRY = Registry()


@pytest.fixture(autouse=True)
def rust_only():
    if not REGISTRY.probe("rust").available:
        pytest.skip("the chart's live state needs the Rust backend")


def columns_equal(a, b):
    for (name, x), (_, y) in zip(a.columns(True), b.columns(True)):
        np.testing.assert_array_equal(x, y, err_msg=name)


def request(config=ATCConfig(), history=10_000):
    return AnalysisRequest(1, "AAA", "1d", config, history)


def test_refreshes_step_only_new_bars_and_equal_a_full_compute():
    close = random_walk(700, seed=8)
    live = ChartLive()
    rng = np.random.default_rng(2)
    n = 400
    live.compute(request(), bars_of("AAA", close[:n]), REGISTRY)
    assert live.last_path == "full"
    while n < 700:
        n = min(700, n + int(rng.integers(0, 4)))
        got = live.compute(request(), bars_of("AAA", close[:n]), REGISTRY)
        assert live.last_path in ("incremental", "unchanged")
        if n % 50 < 4 or n == 700:
            columns_equal(got, REGISTRY.get("rust").compute(close[:n], ATCConfig(), detail=True))


def test_forming_bar_is_the_full_computations_last_bar_and_changes_nothing():
    close = random_walk(300, seed=9)
    live = ChartLive()
    window = bars_of("AAA", close[:299])
    live.compute(request(), window, REGISTRY)
    assert live.forming(close[299], int(window.timestamps[-2])) is None   # not after the last bar
    for tick in (close[299] * 1.02, close[299]):
        bar = live.forming(tick, int(window.timestamps[-1]))
        want = REGISTRY.get("rust").compute(np.append(close[:299], tick), ATCConfig(), detail=True)
        for (name, x), (_, y) in zip(bar.columns(True), want.columns(True)):
            np.testing.assert_array_equal(x, y[-1:], err_msg=name)
    got = live.compute(request(), bars_of("AAA", close), REGISTRY)
    assert live.last_path == "incremental"
    columns_equal(got, REGISTRY.get("rust").compute(close, ATCConfig(), detail=True))


def test_rewrites_parameters_and_a_moved_start_recompute():
    close = random_walk(600, seed=10)
    live = ChartLive()
    live.compute(request(), bars_of("AAA", close[:500]), REGISTRY)
    live.compute(request(), bars_of("AAA", close[:500] / 4), REGISTRY)        # a 4:1 split
    assert live.last_path == "full"
    live.compute(request(ATCConfig(ema_len=20)), bars_of("AAA", close[:500] / 4), REGISTRY)
    assert live.last_path == "full"
    window = bars_of("AAA", close[100:500], first_day=100)                      # start moved on
    got = live.compute(request(ATCConfig(ema_len=20)), window, REGISTRY)
    assert live.last_path == "full"
    columns_equal(got, REGISTRY.get("rust").compute(close[100:500], ATCConfig(ema_len=20), detail=True))
