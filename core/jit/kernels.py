"""numba kernels for the full ATC: one fused pass per symbol, O(1) state per moving average.

The arithmetic mirrors the numpy reference (core/atc) operation for operation, so discrete
outputs are identical and continuous ones agree to a few ULPs. Window sums (SMA, WMA, LSMA,
Hull, KAMA noise) run incrementally and are computed directly, in the reference's order
(numpy's pairwise summation for ``.sum()``, left to right for ``win @ weights``), on each
first window and every ``RESUM`` bars, so that long series do not drift from a direct window
sum (spec §13.8). A window MA whose running value lies within ``TIE_BAND`` of the close is
recomputed from its window in that order before the crossover test: on cent-rounded prices
an MA often equals the close exactly, and only the reference's own rounding decides the tie.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

RESUM = 1024
EQUITY_FLOOR = 0.25
ROUND_TIE = 0.5 - 1e-10
KAMA_FAST = 0.666
KAMA_SLOW = 0.064
NAN = np.nan
# A window MA computed from running sums within this relative distance of the close is
# recomputed in the reference's order before the crossover test (the running sums' drift is
# ~1e-13, far inside the band, so every tie it could decide differently is recomputed).
TIE_BAND = 1e-9
# Windows of at most this many values are summed directly on every bar.
DIRECT_MAX = 8
# numpy's pairwise summation sums blocks of at most this many values with 8 accumulators.
PAIRWISE_BLOCK = 128

# Window MA kinds (exact_sums, exact_value, mean_mas9).
K_SMA, K_WMA, K_LSMA = 0, 1, 2

# Family indices (order of core.config.FAMILIES).
EMA, HMA, WMA, DEMA, LSMA, KAMA = 0, 1, 2, 3, 4, 5


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
    """One bar of eq() (spec §6); returns the new (a, e). ``p`` is the signal one bar ago."""
    if p > 0:
        a = r
    elif p < 0:
        a = -r
    e = start if t == cutout else e * decay * (1.0 + a)
    if e < EQUITY_FLOOR:
        e = EQUITY_FLOOR
    return a, e


@njit(cache=True, inline="always")
def window_term(x, k, steps):
    """Term k of a window: x[k], or KAMA's noise step |x[k] − x[k−1]| when ``steps``."""
    return abs(x[k] - x[k - 1]) if steps else x[k]


@njit(cache=True)
def pairwise_block(x, lo, n, steps):
    """numpy's pairwise summation of at most 128 terms ``lo … lo+n−1`` (see pairwise_sum)."""
    if n < 8:
        r = 0.0
        for i in range(n):
            r = r + window_term(x, lo + i, steps)
        return r
    r0 = window_term(x, lo, steps)
    r1 = window_term(x, lo + 1, steps)
    r2 = window_term(x, lo + 2, steps)
    r3 = window_term(x, lo + 3, steps)
    r4 = window_term(x, lo + 4, steps)
    r5 = window_term(x, lo + 5, steps)
    r6 = window_term(x, lo + 6, steps)
    r7 = window_term(x, lo + 7, steps)
    lim = n - n % 8
    for i in range(8, lim, 8):
        r0 = r0 + window_term(x, lo + i, steps)
        r1 = r1 + window_term(x, lo + i + 1, steps)
        r2 = r2 + window_term(x, lo + i + 2, steps)
        r3 = r3 + window_term(x, lo + i + 3, steps)
        r4 = r4 + window_term(x, lo + i + 4, steps)
        r5 = r5 + window_term(x, lo + i + 5, steps)
        r6 = r6 + window_term(x, lo + i + 6, steps)
        r7 = r7 + window_term(x, lo + i + 7, steps)
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(lim, n):
        res = res + window_term(x, lo + i, steps)
    return res


@njit(cache=True)
def pairwise_sum(x, lo, n, steps):
    """Sum of the terms ``lo … lo+n−1`` (``window_term``) in numpy's pairwise order, which
    is what the reference's ``win.sum(axis=1)`` computes: sequential from 0.0 below 8
    terms; up to 128 terms eight interleaved accumulators combined as
    ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) and the remainder added in order; above 128 terms
    the halves (the first rounded down to a multiple of 8) summed the same way and added.

    The recursion is unrolled with a stack of pending segments: a frame is a segment whose
    left half is summed next, then its right half, then the two are added.
    """
    if n <= PAIRWISE_BLOCK:
        return pairwise_block(x, lo, n, steps)
    seg_lo = np.empty(64, np.int64)       # depth ≤ log2(n / 128) + 1
    seg_n = np.empty(64, np.int64)
    left = np.empty(64)                   # the frame's left-half sum, once known
    stage = np.zeros(64, np.int64)        # 0: left half next, 1: right half next
    depth = 0
    seg_lo[0] = lo
    seg_n[0] = n
    stage[0] = 0
    while True:
        # Descend to the leftmost pending leaf.
        while seg_n[depth] > PAIRWISE_BLOCK:
            half = seg_n[depth] // 2
            half -= half % 8
            child_lo = seg_lo[depth] if stage[depth] == 0 else seg_lo[depth] + half
            child_n = half if stage[depth] == 0 else seg_n[depth] - half
            depth += 1
            seg_lo[depth] = child_lo
            seg_n[depth] = child_n
            stage[depth] = 0
        value = pairwise_block(x, seg_lo[depth], seg_n[depth], steps)
        # Hand the value up: a left half waits for its sibling, a right half completes
        # its parent (and possibly the parent's ancestors).
        while True:
            if depth == 0:
                return value
            depth -= 1
            if stage[depth] == 0:
                left[depth] = value
                stage[depth] = 1
                break
            value = left[depth] + value


@njit(cache=True, inline="always")
def seq_dot(x, lo, n, w0):
    """Σ x[lo+i]·(i + w0), left to right from 0.0: the reference's ``win @ weights`` (numpy's
    matmul of a strided window, not handed to BLAS, runs exactly this loop)."""
    r = 0.0
    for i in range(n):
        r = r + x[lo + i] * (i + w0)
    return r


@njit(cache=True, inline="always")
def ema_update(x, t, n, alpha, seed, y):
    """ta.ema on bar t for the bar-by-bar screening kernel: SMA seed at n−1, then
    y + α·(x − y). Returns the new (seed, y); y is na during the warm-up."""
    if t < n - 1:
        return seed + x[t], NAN
    if t == n - 1:
        seed += x[t]
        return seed, seed / n
    return seed, y + alpha * (x[t] - y)


@njit(cache=True, inline="always")
def crossover_step(state, c, c_prev, m, m_prev):
    """Persistent crossover state of spec §5 (na comparisons are false)."""
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


@njit(cache=True)
def ema9(src, starts, lengths, out):
    """Nine ta.ema rows at once: member m is the EMA of src[r, starts[m]:] with length
    lengths[m] (na before starts[m] + lengths[m] − 1), where r = m when src has nine rows
    (DEMA's second stage) and r = 0 when all members share one series.

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
            seed = 0.0
            for t in range(starts[m], first + 1):
                seed += src[r, t]
            y[m] = seed / length
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


@njit(cache=True)
def window9(src, start, lengths, plain, weighted):
    """Plain and weighted (length on the newest) window sums of src[start:] for nine
    lengths at once, na before each first window. The sums run incrementally and are
    computed directly (pairwise S, sequential weighted sum) on the first full window and
    every RESUM bars."""
    n = src.shape[0]
    s = np.zeros(9)
    w = np.zeros(9)
    steady = start
    for m in range(9):
        length = lengths[m]
        for t in range(min(start + length - 1, n)):
            plain[m, t] = NAN
            weighted[m, t] = NAN
        t = start + length - 1
        if t < n:
            s[m] = pairwise_sum(src, start, length, False)
            w[m] = seq_dot(src, start, length, 1)
            plain[m, t] = s[m]
            weighted[m, t] = w[m]
        steady = max(steady, start + length)
    for m in range(9):                                    # catch up to the longest window
        length = lengths[m]
        for t in range(start + length, min(steady, n)):
            s[m], w[m] = window_step(src, t, length, s[m], w[m])
            plain[m, t] = s[m]
            weighted[m, t] = w[m]
    for t in range(steady, n):
        if t % RESUM == 0:
            for m in range(9):
                length = lengths[m]
                s[m] = pairwise_sum(src, t - length + 1, length, False)
                w[m] = seq_dot(src, t - length + 1, length, 1)
                plain[m, t] = s[m]
                weighted[m, t] = w[m]
            continue
        xt = src[t]
        for m in range(9):
            length = lengths[m]
            if length == 1:
                # A one-bar window is the bar itself, exactly: a running update would leave
                # rounding noise, and close vs an MA equal to the close must never cross.
                s[m] = xt
                w[m] = xt
            else:
                w[m] = w[m] + length * xt - s[m]      # uses the previous window's plain sum
                s[m] = s[m] + xt - src[t - length]
            plain[m, t] = s[m]
            weighted[m, t] = w[m]


@njit(cache=True, inline="always")
def window_step(src, t, length, s, w):
    """Slide a full window to bar t (computed directly every RESUM bars; a one-bar window
    is the bar itself)."""
    if length == 1:
        return src[t], src[t]
    if t % RESUM == 0:
        lo = t - length + 1
        return pairwise_sum(src, lo, length, False), seq_dot(src, lo, length, 1)
    return s + src[t] - src[t - length], w + length * src[t] - s


@njit(cache=True)
def exact_sums(kind, x, t, n):
    """A window's sums computed directly as the reference does: S by numpy's pairwise
    summation, the weighted sum left to right (WMA weights 1 … n, LSMA positions 0 … n−1;
    an SMA has none)."""
    lo = t - n + 1
    s = pairwise_sum(x, lo, n, False)
    if kind == K_WMA:
        return s, seq_dot(x, lo, n, 1)
    if kind == K_LSMA:
        return s, seq_dot(x, lo, n, 0)
    return s, 0.0


@njit(cache=True, inline="always")
def near_tie(v, c):
    """Whether an MA computed from running sums is close enough to its crossover partner
    that the sums' rounding (≪ TIE_BAND) could decide close > MA or close < MA."""
    return abs(v - c) <= TIE_BAND * abs(c)


@njit(cache=True, inline="always")
def exact_value(kind, n, s, w, sp, lden):
    """The MA from its window sums in the reference's order (SMA S/n, WMA W/(n(n+1)/2),
    LSMA the least-squares line at the newest point from S = Σy and P = Σp·y)."""
    if kind == K_SMA:
        return s / n
    if kind == K_WMA:
        return w / (n * (n + 1) / 2.0)
    slope = (n * w - sp * s) / lden
    return (s - slope * sp) / n + slope * (n - 1)


@njit(cache=True, inline="always")
def mean_mas9(kind, x, close, lengths, out):
    """ta.sma (kind K_SMA) or ta.wma (K_WMA) of x for nine lengths at once into ``out``, na
    before each first window; ``kind`` is a constant of the caller (sma9, wma9), so each
    compiles without branches on it.

    The window sums run incrementally (a WMA's weighted sum W_t = W_{t−1} + n·x_t − S_{t−1})
    and each value is the sum times the divisor's reciprocal: within a few ULPs of the
    reference's, which is all a running sum is anyway. The sums are computed directly
    (exact_sums) and the value by the reference's formula (exact_value) on each first
    window, every RESUM bars, every bar for windows of at most DIRECT_MAX values, and on
    every bar where the value lies within TIE_BAND of the close it is compared with:
    cent-rounded prices put an average exactly on the close (a flat stretch), and only the
    reference's own rounding decides such a tie. Recomputed sums replace the running ones.
    """
    n = x.shape[0]
    s = np.zeros(9)
    w = np.zeros(9)
    inv = np.empty(9)
    steady = 0
    short = False
    for m in range(9):
        length = lengths[m]
        inv[m] = 1.0 / length if kind == K_SMA else 1.0 / (length * (length + 1) / 2.0)
        steady = max(steady, length)
        short = short or length <= DIRECT_MAX
    for m in range(9):              # up to the first bar on which every window is full
        length = lengths[m]
        for t in range(min(length - 1, n)):
            out[m, t] = NAN
        for t in range(length - 1, min(steady, n)):
            s[m], w[m] = exact_sums(kind, x, t, length)
            out[m, t] = exact_value(kind, length, s[m], w[m], 0.0, 0.0)
    for t in range(steady, n):
        c = close[t]
        band = TIE_BAND * abs(c)
        resum = t % RESUM == 0
        check = resum or short
        if not resum:
            # Every member's running update; the tie test is folded into one flag so that
            # this loop has no calls and its sums stay independent chains.
            xt = x[t]
            for m in range(9):
                length = lengths[m]
                sm = s[m]
                if kind == K_WMA:
                    w[m] = w[m] + length * xt - sm      # the previous window's plain sum
                    v = w[m] * inv[m]
                    s[m] = sm + xt - x[t - length]
                else:
                    sm = sm + xt - x[t - length]
                    s[m] = sm
                    v = sm * inv[m]
                out[m, t] = v
                check = check | (abs(v - c) <= band)
        if check:                                       # rare: recompute where needed
            for m in range(9):
                length = lengths[m]
                if resum or length <= DIRECT_MAX or abs(out[m, t] - c) <= band:
                    s[m], w[m] = exact_sums(kind, x, t, length)
                    out[m, t] = exact_value(kind, length, s[m], w[m], 0.0, 0.0)


@njit(cache=True)
def sma9(x, close, lengths, out):
    """ta.sma of x for nine lengths (mean_mas9)."""
    mean_mas9(K_SMA, x, close, lengths, out)


@njit(cache=True)
def wma9(x, close, lengths, out):
    """ta.wma of x for nine lengths (mean_mas9)."""
    mean_mas9(K_WMA, x, close, lengths, out)


@njit(cache=True)
def lsma9(x, close, lengths, out, ssum, wsum):
    """ta.linreg(x, n, 0) for nine lengths into ``out`` (na before each first window);
    ``ssum``/``wsum`` (9, n) receive each window's S = Σy and P = Σp·y.

    S and P run incrementally (P_t = P_{t−1} + n·x_t − S_t) and are computed directly
    (exact_sums) on each first window, every RESUM bars and every bar for windows of at
    most DIRECT_MAX values. The values are then formed from the sums by the reference's
    formula, one member at a time in a loop that also flags any value within TIE_BAND of
    the close: a line through cent-rounded prices can end exactly on the close, and such a
    value is recomputed from directly computed sums, so the reference's rounding decides
    the tie. (The running sums carry on; their drift is bounded by the RESUM re-sums.)
    """
    n = x.shape[0]
    s = np.zeros(9)
    w = np.zeros(9)
    steady = 0
    short = False
    for m in range(9):
        steady = max(steady, lengths[m])
        short = short or lengths[m] <= DIRECT_MAX
    for m in range(9):              # up to the first bar on which every window is full
        length = lengths[m]
        for t in range(min(length - 1, n)):
            ssum[m, t] = NAN
            wsum[m, t] = NAN
        for t in range(length - 1, min(steady, n)):
            s[m], w[m] = exact_sums(K_LSMA, x, t, length)
            ssum[m, t] = s[m]
            wsum[m, t] = w[m]
    for t in range(steady, n):
        resum = t % RESUM == 0
        if not resum:
            xt = x[t]
            for m in range(9):
                length = lengths[m]
                sm = s[m] + xt - x[t - length]
                wm = w[m] + length * xt - sm
                s[m] = sm
                w[m] = wm
                ssum[m, t] = sm
                wsum[m, t] = wm
        if resum or short:
            for m in range(9):
                length = lengths[m]
                if resum or length <= DIRECT_MAX:
                    s[m], w[m] = exact_sums(K_LSMA, x, t, length)
                    ssum[m, t] = s[m]
                    wsum[m, t] = w[m]
    for m in range(9):
        length = lengths[m]
        if length == 1:                         # linreg of one point is the point
            for t in range(n):
                out[m, t] = x[t]
            continue
        sp = length * (length - 1) / 2.0
        lden = length * ((length - 1) * length * (2 * length - 1) / 6.0) - sp * sp
        tie = False
        for t in range(n):
            slope = (length * wsum[m, t] - sp * ssum[m, t]) / lden
            v = (ssum[m, t] - slope * sp) / length + slope * (length - 1)
            out[m, t] = v
            tie = tie | (abs(v - close[t]) <= TIE_BAND * abs(close[t]))
        if tie:                                 # rare: recompute the values at the close
            for t in range(steady, n):
                if near_tie(out[m, t], close[t]):
                    sy, spy = exact_sums(K_LSMA, x, t, length)
                    out[m, t] = exact_value(K_LSMA, length, sy, spy, sp, lden)


@njit(cache=True)
def kama9(x, lengths, out):
    """The script's KAMA (spec §4.7) for nine lengths: from 0, slow constant until the
    efficiency ratio exists on bar n. The noise window sum runs incrementally and is
    computed directly (numpy's pairwise order, as the reference's window sum) on its first
    bar (t = length) and every RESUM bars."""
    noise = np.zeros(9)
    prev = np.zeros(9)
    first = np.zeros(9)                     # each noise sum on its first bar
    for m in range(9):
        if lengths[m] < x.shape[0]:
            first[m] = pairwise_sum(x, 1, lengths[m], True)
    for t in range(x.shape[0]):
        xt = x[t]
        step = abs(xt - x[t - 1]) if t >= 1 else 0.0
        resum = t % RESUM == 0
        for m in range(9):
            length = lengths[m]
            if t >= 1:
                if t < length:
                    pass                                # not used before bar `length`
                elif t == length:
                    noise[m] = first[m]
                elif length == 1:
                    noise[m] = step                     # exact, like the reference's sum
                elif resum:
                    noise[m] = pairwise_sum(x, t - length + 1, length, True)
                else:
                    noise[m] = noise[m] + step - abs(x[t - length] - x[t - length - 1])
            ratio = 0.0
            if t >= length and noise[m] != 0.0:
                ratio = abs(xt - x[t - length]) / noise[m]
            sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
            prev[m] = prev[m] + sc * sc * (xt - prev[m])
            out[m, t] = prev[m]


@njit(cache=True)
def family_mas(f, lengths, hull, x, close, mas, tmp1, tmp2):
    """The nine moving averages of family ``f`` (spec §4) of x into ``mas`` (9, n); close
    is their crossover partner (for the tie recomputation of window MAs)."""
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
        kama9(x, lengths, mas)
    elif f == HMA and hull:
        for m in range(9):
            hull_row(x, close, lengths[m], mas[m], tmp1, tmp2)
    elif f == HMA:                                  # the script's "HMA" is ta.sma
        sma9(x, close, lengths, mas)
    elif f == WMA:
        wma9(x, close, lengths, mas)
    else:
        lsma9(x, close, lengths, mas, tmp1, tmp2)


@njit(cache=True)
def hull_exact(x, t, length, half, root):
    """The Hull MA on bar t computed directly in the reference's order:
    WMA(2·WMA(x, half) − WMA(x, n), root), every weighted sum left to right."""
    dh = half * (half + 1) / 2.0
    dn = length * (length + 1) / 2.0
    acc = 0.0
    for j in range(root):
        k = t - root + 1 + j
        wh = seq_dot(x, k - half + 1, half, 1) / dh
        raw = 2.0 * wh - seq_dot(x, k - length + 1, length, 1) / dn
        acc = acc + raw * (j + 1)
    return acc / (root * (root + 1) / 2.0)


@njit(cache=True)
def hull_row(x, close, length, out, tmp1, tmp2):
    """A real Hull MA (option hma_kind="hull"): WMA(2·WMA(n/2) − WMA(n), ⌊√n⌋), from
    running sums; a value within TIE_BAND of the close is computed directly."""
    half = max(1, length // 2)
    root = max(1, int(math.floor(math.sqrt(length))))
    lens = np.array([half, length, root, 1, 1, 1, 1, 1, 1])
    window9(x, 0, lens, tmp1, tmp2)
    for t in range(x.shape[0]):
        out[t] = 2.0 * (tmp2[0, t] / (half * (half + 1) / 2.0)) - tmp2[1, t] / (length * (length + 1) / 2.0)
    window9(out, length - 1, lens, tmp1, tmp2)
    for t in range(x.shape[0]):
        out[t] = tmp2[2, t] / (root * (root + 1) / 2.0)
        if near_tie(out[t], close[t]):
            out[t] = hull_exact(x, t, length, half, root)


@njit(cache=True)
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
            c_prev = close[t - 1]
            for m in range(9):
                p = st[m]
                ma = mas[m, t]
                ma_prev = mas[m, t - 1]
                s = 1.0 if (c > ma) & (c_prev <= ma_prev) else p
                s = -1.0 if (c < ma) & (c_prev >= ma_prev) else s
                a = r if p > 0 else (-r if p < 0 else eq_a[m])
                e = eq_e[m] * decay * (1.0 + a)
                e = EQUITY_FLOOR if e < EQUITY_FLOOR else e
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
def atc_series(close, x, lengths, weights, lam_g, delta, cutout, hull, cut_th, long_th,
               short_th, strategy, colbase, alertbase, nfam, out_off,
               o_sig, o_feq, o_avg, o_base, o_dir, o_al, o_as, o_long, o_short, detail,
               d_ma, d_state, d_eq):
    """Full ATC of one series (``close`` for R and crossovers, ``x`` for the MAs).

    Each MA runs one tight loop over the bars; each family then advances its nine members'
    states and equities together; a last loop forms Average_Signal and the events. Per-bar
    outputs go to the ``o_*`` arrays at index t − out_off (skipped when negative), so a
    batch keeps only its tail. ``lam_g`` is g by bar offset from the cutout; ``detail``
    also fills d_ma/d_state/d_eq (54, n). Returns (last event sign, its bar or −1).
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
    for f in range(nfam):
        family_mas(f, lengths[f], hull, x, close, mas, tmp1, tmp2)
        if detail:
            d_ma[f * 9:f * 9 + 9, :] = mas
        family_layers(f, close, mas, rg, cutout, decay, weights[f], sig_rows[f], feq_rows[f],
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
                cv = 1.0 if sg > cut_th else (-1.0 if sg < -cut_th else 0.0)
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
              short_th, strategy, colbase, alertbase, nfam, tail,
              o_sig, o_feq, o_avg, o_dir, o_long, o_short, o_last, o_since):
    """Full (nfam = 6) or EMA-only (nfam = 1) ATC of every row, last ``tail`` bars kept."""
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
                               long_th, short_th, strategy, colbase, alertbase, nfam,
                               off if off >= 0 else 0,
                               o_sig[i, :, k0:], o_feq[i, :, k0:], o_avg[i, k0:], base[k0:],
                               o_dir[i, k0:], al[k0:], ash[k0:], o_long[i, k0:],
                               o_short[i, k0:], False, empty2, empty_i, empty2)
        o_last[i] = sign
        o_since[i] = n - 1 - bar if bar >= 0 else -1
