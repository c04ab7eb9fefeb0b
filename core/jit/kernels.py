"""numba kernels for the full ATC: one fused pass per symbol, O(1) state per moving average.

The arithmetic mirrors the numpy reference (core/atc) operation for operation, so discrete
outputs are identical and continuous ones agree to a few ULPs. Window sums (SMA, WMA, LSMA,
KAMA noise) run incrementally and are re-summed exactly every ``RESUM`` bars so that long
series do not drift from a direct window sum (spec §13.8).
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
def window_sum(x, t, n):
    s = 0.0
    for k in range(t - n + 1, t + 1):
        s += x[k]
    return s


@njit(cache=True, inline="always")
def window_wsum(x, t, n):
    """Σ j·x over the window, weight n on the newest bar."""
    w = 0.0
    for j in range(n):
        w += (j + 1) * x[t - n + 1 + j]
    return w


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
    lengths at once, re-summed exactly every RESUM bars; na before each first window."""
    n = src.shape[0]
    s = np.zeros(9)
    w = np.zeros(9)
    steady = start
    for m in range(9):
        length = lengths[m]
        for t in range(min(start, n)):
            plain[m, t] = NAN
            weighted[m, t] = NAN
        for t in range(start, min(start + length, n)):    # filling the first window
            s[m] += src[t]
            w[m] += (t - start + 1) * src[t]
            plain[m, t] = s[m] if t - start >= length - 1 else NAN
            weighted[m, t] = w[m] if t - start >= length - 1 else NAN
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
                s[m] = window_sum(src, t, lengths[m])
                w[m] = window_wsum(src, t, lengths[m])
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
    """Slide a full window to bar t (re-summed exactly every RESUM bars; a one-bar window
    is the bar itself)."""
    if length == 1:
        return src[t], src[t]
    if t % RESUM == 0:
        return window_sum(src, t, length), window_wsum(src, t, length)
    return s + src[t] - src[t - length], w + length * src[t] - s


@njit(cache=True)
def kama9(x, lengths, out):
    """The script's KAMA (spec §4.7) for nine lengths: from 0, slow constant until the
    efficiency ratio exists on bar n."""
    noise = np.zeros(9)
    prev = np.zeros(9)
    for t in range(x.shape[0]):
        xt = x[t]
        step = abs(xt - x[t - 1]) if t >= 1 else 0.0
        resum = t % RESUM == 0
        for m in range(9):
            length = lengths[m]
            if t >= 1:
                if t <= length:
                    noise[m] += step
                elif length == 1:
                    noise[m] = step                  # exact, like the reference's window sum
                elif resum:
                    acc = 0.0
                    for q in range(t - length + 1, t + 1):
                        acc += abs(x[q] - x[q - 1])
                    noise[m] = acc
                else:
                    noise[m] = noise[m] + step - abs(x[t - length] - x[t - length - 1])
            ratio = 0.0
            if t >= length and noise[m] != 0.0:
                ratio = abs(xt - x[t - length]) / noise[m]
            sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
            prev[m] = prev[m] + sc * sc * (xt - prev[m])
            out[m, t] = prev[m]


@njit(cache=True)
def family_mas(f, lengths, hull, x, mas, tmp1, tmp2):
    """The nine moving averages of family ``f`` (spec §4) into ``mas`` (9, n)."""
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
            hull_row(x, lengths[m], mas[m], tmp1, tmp2)
    else:
        window9(x, 0, lengths, tmp1, tmp2)
        for m in range(9):
            length = lengths[m]
            if f == HMA:                            # the script's "HMA" is ta.sma
                for t in range(n):
                    mas[m, t] = tmp1[m, t] / length
            elif f == WMA:
                wden = length * (length + 1) / 2.0
                for t in range(n):
                    mas[m, t] = tmp2[m, t] / wden
            elif length == 1:                       # linreg of one point is the point
                for t in range(n):
                    mas[m, t] = x[t]
            elif length == 2:
                # A line through two points ends on the newest one: the value is the close
                # up to rounding, so the rounding decides crossovers. Repeat the reference's
                # arithmetic exactly (Σy = x0 + x1, Σp·y = x1, Σp = Σp² = 1).
                mas[m, 0] = NAN
                for t in range(1, n):
                    sum_y = x[t - 1] + x[t]
                    slope = 2.0 * x[t] - sum_y
                    mas[m, t] = (sum_y - slope) / 2.0 + slope
            else:                                   # LSMA: line through the window, at its end
                sp = length * (length - 1) / 2.0
                spp = (length - 1) * length * (2 * length - 1) / 6.0
                lden = length * spp - sp * sp
                for t in range(n):
                    slope = (length * (tmp2[m, t] - tmp1[m, t]) - sp * tmp1[m, t]) / lden
                    mas[m, t] = (tmp1[m, t] - slope * sp) / length + slope * (length - 1)


@njit(cache=True)
def hull_row(x, length, out, tmp1, tmp2):
    """A real Hull MA (option hma_kind="hull"): WMA(2·WMA(n/2) − WMA(n), ⌊√n⌋)."""
    half = max(1, length // 2)
    root = max(1, int(math.floor(math.sqrt(length))))
    lens = np.array([half, length, root, 1, 1, 1, 1, 1, 1])
    window9(x, 0, lens, tmp1, tmp2)
    for t in range(x.shape[0]):
        out[t] = 2.0 * (tmp2[0, t] / (half * (half + 1) / 2.0)) - tmp2[1, t] / (length * (length + 1) / 2.0)
    window9(out, length - 1, lens, tmp1, tmp2)
    for t in range(x.shape[0]):
        out[t] = tmp2[2, t] / (root * (root + 1) / 2.0)


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
        family_mas(f, lengths[f], hull, x, mas, tmp1, tmp2)
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
