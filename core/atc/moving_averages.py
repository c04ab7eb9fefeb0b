"""The six moving-average families of spec §4, as whole-series functions (NaN = na)."""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

KAMA_FAST = 0.666
KAMA_SLOW = 0.064


def _windows(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Output array (all NaN) and the length-n windows ending at bars n−1 … end."""
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] < n:
        return out, np.empty((0, n))
    return out, sliding_window_view(x, n)


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """`ta.ema` (§4.2): na inputs skipped, SMA seed over the first n inputs, then
    ``y + α·(x − y)`` with α = 2/(n+1)."""
    out = np.full(x.shape[0], np.nan)
    alpha = 2.0 / (n + 1)
    seen, total, y = 0, 0.0, math.nan
    for t, v in enumerate(x):
        if math.isnan(v):
            continue
        seen += 1
        if seen <= n:
            total += v
            if seen < n:
                continue
            y = total / n
        else:
            y = y + alpha * (v - y)
        out[t] = y
    return out


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """`ta.sma` (§4.3, the script's "HMA"): mean of the last n values."""
    out, win = _windows(x, n)
    out[n - 1:] = win.sum(axis=1) / n
    return out


def wma(x: np.ndarray, n: int) -> np.ndarray:
    """`ta.wma` (§4.4): weights n (newest) … 1 (oldest), divisor n(n+1)/2."""
    out, win = _windows(x, n)
    weights = np.arange(1, n + 1, dtype=np.float64)
    out[n - 1:] = (win @ weights) / (n * (n + 1) / 2.0)
    return out


def dema(x: np.ndarray, n: int) -> np.ndarray:
    """TradingView/ta `dema` (§4.5): 2·E1 − E2, E2 = ema(E1) seeded after E1's na bars,
    so the first value is on bar 2n−2."""
    e1 = ema(x, n)
    return 2.0 * e1 - ema(e1, n)


def lsma(x: np.ndarray, n: int) -> np.ndarray:
    """`ta.linreg(x, n, 0)` (§4.6): least-squares line over the last n bars, at the newest."""
    if n == 1:
        return x.astype(np.float64, copy=True)
    out, win = _windows(x, n)
    pos = np.arange(n, dtype=np.float64)
    sum_p, sum_pp = pos.sum(), (pos * pos).sum()
    sum_y = win.sum(axis=1)
    sum_py = win @ pos
    slope = (n * sum_py - sum_p * sum_y) / (n * sum_pp - sum_p * sum_p)
    intercept = (sum_y - slope * sum_p) / n
    out[n - 1:] = intercept + slope * (n - 1)
    return out


def kama(x: np.ndarray, n: int) -> np.ndarray:
    """The script's own KAMA (§4.7): starts from 0 (nz of na) and creeps with the slow
    constant until the efficiency ratio exists on bar n."""
    size = x.shape[0]
    step = np.full(size, np.nan)
    step[1:] = np.abs(np.diff(x))
    noise = np.full(size, np.nan)
    if size > n:
        noise[n:] = sliding_window_view(step[1:], n).sum(axis=1)
    signal = np.full(size, np.nan)
    signal[n:] = np.abs(x[n:] - x[:-n]) if size > n else signal[n:]
    out = np.empty(size)
    prev = 0.0
    for t in range(size):
        nz = noise[t]
        ratio = signal[t] / nz if (not math.isnan(nz) and nz != 0.0) else 0.0
        sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
        smooth = sc * sc
        prev = prev + smooth * (x[t] - prev)
        out[t] = prev
    return out


def hull(x: np.ndarray, n: int) -> np.ndarray:
    """A real Hull MA (option ``hma_kind="hull"``, spec §12): does not match TradingView's
    ATC, whose "HMA" is an SMA."""
    half = max(1, n // 2)
    root = max(1, int(math.floor(math.sqrt(n))))
    raw = 2.0 * wma(x, half) - wma(x, n)
    return wma(raw, root)


def family_function(family: str, hma_kind: str = "sma"):
    """The series function of one family name (order of ``core.config.FAMILIES``)."""
    if family == "HMA":
        return hull if hma_kind == "hull" else sma
    return {"EMA": ema, "WMA": wma, "DEMA": dema, "LSMA": lsma, "KAMA": kama}[family]
