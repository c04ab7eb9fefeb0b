"""The backtest's fast path: one compiled pass per symbol over a right-aligned batch.

Same rules as :func:`core.backtest.backtest_reference` (tested against it and against
hand-computed cases); the sweep runs this one, in-process and on every worker alike, so a
result never depends on where it was computed.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.backtest import METRICS, BacktestOptions
from core.jit.kernel_types import Bools, Floats


@njit(cache=True, nogil=True, error_model="numpy")
def _rows(opens: Floats, closes: Floats, long: Bools, short: Bools, next_open: bool,
          long_only: bool, keep: float, ppy: float, out: Floats, returns: Floats) -> None:
    symbols, width = closes.shape
    for i in range(symbols):
        s = 0
        while s < width and not math.isfinite(closes[i, s]):
            s += 1
        n = width - s
        for k in range(out.shape[1]):
            out[i, k] = math.nan
        out[i, 4] = 0.0
        if n < 2:
            continue
        target = 0.0                 # after the close of bar u−1 (T)
        before = 0.0                 # after the close of bar u−2 (P)
        equity = 1.0
        peak = 1.0
        drawdown = 0.0
        exposed = 0
        trades = 0
        wins = 0
        trade = 1.0
        for u in range(1, n):
            t = s + u
            before = target
            if long[i, t - 1]:
                target = 1.0
            elif short[i, t - 1]:
                target = 0.0 if long_only else -1.0
            change = abs(target - before)
            cost = 1.0 if change == 0.0 else (keep if change == 1.0 else keep * keep)
            if next_open:
                gap = 1.0 + before * (opens[i, t] / closes[i, t - 1] - 1.0)
                body = 1.0 + target * (closes[i, t] / opens[i, t] - 1.0)
            else:
                gap = 1.0
                body = 1.0 + target * (closes[i, t] / closes[i, t - 1] - 1.0)
            g = gap * cost * body
            equity *= g
            returns[u - 1] = g - 1.0
            if equity > peak:
                peak = equity
            dd = 1.0 - equity / peak
            if dd > drawdown:
                drawdown = dd
            if target != 0.0:
                exposed += 1
            if target != before:
                if before != 0.0:    # the old trade ends: this bar's gap and its exit cost
                    trade *= gap * keep
                    if trade > 1.0:
                        wins += 1
                if target != 0.0:
                    trades += 1
                    trade = keep * body
            elif target != 0.0:
                trade *= gap * body
        if target != 0.0 and trade > 1.0:      # the open trade, valued at the last close
            wins += 1
        m = n - 1
        mean = 0.0
        for k in range(m):
            mean += returns[k]
        mean /= m
        out[i, 0] = equity - 1.0
        out[i, 1] = equity ** (ppy / m) - 1.0 if equity > 0.0 else -1.0
        out[i, 2] = drawdown
        if m >= 2:
            ss = 0.0
            for k in range(m):
                d = returns[k] - mean
                ss += d * d
            sd = math.sqrt(ss / (m - 1))
            out[i, 3] = mean / sd * math.sqrt(ppy) if sd > 0.0 else math.nan
        out[i, 4] = trades
        out[i, 5] = wins / trades if trades else math.nan
        out[i, 6] = exposed / m


def backtest_batch(opens: np.ndarray, closes: np.ndarray, long: np.ndarray, short: np.ndarray,
                   options: BacktestOptions, ppy: float) -> np.ndarray:
    """``(symbols, len(METRICS))`` metrics of a right-aligned, NaN-left-padded batch (each
    row from its first finite close); columns in the order of :data:`core.backtest.METRICS`."""
    closes = np.ascontiguousarray(closes, dtype=np.float64)
    opens = np.ascontiguousarray(opens, dtype=np.float64)
    long = np.ascontiguousarray(long, dtype=np.bool_)
    short = np.ascontiguousarray(short, dtype=np.bool_)
    out = np.empty((closes.shape[0], len(METRICS)))
    returns = np.empty(max(closes.shape[1], 1))
    _rows(opens, closes, long, short, options.entry == "next_open", options.long_only,
          1.0 - float(options.cost_bps) / 10_000.0, float(ppy), out, returns)
    return out
