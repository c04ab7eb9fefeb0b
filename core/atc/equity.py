"""Growth factor, crossover states and the equity recursion (spec §3, §5, §6)."""
from __future__ import annotations

import math

import numpy as np

from core.atc.pine import gt, lt

EQUITY_FLOOR = 0.25


def growth_factor(bars: int, lam: float, cutout: int) -> np.ndarray:
    """g[t] = e^(λ·(t − cutout)) computed as pow(e, …), for t ≥ cutout; na before (§3)."""
    g = np.full(bars, np.nan)
    for t in range(cutout, bars):
        g[t] = math.e ** (lam * (t - cutout))
    return g


def crosses(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """crossover(a, b) and crossunder(a, b) per bar; any na among the four values → false."""
    up = np.zeros(a.shape[0], dtype=bool)
    down = np.zeros(a.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
        down[1:] = (a[1:] < b[1:]) & (a[:-1] >= b[:-1])
    return up, down


def crossover_state(close: np.ndarray, ma: np.ndarray) -> np.ndarray:
    """Persistent state of §5: +1 after crossover(close, ma), −1 after crossunder, from 0."""
    up, down = crosses(close, ma)
    event = np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)
    # Forward-fill the last event: index of the latest bar with an event, 0 before any.
    last = np.maximum.accumulate(np.where(event != 0, np.arange(event.shape[0]), 0))
    state = event[last]
    return state


def equity(start: float, sig: np.ndarray, rg: np.ndarray, cutout: int, delta: float) -> np.ndarray:
    """eq(start, sig, R) of §6; ``rg`` is R·g. ``a`` persists while the previous signal is 0.
    The floor test `e < 0.25` and the sign tests are Pine's tolerant comparisons (§4.8)."""
    n = sig.shape[0]
    out = [math.nan] * n
    signals, returns = sig.astype(np.float64).tolist(), rg.tolist()   # Python floats: fast loop
    a, e = 0.0, math.nan
    decay = 1.0 - delta
    for t in range(cutout, n):
        r = returns[t]
        p = signals[t - 1] if t >= 1 else math.nan
        if gt(p, 0.0):                 # the script's comparisons: Pine's tolerant ones
            a = r
        elif lt(p, 0.0):
            a = -r
        e = start if t == cutout else e * decay * (1.0 + a)
        if lt(e, EQUITY_FLOOR):
            e = EQUITY_FLOOR
        out[t] = e
    return np.array(out)
