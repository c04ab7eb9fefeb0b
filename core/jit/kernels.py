"""numba kernels for the full ATC: one fused pass per symbol.

The moving averages follow TradingView's own arithmetic (spec §4.8), operation for
operation, as the numpy reference does:

* ``math.sum`` — the compensated rolling sum with its fire test and newest-first
  re-baseline over the raw window, and a ring of the realised addends — for ``ta.sma`` (the
  HMA family), every EMA seed (DEMA's inner one included) and KAMA's noise. It is O(1) per
  bar amortised, so it runs everywhere.
* EMA steps ``y + α·(x − y)``; DEMA ``2·E1 − E2``.
* WMA and LINREG re-summed over the whole window, oldest first, in the spec's operation
  order. Single-series detail results do that on every bar (vectorised over the bars, each
  bar's own sums still strictly sequential). Batches keep O(1) running sums and take the
  exact value on every bar whose running value lies within a proven error bound of the
  close (see ``TIE_REL``), so every crossover is decided as the reference decides it.

numba compiles without fast-math, so no multiply-add is contracted and no sum is
reassociated: each fl(·) of the spec is one float64 operation here too. The script's own
comparisons (KAMA's ``noise != 0``, the equity floor and sign tests, Cut) are Pine's
tolerant ones (|a − b| ≤ 1e-10 is equal); crossovers compare exactly.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from core.types import PINE_TOLERANCE

EPS = PINE_TOLERANCE
EQUITY_FLOOR = 0.25
ROUND_TIE = 0.5 - 1e-10
KAMA_FAST = 0.666
KAMA_SLOW = 0.064
NAN = np.nan

# Batch WMA/LINREG: the running window sums S = Σy and W = Σp·y (p = 1 … n, oldest first)
# are re-summed from the window (the spec's sequential order) every RESUM bars, and windows
# of at most DIRECT_MAX values are always evaluated exactly.
RESUM = 128
DIRECT_MAX = 8
# The safe band, relative to M = max |x| over the row (the MA's input). Error bound, with
# u = 2⁻⁵³ and K ≤ RESUM bars since the last exact re-sum (|S| ≤ nM, |W| ≤ n(n+1)M/2):
#   each S step (S + x_t) − x_{t−n} adds ≤ 2u(n+1)M, so e_S ≤ (n² + 2K(n+1))·u·M;
#   each W step (W + n·x_t) − S_{t−1} adds ≤ u(n² + 3n)M plus S's error, so
#   e_W ≤ (n³/2 + K(2n² + 3n) + K²(n+1))·u·M.
#   WMA: W·(1/norm) (norm = n(n+1)/2, two roundings) is then within
#   (n + 4K + 2K²/n + 3)·u·M of the true mean.
#   LINREG at the newest point is b·W − a·S with b = 6/(n(n+1)), a = 2/n: the sums' errors
#   give 6/(n(n+1))·e_W + 2/n·e_S ≤ (2n + 10K + 6K²/n)·u·M, the rounded coefficients, two
#   products and the difference (terms ≤ 3M) ≤ 20·u·M.
#   The exact §4.8 value is itself within (5n + 50)·u·M of the true one (sequential sums,
#   the closed form's cancellation in n·W − sx·S bounded by n³M/2 over den ≈ n⁴/12).
# So |running − exact| ≤ (7n + 10K + 6K²/n + 100)·u·M; with K = 128, 8 < n ≤ 2007 (the
# configuration's longest member) that is < 2.9·10⁴·u·M < 3.3·10⁻¹²·M, 300 times inside
# the band. A bar whose running value is farther than the band from the close therefore has
# its exact value on the same side of the close, strictly; every other bar takes the exact
# one, so each comparison of §5 (this bar's and the previous bar's) is the exact one.
TIE_REL = 1e-9

# Window MA kinds.
K_WMA, K_LSMA = 0, 1

# Family indices (order of core.config.FAMILIES).
EMA, HMA, WMA, DEMA, LSMA, KAMA = 0, 1, 2, 3, 4, 5


# -- Pine's comparisons and the equity recursion ------------------------------------------------
@njit(cache=True, inline="always")
def pine_gt(a, b):
    """The script's `a > b`: Pine's tolerant comparison (false with na)."""
    return (a > b) & (abs(a - b) > EPS)


@njit(cache=True, inline="always")
def pine_lt(a, b):
    """The script's `a < b`: Pine's tolerant comparison (false with na)."""
    return (a < b) & (abs(a - b) > EPS)


@njit(cache=True, inline="always")
def below_floor(e):
    """The script's `e < 0.25`, tolerant: e < 0.25 and |e − 0.25| > 1e-10. For e ≥ 0.125
    the difference 0.25 − e is exact (Sterbenz), below it far above 1e-10, so this one
    subtraction is that test; na compares false."""
    return (EQUITY_FLOOR - e) > EPS


@njit(cache=True, inline="always")
def round2(v):
    """Pine math.round(v, 2): ties away from zero, 1e-10 tie tolerance (spec §7)."""
    a = abs(v) * 100.0
    u = math.floor(a)
    if a - u >= ROUND_TIE:
        u += 1.0
    sign = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
    return sign * u / 100.0


@njit(cache=True, inline="always")
def equity_step(t, cutout, r, p, a, e, start, decay):
    """One bar of eq() (spec §6); returns the new (a, e). ``p`` is the signal one bar ago.
    The sign tests and the floor are the script's comparisons, so tolerant; ``p`` is a
    member state (−1/0/+1) or a Layer-1 signal (a multiple of 0.01), never within 1e-10 of
    0 unless 0, so the plain sign tests are the tolerant ones."""
    if p > 0.0:
        a = r
    elif p < 0.0:
        a = -r
    e = start if t == cutout else e * decay * (1.0 + a)
    if below_floor(e):
        e = EQUITY_FLOOR
    return a, e


@njit(cache=True, inline="always")
def crossover_step(state, c, c_prev, m, m_prev):
    """Persistent crossover state of spec §5 (exact comparisons; na compares false)."""
    if c > m and c_prev <= m_prev:
        state = 1
    if c < m and c_prev >= m_prev:
        state = -1
    return state


@njit(cache=True, inline="always")
def event_step(cols, alertb, cols_prev, base_prev, alert_prev, direction, long_th, short_th,
               strategy):
    """One bar of spec §9: base (lagged in Strategy View), threshold crossings, direction,
    alerts. Returns (base, up, down, long, short, previous direction, new direction)."""
    base = cols_prev if strategy else cols
    up = base > long_th and base_prev <= long_th
    down = base < short_th and base_prev >= short_th
    a_up = alertb > long_th and alert_prev <= long_th
    a_down = alertb < short_th and alert_prev >= short_th
    d_prev = direction
    if up:
        direction = 1.0
    if down:
        direction = -1.0
    return base, up, down, a_up and d_prev == -1.0, a_down and d_prev == 1.0, d_prev, direction


@njit(cache=True, inline="always")
def family_bar(t, cutout, active, r, num, den, sig_prev, f_a, f_e, base_prev, direction,
               weight, decay, long_th, short_th, strategy):
    """The screened family's bar after its members' sums (spec §7–§9, the family's signal
    as base): Layer-1 signal, Layer-2 equity, direction and events. Returns (signal, a,
    equity, base, direction, long, short)."""
    sig = round2(num / den) if active else NAN
    if active:
        f_a, f_e = equity_step(t, cutout, r, sig_prev if t > 0 else NAN, f_a, f_e, weight, decay)
    base, up, down, ev_long, ev_short, d_prev, direction = event_step(
        sig, sig, sig_prev, base_prev, sig_prev, direction, long_th, short_th, strategy)
    return sig, f_a, f_e, base, direction, ev_long, ev_short


# -- math.sum (§4.8) ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def fires(v, c):
    """The machine's fire test: the compensation can no longer be added to v without loss
    (exactly this operand order)."""
    if c != 0.0 and v != 0.0:
        b = abs(c)
        r = v + b
        if r != 0.0 and math.isfinite(r):
            return (b - (r - v)) > 0.0
    return False


@njit(cache=True)
def rebaseline(x, t, k):
    """The newest-first linear sum of the k raw values x[t−k+1 … t]: acc = x[t], then
    acc = x[t−i] + acc for i = 1 … k−1."""
    acc = x[t]
    for i in range(1, k):
        acc = x[t - i] + acc
    return acc


@njit(cache=True, inline="always")
def kahan_add(s, c, y1, v):
    """The machine's five steps after y1; returns (s', c', y2)."""
    tmp = s + y1
    e1 = (tmp - s) - y1
    y2 = v - e1
    s2 = tmp + y2
    return s2, (s2 - tmp) - y2, y2


@njit(cache=True, error_model="numpy")
def sma_seed(x, lo, n):
    """`ta.sma(x, n)` on the bar where it first exists, from the inputs x[lo … lo+n−1]
    (no na among them): the machine's warm-up, which never evicts, divided by n. NaN when
    the series is too short."""
    if lo + n > x.shape[0]:
        return NAN
    if n == 1:
        return x[lo]
    s = 0.0
    c = 0.0
    for k in range(1, n + 1):
        t = lo + k - 1
        v = x[t]
        if fires(v, c):
            s = rebaseline(x, t, k)
            c = 0.0
        else:
            s, c, _ = kahan_add(s, c, -c, v)
    return s / n


@njit(cache=True, inline="always")
def msum_steady(v, s, c, d):
    """One steady step of the machine for input v evicting the stored entry d, without the
    fire test's consequence: returns (s', c', y2, fire). When ``fire`` is true the caller
    replaces s' by the re-baseline, c' by 0 and the stored y2 by v. Branch-free (the fire
    test's conditions are combined, which is the same test: every float operation here is
    exception-free)."""
    b = abs(c)
    r = v + b
    # The spec's test is: c ≠ 0, v ≠ 0, r ≠ 0, r finite and b − (r − v) > 0. With c = 0 or
    # v = 0 the last difference is 0, and r = 0 makes it b + v = 0, so those guards never
    # change the answer; r is finite for the finite prices and steps this sees.
    fire = (b - (r - v)) > 0.0
    y1 = -d - c
    s2, c2, y2 = kahan_add(s, c, y1, v)
    return s2, c2, y2, fire


@njit(cache=True, error_model="numpy")
def msum9(x, t0, lengths, out, stored):
    """`math.sum(x, n)` for nine lengths into ``out`` (9, bars); inputs before bar t0 are
    na (skipped) and none after it; the sum exists from bar t0 + n − 1 (na before).
    ``stored`` (9, bars) receives each machine's realised addend of input t at [m, t], so
    the entry a machine evicts at bar t is [m, t − n] (the spec's ring, unrolled).

    Each machine's warm-up runs alone; then the nine advance together, one bar at a time,
    so their latency chains overlap, and a fire (rare) is applied after the bar's steps."""
    size = x.shape[0]
    s = np.zeros(9)
    c = np.zeros(9)
    fire = np.zeros(9, np.bool_)
    steady = t0
    for m in range(9):
        n = lengths[m]
        for t in range(min(t0 + n - 1, size)):
            out[m, t] = NAN
        sm = 0.0
        cm = 0.0
        for t in range(t0, min(t0 + n, size)):          # warm-up: nothing is evicted
            v = x[t]
            if fires(v, cm):
                sm = rebaseline(x, t, t - t0 + 1)
                cm = 0.0
                stored[m, t] = v
            else:
                sm, cm, stored[m, t] = kahan_add(sm, cm, -cm, v)
        if t0 + n - 1 < size:
            out[m, t0 + n - 1] = sm
        s[m] = sm
        c[m] = cm
        steady = max(steady, t0 + n)
    for m in range(9):                       # catch up to the longest warm-up
        n = lengths[m]
        for t in range(t0 + n, min(steady, size)):
            v = x[t]
            sm, cm, y2, f = msum_steady(v, s[m], c[m], stored[m, t - n])
            if f:
                sm = rebaseline(x, t, n)
                cm = 0.0
                y2 = v
            s[m] = sm
            c[m] = cm
            stored[m, t] = y2
            out[m, t] = sm
    for t in range(steady, size):
        v = x[t]
        any_fire = False
        for m in range(9):       # length-1 lanes run too (harmless), then get x below
            sm, cm, y2, f = msum_steady(v, s[m], c[m], stored[m, t - lengths[m]])
            s[m] = sm
            c[m] = cm
            stored[m, t] = y2
            out[m, t] = sm
            fire[m] = f
            any_fire = any_fire | f
        if any_fire:                         # rare: re-baseline from the raw window
            for m in range(9):
                if fire[m]:
                    s[m] = rebaseline(x, t, lengths[m])
                    c[m] = 0.0
                    stored[m, t] = v
                    out[m, t] = s[m]
                    fire[m] = False
    for m in range(9):
        if lengths[m] == 1:                  # math.sum(x, 1) is x
            for t in range(t0, size):
                out[m, t] = x[t]


@njit(cache=True, error_model="numpy")
def sma9(x, lengths, out, stored):
    """`ta.sma` (the script's "HMA") for nine lengths: fl(math.sum(x, n) / n)."""
    msum9(x, 0, lengths, out, stored)
    for m in range(9):
        n = lengths[m]
        for t in range(x.shape[0]):
            out[m, t] = out[m, t] / n


# -- EMA, DEMA ------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def ema_update(x, t, n, alpha, seed, y):
    """ta.ema on bar t for the bar-by-bar screening kernel: na before n−1, the seed (the
    machine's ta.sma, ``sma_seed``) on n−1, then y + α·(x − y)."""
    if t < n - 1:
        return NAN
    if t == n - 1:
        return seed
    return y + alpha * (x[t] - y)


@njit(cache=True, error_model="numpy")
def ema9(src, starts, lengths, out):
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
@njit(cache=True)
def count_sum(n, squares):
    """1 + 2 + … + n (or 1 + 4 + … + n²) summed sequentially in float64."""
    total = 0.0
    for i in range(1, n + 1):
        total = total + float(i * i if squares else i)
    return total


@njit(cache=True, inline="always")
def lsma_value(nf, sy, sxy, sx, den):
    """ta.linreg's value from its window sums Σy and Σp·y, in the spec's operation order."""
    slope = (nf * sxy - sx * sy) / den
    avg = sy / nf
    intercept = (avg - (slope * sx) / nf) + slope
    return intercept + slope * (nf - 1.0)


@njit(cache=True)
def exact_sums(x, t, n):
    """The window x[t−n+1 … t] summed oldest first: (Σy, Σp·y with p = 1 … n), each
    sequential from 0 — ta.wma's accumulator and ta.linreg's sy/sxy."""
    sy = 0.0
    acc = 0.0
    w = 0.0
    lo = t - n + 1
    for j in range(n):
        y = x[lo + j]
        w = w + 1.0
        sy = sy + y
        acc = acc + y * w
    return sy, acc


@njit(cache=True, error_model="numpy")
def wma_exact_row(x, n, out):
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
def lsma_exact_row(x, n, out, sy, sxy):
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


@njit(cache=True, inline="always")
def exact_from_sums(kind, nf, sy, sxy, sx, den):
    """The §4.8 value from exactly summed windows: WMA acc/norm (norm = sx), or LINREG."""
    if kind == K_WMA:
        return sxy / sx
    if nf == 1.0:                                # linreg of one point is the point
        return sy
    return lsma_value(nf, sy, sxy, sx, den)


@njit(cache=True, error_model="numpy")
def window_mas9(kind, x, close, lengths, out, tmp1, tmp2, exact, band, run):
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
def hull_row(x, length, out, t1, t2):
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
def kama9(x, lengths, out, noise, stored):
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
        for m in range(9):
            nz = noise[m, t]
            q = abs(xt - x[t - lengths[m]]) / nz       # unused when noise is (near) 0
            ratio = q if abs(nz - 0.0) > EPS else 0.0
            sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
            pm = prev[m]
            pm = pm + sc * sc * (xt - pm)
            prev[m] = pm
            out[m, t] = pm


@njit(cache=True, error_model="numpy")
def family_mas(f, lengths, hull, x, close, mas, tmp1, tmp2, exact, band, run):
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


# -- layers, events, drivers ------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def family_layers(f, close, mas, rg, cutout, decay, weight, sig_row, feq_row, detail,
                  d_state, d_eq):
    """Crossover states (§5) and Layer-1 equities (§6) of a family's nine MAs, its Layer-1
    signal (§7) and Layer-2 equity (§8), bar by bar.

    The nine members advance together in one bar loop: their equity recursions are
    independent chains the CPU overlaps, and the Layer-1 sums stay left to right.
    Bars before the cutout only move the states; the equities start on the cutout bar.
    """
    n = close.shape[0]
    st = np.zeros(9)
    prod = np.empty(9)
    eq_a = np.zeros(9)
    eq_e = np.full(9, NAN)
    sig = NAN
    f_a = 0.0
    f_e = NAN
    for t in range(min(cutout, n)):             # inactive bars: states only, outputs na
        if t > 0:
            for m in range(9):
                st[m] = crossover_step(st[m], close[t], close[t - 1], mas[m, t], mas[m, t - 1])
        sig_row[t] = NAN
        feq_row[t] = NAN
        if detail:
            for m in range(9):
                d_state[f * 9 + m, t] = st[m]
                d_eq[f * 9 + m, t] = NAN
    for t in range(cutout, n):
        c = close[t]
        r = rg[t]
        num = 0.0
        den = 0.0
        if t == 0:                              # bar 0: no previous bar, states stay 0
            for m in range(9):
                eq_a[m], eq_e[m] = equity_step(t, cutout, r, NAN, eq_a[m], eq_e[m], 1.0, decay)
                den = den + eq_e[m]
        elif t == cutout:
            c_prev = close[t - 1]
            for m in range(9):
                p = st[m]
                st[m] = crossover_step(p, c, c_prev, mas[m, t], mas[m, t - 1])
                eq_a[m], eq_e[m] = equity_step(t, cutout, r, p, eq_a[m], eq_e[m], 1.0, decay)
                num = num + st[m] * eq_e[m]
                den = den + eq_e[m]
        else:
            # Branch-free over the members (selects), so LLVM can vectorise this loop; the
            # Layer-1 sums are then taken left to right in member order as the spec says.
            # The sign and floor tests are Pine's tolerant ones (equity_step).
            c_prev = close[t - 1]
            for m in range(9):
                p = st[m]
                ma = mas[m, t]
                ma_prev = mas[m, t - 1]
                s = 1.0 if (c > ma) & (c_prev <= ma_prev) else p
                s = -1.0 if (c < ma) & (c_prev >= ma_prev) else s
                # p is a state (−1, 0, +1): the tolerant sign test is the exact one.
                a = r if p > 0 else (-r if p < 0 else eq_a[m])
                e = eq_e[m] * decay * (1.0 + a)
                e = EQUITY_FLOOR if below_floor(e) else e
                st[m] = s
                eq_a[m] = a
                eq_e[m] = e
                prod[m] = s * e
            for m in range(9):
                num = num + prod[m]
                den = den + eq_e[m]
        if detail:
            for m in range(9):
                d_state[f * 9 + m, t] = st[m]
                d_eq[f * 9 + m, t] = eq_e[m]
        p_sig = sig if t > 0 else NAN
        sig = round2(num / den)
        f_a, f_e = equity_step(t, cutout, r, p_sig, f_a, f_e, weight, decay)
        sig_row[t] = sig
        feq_row[t] = f_e


@njit(cache=True)
def constant_runs(x):
    """run[t]: how many equal values end at bar t (1 where x[t] ≠ x[t−1])."""
    n = x.shape[0]
    run = np.ones(n, np.int64)
    for t in range(1, n):
        if x[t] == x[t - 1]:
            run[t] = run[t - 1] + 1
    return run


@njit(cache=True, error_model="numpy")
def atc_series(close, x, lengths, weights, lam_g, delta, cutout, hull, cut_th, long_th,
               short_th, strategy, colbase, alertbase, nfam, fam0, out_off,
               o_sig, o_feq, o_avg, o_base, o_dir, o_al, o_as, o_long, o_short, detail,
               d_ma, d_state, d_eq):
    """Full ATC of one series (``close`` for R and crossovers, ``x`` for the MAs).

    Each MA runs one tight loop over the bars; each family then advances its nine members'
    states and equities together; a last loop forms Average_Signal and the events. Per-bar
    outputs go to the ``o_*`` arrays at index t − out_off (skipped when negative), so a
    batch keeps only its tail. ``lam_g`` is g by bar offset from the cutout; ``detail``
    also fills d_ma/d_state/d_eq (54, n), with every MA's exact §4.8 value on every bar
    (a batch takes WMA/LINREG from running sums away from the close). Families fam0 …
    fam0 + nfam − 1 are computed (all six, or one: its signal is then the base of §9) into
    rows 0 … nfam − 1 of o_sig/o_feq. Returns (last event sign, its bar or −1).
    """
    n = close.shape[0]
    decay = 1.0 - delta
    rg = np.empty(n)                       # R·g, the return every equity uses (§6 step 1)
    rg[0] = NAN
    for t in range(1, n):
        rg[t] = (close[t] - close[t - 1]) / close[t - 1] * lam_g[t - cutout] if t >= cutout else NAN
    mas = np.empty((9, n))
    tmp1 = np.empty((9, n))
    tmp2 = np.empty((9, n))
    sig_rows = np.empty((nfam, n))
    feq_rows = np.empty((nfam, n))
    top = 0.0
    for t in range(n):
        top = max(top, abs(x[t]))
    band = TIE_REL * top                   # see TIE_REL for why this band is safe
    run = constant_runs(x)
    for k in range(nfam):
        f = fam0 + k
        family_mas(f, lengths[f], hull, x, close, mas, tmp1, tmp2, detail, band, run)
        if detail:
            d_ma[f * 9:f * 9 + 9, :] = mas
        family_layers(f, close, mas, rg, cutout, decay, weights[f], sig_rows[k], feq_rows[k],
                      detail, d_state, d_eq)
    base_prev = NAN
    alert_prev = NAN
    cols_prev = NAN
    direction = NAN
    last_sign = 0
    last_bar = -1
    for t in range(n):
        avg = NAN
        if nfam == 6 and t >= cutout:
            sn = 0.0
            sd = 0.0
            for f in range(6):
                sg = sig_rows[f, t]
                # Cut: `v > 0.49` / `v < −0.49` are the script's (tolerant) comparisons.
                cv = 1.0 if pine_gt(sg, cut_th) else (-1.0 if pine_lt(sg, -cut_th) else 0.0)
                sn = sn + cv * feq_rows[f, t]
                sd = sd + feq_rows[f, t]
            avg = sn / sd
        if nfam == 6:
            cols = avg if colbase == 0 else sig_rows[colbase - 1, t]
            alertb = avg if alertbase == 0 else sig_rows[alertbase - 1, t]
        else:
            cols = sig_rows[0, t]
            alertb = cols
        base, up, down, ev_long, ev_short, d_prev, direction = event_step(
            cols, alertb, cols_prev, base_prev, alert_prev, direction, long_th, short_th, strategy)
        if ev_long or ev_short:
            last_sign = 1 if ev_long else -1
            last_bar = t
        cols_prev = cols
        base_prev = base
        alert_prev = alertb
        i = t - out_off
        if i >= 0:
            for f in range(nfam):
                o_sig[f, i] = sig_rows[f, t]
                o_feq[f, i] = feq_rows[f, t]
            o_avg[i] = avg
            o_base[i] = base
            o_dir[i] = direction
            o_al[i] = up and d_prev == -1.0
            o_as[i] = down and d_prev == 1.0
            o_long[i] = ev_long
            o_short[i] = ev_short
    return last_sign, last_bar


@njit(cache=True)
def growth_row(n, lam):
    """g by bar offset from the cutout: e^(λ·k) computed as pow(e, λ·k) (spec §3)."""
    g = np.empty(max(n, 1))
    for k in range(g.shape[0]):
        g[k] = math.e ** (lam * k)
    return g


@njit(cache=True, parallel=True)
def atc_batch(closes, starts, lengths, weights, lam, delta, cutout, hull, cut_th, long_th,
              short_th, strategy, colbase, alertbase, nfam, fam0, tail,
              o_sig, o_feq, o_avg, o_dir, o_long, o_short, o_last, o_since):
    """Full (nfam = 6) or one-family (nfam = 1, family fam0) ATC of every row, last
    ``tail`` bars kept."""
    n_sym, n_bars = closes.shape
    g = growth_row(n_bars, lam)
    empty2 = np.empty((0, 0))
    empty_i = np.empty((0, 0), np.int8)
    for i in prange(n_sym):
        s = starts[i]
        row = closes[i, s:]
        n = n_bars - s
        base = np.empty(tail)
        al = np.zeros(tail, np.bool_)
        ash = np.zeros(tail, np.bool_)
        off = n - tail                       # local bar written to tail index 0
        k0 = 0 if off >= 0 else -off         # tail slots before this row's first bar
        sign, bar = atc_series(row, row, lengths, weights, g, delta, cutout, hull, cut_th,
                               long_th, short_th, strategy, colbase, alertbase, nfam, fam0,
                               off if off >= 0 else 0,
                               o_sig[i, :, k0:], o_feq[i, :, k0:], o_avg[i, k0:], base[k0:],
                               o_dir[i, k0:], al[k0:], ash[k0:], o_long[i, k0:],
                               o_short[i, k0:], False, empty2, empty_i, empty2)
        o_last[i] = sign
        o_since[i] = n - 1 - bar if bar >= 0 else -1
