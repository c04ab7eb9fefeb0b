"""The six moving-average families of spec §4, as whole-series functions (NaN = na).

Every built-in follows TradingView's own arithmetic (spec §4.8) literally, operation for
operation, so the values equal TradingView's to the last bit: the rolling compensated sum
behind ``ta.sma``/``math.sum``, the EMA seeded from it, WMA and LINREG re-summed oldest
first on every bar. These functions are the yardstick, so they favour the spec's wording
over speed.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from core.atc.pine import ne

KAMA_FAST = 0.666
KAMA_SLOW = 0.064

#: A family's whole-series function: (series, length) → the moving average (NaN = na).
MovingAverage: TypeAlias = Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]]


def rolling_sum(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """`math.sum(x, n)` (§4.8): a compensated running sum that re-baselines itself.

    The state is the sum ``s``, its compensation ``c``, the count ``k`` of non-na inputs
    (up to n) and the n stored entries (the realised addends, not the raw inputs). When the
    compensation can no longer be added to the input without loss (the "fire" test), the
    sum is rebuilt from the raw window, newest first. na inputs leave the state alone.
    """
    size = x.shape[0]
    if n == 1:
        return x.astype(np.float64, copy=True)
    out = np.full(size, np.nan)
    values = x.tolist()
    stored = [0.0] * n     # ring of realised addends, slot = count of inputs mod n
    raw: list[float] = []  # the raw non-na inputs, oldest first (the re-baseline reads them)
    s = c = 0.0
    k = 0
    for t, v in enumerate(values):
        if math.isnan(v):
            if k == n:
                out[t] = s
            continue
        fire = False
        if c != 0.0 and v != 0.0:
            b = abs(c)
            r = v + b
            if r != 0.0 and math.isfinite(r):
                fire = (b - (r - v)) > 0.0
        raw.append(v)
        slot = (len(raw) - 1) % n
        if k < n:
            k += 1
            y1 = -c
        else:
            y1 = -stored[slot] - c      # the entry stored n inputs ago is evicted
        if fire:
            acc = v
            for back in range(2, k + 1):            # one input further back each time
                acc = raw[-back] + acc
            s, c = acc, 0.0
            stored[slot] = v
        else:
            tmp = s + y1
            e1 = (tmp - s) - y1
            y2 = v - e1
            s_new = tmp + y2
            c = (s_new - tmp) - y2
            s = s_new
            stored[slot] = y2
        if k == n:
            out[t] = s
    return out


def sma(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """`ta.sma` (§4.3, the script's "HMA"): math.sum(x, n) / n."""
    return rolling_sum(x, n) / n


def ema(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """`ta.ema` (§4.2, §4.8): na inputs skipped; seeded with ``ta.sma`` on the bar it first
    exists, then ``y + α·(x − y)`` with α = 2/(n+1)."""
    out = np.full(x.shape[0], np.nan)
    alpha = 2.0 / (n + 1)
    valid = np.flatnonzero(~np.isnan(x))
    if valid.size < n:
        return out
    # The seed: ta.sma on the bar of the n-th non-na input (only that bar of it is used).
    seed_bar = int(valid[n - 1])
    y = float(sma(x[:seed_bar + 1], n)[seed_bar])
    out[seed_bar] = y
    for t in valid[n:].tolist():
        y = y + alpha * (float(x[t]) - y)
        out[t] = y
    return out


def _windows(x: npt.NDArray[np.float64], n: int
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Output array (all NaN) and the length-n windows ending at bars n−1 … end."""
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] < n:
        return out, np.empty((0, n))
    return out, sliding_window_view(x, n)


def _sequential_sum(terms: Iterable[float]) -> float:
    total = 0.0
    for v in terms:
        total = total + float(v)
    return total


def wma(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """`ta.wma` (§4.4, §4.8): weights n (newest) … 1 (oldest); every window re-summed
    oldest first (vectorised over bars, sequential over the window, as written)."""
    out, win = _windows(x, n)
    acc = np.zeros(win.shape[0])
    w = 0.0
    for j in range(n):
        w = w + 1.0
        acc = acc + win[:, j] * w
    out[n - 1:] = acc / _sequential_sum(range(1, n + 1))
    return out


def lsma(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """`ta.linreg(x, n, 0)` (§4.6, §4.8): least-squares line over the last n bars at the
    newest, in TradingView's operation order (positions 1 … n, oldest first)."""
    if n == 1:
        return x.astype(np.float64, copy=True)
    out, win = _windows(x, n)
    nf = float(n)
    sx = _sequential_sum(range(1, n + 1))
    sx2 = _sequential_sum(i * i for i in range(1, n + 1))
    den = nf * sx2 - sx * sx
    sy = np.zeros(win.shape[0])
    sxy = np.zeros(win.shape[0])
    for j in range(n):
        y = win[:, j]
        sy = sy + y
        sxy = sxy + y * float(j + 1)
    slope = (nf * sxy - sx * sy) / den
    avg = sy / nf
    intercept = (avg - (slope * sx) / nf) + slope
    out[n - 1:] = intercept + slope * (nf - 1.0)
    return out


def dema(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """TradingView/ta `dema` (§4.5): 2·E1 − E2, E2 = ema(E1) seeded after E1's na bars,
    so the first value is on bar 2n−2."""
    e1 = ema(x, n)
    return 2.0 * e1 - ema(e1, n)


def kama(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """The script's own KAMA (§4.7): starts from 0 (nz of na) and creeps with the slow
    constant until the efficiency ratio exists on bar n. The noise is ``math.sum`` of the
    absolute steps (bar 0's is na and skipped); ``noise != 0`` is Pine's tolerant test."""
    size = x.shape[0]
    step = np.full(size, np.nan)
    step[1:] = np.abs(x[1:] - x[:-1])
    noise = rolling_sum(step, n)
    signal = np.full(size, np.nan)
    if size > n:
        signal[n:] = np.abs(x[n:] - x[:-n])
    out = np.empty(size)
    prev = 0.0
    for t in range(size):
        nz = float(noise[t])
        ratio = float(signal[t]) / nz if (not math.isnan(nz) and ne(nz, 0.0)) else 0.0
        sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
        smooth = sc * sc
        prev = prev + smooth * (float(x[t]) - prev)
        out[t] = prev
    return out


def hull(x: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """A real Hull MA (option ``hma_kind="hull"``, spec §12): does not match TradingView's
    ATC, whose "HMA" is an SMA."""
    half = max(1, n // 2)
    root = max(1, int(math.floor(math.sqrt(n))))
    raw = 2.0 * wma(x, half) - wma(x, n)
    return wma(raw, root)


def family_function(family: str, hma_kind: str = "sma") -> MovingAverage:
    """The series function of one family name (order of ``core.config.FAMILIES``)."""
    if family == "HMA":
        return hull if hma_kind == "hull" else sma
    return {"EMA": ema, "WMA": wma, "DEMA": dema, "LSMA": lsma, "KAMA": kama}[family]
