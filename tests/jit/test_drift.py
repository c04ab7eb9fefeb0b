"""100k bars: the detail MAs (spec §4.8: math.sum with its re-baseline, WMA/LINREG re-summed
every bar) stay within 1e-9 of exactly rounded window sums on a long drifting series."""
import math

import numpy as np
import pytest

from core.config import ATCConfig
from core.jit.backend import NumbaBackend
from core.types import MA_NAMES
from tests.conftest import random_walk


@pytest.mark.slow
@pytest.mark.jit_only           # 100k bars take minutes as plain Python
def test_window_mas_on_100k_bars_match_direct_sums():
    n = 100_000
    # A drifting, large-valued walk makes naive running sums lose precision quickly.
    close = random_walk(n, seed=9, vol=0.01, start=5_000.0)
    config = ATCConfig(hull_len=200, wma_len=50, lsma_len=64, kama_len=40)
    result = NumbaBackend().compute(close, config, detail=True)
    bars = np.r_[np.arange(n - 3000, n), np.linspace(1000, n - 1, 400).astype(int)]

    def check(name, length, direct):
        got = result.mas[MA_NAMES.index(name)]
        for t in bars:
            want = direct(close[t - length + 1:t + 1])
            assert abs(got[t] - want) <= 1e-9 * abs(want), (name, t, got[t], want)

    w = lambda k: np.arange(1, k + 1, dtype=np.float64)
    check("HMA", 200, lambda win: math.fsum(win) / win.size)
    check("WMA", 50, lambda win: math.fsum(w(win.size) * win) / (win.size * (win.size + 1) / 2))
    check("LSMA", 64, lambda win: np.polyval(np.polyfit(np.arange(win.size), win, 1), win.size - 1))
    kama = result.mas[MA_NAMES.index("KAMA")]
    steps = np.abs(np.diff(close))
    for t in bars[-50:]:
        noise = math.fsum(steps[t - 40:t])
        ratio = abs(close[t] - close[t - 40]) / noise
        sc = ratio * (0.666 - 0.064) + 0.064
        assert abs(kama[t] - (kama[t - 1] + sc * sc * (close[t] - kama[t - 1]))) <= 1e-9 * close[t]
