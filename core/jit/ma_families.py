"""The nine moving averages of each family (spec §4), in TradingView's own arithmetic
(§4.8) as the numpy reference computes them, operation for operation:

* the HMA family is ``ta.sma`` through the math.sum machine (``window_sums``); the Hull
  option a real Hull MA of exact WMAs;
* EMA steps ``y + α·(x − y)`` from the machine's ``ta.sma`` seed; DEMA ``2·E1 − E2``;
* WMA and LINREG re-summed over the whole window, oldest first, in the spec's operation
  order. Single-series detail results do that on every bar (vectorised over the bars, each
  bar's own sums still strictly sequential). Batches keep O(1) running sums and take the
  exact value on every bar whose running value lies within a proven error bound of the
  close (``window_sums.TIE_REL``), so every crossover is decided as the reference decides it;
* KAMA from 0 with the efficiency ratio over the machine's noise sum.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.jit.kernel_types import Floats, Ints
from core.jit.primitives import DEMA, EMA, EPS, HMA, KAMA, NAN, WMA
from core.jit.window_sums import (DIRECT_MAX, K_LSMA, K_WMA, RESUM, count_sum, exact_from_sums,
                                  exact_sums, lsma_value, msum9, sma_seed)

KAMA_FAST = 0.666
KAMA_SLOW = 0.064


# -- SMA (the script's "HMA"), EMA, DEMA ----------------------------------------------------------
@njit(cache=True, error_model="numpy")
def sma9(x: Floats, lengths: Ints, out: Floats, stored: Floats) -> None:
    """`ta.sma` (the script's "HMA") for nine lengths: fl(math.sum(x, n) / n)."""
    msum9(x, 0, lengths, out, stored)
    for m in range(9):
        n = lengths[m]
        for t in range(x.shape[0]):
            out[m, t] = out[m, t] / n


@njit(cache=True, error_model="numpy")
def ema9(src: Floats, starts: Ints, lengths: Ints, out: Floats) -> None:
    """Nine ta.ema rows at once: member m is the EMA of src[r, starts[m]:] with length
    lengths[m] (na before starts[m] + lengths[m] − 1), where r = m when src has nine rows
    (DEMA's second stage) and r = 0 when all members share one series. Each seed is
    ``ta.sma`` of the first n inputs through the math.sum machine (``sma_seed``).

    The members advance together in one bar loop once all are seeded, so their
    recursions overlap instead of each waiting on its own latency chain.
    """
    n = src.shape[1]
    shared = src.shape[0] == 1
    y = np.full(9, NAN)
    alpha = np.empty(9)
    steady = 0
    for m in range(9):
        length = lengths[m]
        alpha[m] = 2.0 / (length + 1)
        first = starts[m] + length - 1          # first valid bar
        for t in range(min(first, n)):
            out[m, t] = NAN
        r = 0 if shared else m
        if first < n:
            y[m] = sma_seed(src[r], starts[m], length)
            out[m, first] = y[m]
        steady = max(steady, first + 1)
    for m in range(9):                          # catch up to the slowest member
        r = 0 if shared else m
        for t in range(starts[m] + lengths[m], min(steady, n)):
            y[m] = y[m] + alpha[m] * (src[r, t] - y[m])
            out[m, t] = y[m]
    if shared:
        for t in range(steady, n):
            xt = src[0, t]
            for m in range(9):
                y[m] = y[m] + alpha[m] * (xt - y[m])
                out[m, t] = y[m]
    else:
        for t in range(steady, n):
            for m in range(9):
                y[m] = y[m] + alpha[m] * (src[m, t] - y[m])
                out[m, t] = y[m]


# -- WMA and LINREG (§4.8) --------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def wma_exact_row(x: Floats, n: int, out: Floats) -> None:
    """ta.wma(x, n) on every bar (na before n−1) exactly as §4.8: each window re-summed
    oldest first. Vectorised over the bars; each bar's own sum stays sequential."""
    size = x.shape[0]
    for t in range(min(n - 1, size)):
        out[t] = NAN
    if size < n:
        return
    cnt = size - n + 1
    acc = out[n - 1:]
    acc[:] = 0.0
    w = 0.0
    for j in range(n):
        w = w + 1.0
        xs = x[j:j + cnt]
        for i in range(cnt):
            acc[i] = acc[i] + xs[i] * w
    norm = count_sum(n, False)
    for i in range(cnt):
        acc[i] = acc[i] / norm


@njit(cache=True, error_model="numpy")
def lsma_exact_row(x: Floats, n: int, out: Floats, sy: Floats, sxy: Floats) -> None:
    """ta.linreg(x, n, 0) on every bar (na before n−1) exactly as §4.8; ``sy``/``sxy`` are
    scratch rows as long as x. Vectorised over the bars like wma_exact_row."""
    size = x.shape[0]
    if n == 1:                                   # linreg of one point is the point
        out[:] = x
        return
    for t in range(min(n - 1, size)):
        out[t] = NAN
    if size < n:
        return
    cnt = size - n + 1
    sy[:cnt] = 0.0
    sxy[:cnt] = 0.0
    for j in range(n):
        p = float(j + 1)
        xs = x[j:j + cnt]
        for i in range(cnt):
            y = xs[i]
            sy[i] = sy[i] + y
            sxy[i] = sxy[i] + y * p
    nf = float(n)
    sx = count_sum(n, False)
    den = nf * count_sum(n, True) - sx * sx
    for i in range(cnt):
        out[n - 1 + i] = lsma_value(nf, sy[i], sxy[i], sx, den)


@njit(cache=True, error_model="numpy")
def window_mas9(kind: int, x: Floats, close: Floats, lengths: Ints, out: Floats, tmp1: Floats,
                tmp2: Floats, exact: bool, band: float, run: Ints) -> None:
    """ta.wma (kind K_WMA) or ta.linreg (K_LSMA) of x for nine lengths into ``out``.

    ``exact``: the §4.8 value on every bar (wma_exact_row / lsma_exact_row). Otherwise
    (batches) O(1) running sums S = Σy and W = Σp·y (p = 1 … n, oldest first):
    S' = (S + x_t) − x_{t−n}, W' = (W + n·x_t) − S, re-summed exactly on every bar up to the
    longest first window and every RESUM bars; the value from them is b·W − a·S (WMA:
    b = 1/norm, a = 0; LINREG: b = 6/(n(n+1)), a = 2/n — the line's value at the newest
    point). Every bar whose running value lies within ``band`` of the close (TIE_REL: the
    running value's proven error is far inside it) takes the exact §4.8 value instead, so
    every crossover is decided on exact values. On a flat stretch (``run[t]``: equal values
    ending at t) a window identical to the previous bar's has the previous exact value, bit
    for bit, without re-summing. Windows of at most DIRECT_MAX values are exact throughout.
    """
    size = x.shape[0]
    if exact:
        for m in range(9):
            if kind == K_WMA:
                wma_exact_row(x, lengths[m], out[m])
            else:
                lsma_exact_row(x, lengths[m], out[m], tmp1[m], tmp2[m])
        return
    s = np.zeros(9)
    w = np.zeros(9)
    ca = np.empty(9)
    cb = np.empty(9)
    sx = np.empty(9)
    den = np.empty(9)
    last = np.full(9, -2, np.int64)          # last bar whose value is the exact one
    steady = 0
    for m in range(9):
        steady = max(steady, lengths[m])
    for m in range(9):
        length = lengths[m]
        nf = float(length)
        sx[m] = count_sum(length, False)
        den[m] = nf * count_sum(length, True) - sx[m] * sx[m]
        cb[m] = 1.0 / sx[m] if kind == K_WMA else 6.0 / (nf * (nf + 1.0))
        ca[m] = 0.0 if kind == K_WMA else 2.0 / nf
        for t in range(min(length - 1, size)):
            out[m, t] = NAN
        for t in range(length - 1, min(steady, size)):
            s[m], w[m] = exact_sums(x, t, length)
            out[m, t] = exact_from_sums(kind, nf, s[m], w[m], sx[m], den[m])
            last[m] = t
    for t in range(steady, size):
        c = close[t]
        if t % RESUM == 0:
            for m in range(9):
                s[m], w[m] = exact_sums(x, t, lengths[m])
                out[m, t] = exact_from_sums(kind, float(lengths[m]), s[m], w[m], sx[m], den[m])
                last[m] = t
            continue
        xt = x[t]
        near = False
        for m in range(9):
            length = lengths[m]
            sm = s[m]
            wm = (w[m] + length * xt) - sm       # the previous window's plain sum
            sm = (sm + xt) - x[t - length]
            s[m] = sm
            w[m] = wm
            v = wm * cb[m] - sm * ca[m]
            out[m, t] = v
            near = near | (abs(v - c) <= band)
        if near:                                 # rare: the exact value decides
            for m in range(9):
                if abs(out[m, t] - c) <= band:
                    length = lengths[m]
                    if last[m] == t - 1 and run[t] > length:
                        out[m, t] = out[m, t - 1]    # same window as the previous bar
                    else:
                        sy, sxy = exact_sums(x, t, length)
                        out[m, t] = exact_from_sums(kind, float(length), sy, sxy, sx[m], den[m])
                    last[m] = t
    for m in range(9):
        length = lengths[m]
        if length <= DIRECT_MAX:
            if kind == K_WMA:
                wma_exact_row(x, length, out[m])
            else:
                lsma_exact_row(x, length, out[m], tmp1[m], tmp2[m])


@njit(cache=True)
def hull_row(x: Floats, length: int, out: Floats, t1: Floats, t2: Floats) -> None:
    """A real Hull MA (option hma_kind="hull"): WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋), each
    WMA in §4.8's order as the reference computes it (t1/t2 scratch rows)."""
    half = max(1, length // 2)
    root = max(1, int(math.floor(math.sqrt(length))))
    wma_exact_row(x, half, t1)
    wma_exact_row(x, length, t2)
    for t in range(x.shape[0]):
        t1[t] = 2.0 * t1[t] - t2[t]
    wma_exact_row(t1, root, out)


# -- KAMA -------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def kama9(x: Floats, lengths: Ints, out: Floats, noise: Floats, stored: Floats) -> None:
    """The script's KAMA (spec §4.7) for nine lengths: from 0, slow constant until the
    efficiency ratio exists on bar n. The noise is math.sum of |x − x[1]| through the
    machine (bar 0's step is na and skipped); `noise != 0` is Pine's tolerant test."""
    size = x.shape[0]
    step = np.empty(size)
    if size:
        step[0] = NAN
    for t in range(1, size):
        step[t] = abs(x[t] - x[t - 1])
    msum9(step, 1, lengths, noise, stored)
    prev = np.zeros(9)
    steady = 0
    for m in range(9):
        steady = max(steady, lengths[m])
    for t in range(min(steady, size)):
        xt = x[t]
        for m in range(9):
            length = lengths[m]
            ratio = 0.0
            if t >= length:
                nz = noise[m, t]
                if abs(nz - 0.0) > EPS:
                    ratio = abs(xt - x[t - length]) / nz
            sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
            prev[m] = prev[m] + sc * sc * (xt - prev[m])
            out[m, t] = prev[m]
    for t in range(steady, size):           # every ratio exists: branch-free selects
        xt = x[t]
        tu = np.uint64(t)                   # unsigned: no negative-index wraparound
        for m in range(9):
            nz = noise[m, tu]
            q = abs(xt - x[np.uint64(t - lengths[m])]) / nz   # unused when noise is (near) 0
            ratio = q if abs(nz - 0.0) > EPS else 0.0
            sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
            pm = prev[m]
            pm = pm + sc * sc * (xt - pm)
            prev[m] = pm
            out[m, tu] = pm


@njit(cache=True, error_model="numpy")
def family_mas(f: int, lengths: Ints, hull: bool, x: Floats, close: Floats, mas: Floats,
               tmp1: Floats, tmp2: Floats, exact: bool, band: float, run: Ints) -> None:
    """The nine moving averages of family ``f`` (spec §4) of x into ``mas`` (9, n); close
    is their crossover partner (a batch's WMA/LINREG take the exact value near it)."""
    n = x.shape[0]
    zero = np.zeros(9, np.int64)
    if f == EMA:
        ema9(x.reshape(1, n), zero, lengths, mas)
    elif f == DEMA:
        ema9(x.reshape(1, n), zero, lengths, tmp1)
        ema9(tmp1, lengths - 1, lengths, tmp2)     # E2 starts at E1's first value
        for m in range(9):
            for t in range(n):
                mas[m, t] = 2.0 * tmp1[m, t] - tmp2[m, t]
    elif f == KAMA:
        kama9(x, lengths, mas, tmp1, tmp2)
    elif f == HMA and hull:
        for m in range(9):
            hull_row(x, lengths[m], mas[m], tmp1[0], tmp1[1])
    elif f == HMA:                                  # the script's "HMA" is ta.sma
        sma9(x, lengths, mas, tmp1)
    elif f == WMA:
        window_mas9(K_WMA, x, close, lengths, mas, tmp1, tmp2, exact, band, run)
    else:
        window_mas9(K_LSMA, x, close, lengths, mas, tmp1, tmp2, exact, band, run)


