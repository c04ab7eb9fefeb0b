"""The numba drivers of the full ATC: one fused pass per symbol (``atc_series``) and the
batch over symbols in parallel (``atc_batch``), from the layers below (``primitives``,
``window_sums``, ``ma_families``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from core.jit.kernel_types import Bools, Floats, Int8s, Ints
from core.jit.ma_families import family_mas
from core.jit.primitives import (EQUITY_FLOOR, NAN, below_floor, crossover_step, equity_step,
                                 event_step, growth_row, pine_gt, pine_lt, round2)
from core.jit.window_sums import TIE_REL, constant_runs


# -- layers, events, drivers ------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def family_layers(f: int, close: Floats, mas: Floats, rg: Floats, cutout: int, decay: float,
                  weight: float, sig_row: Floats, feq_row: Floats, detail: bool, d_state: Int8s,
                  d_eq: Floats) -> None:
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
            # Unsigned bar indices: numba then drops its negative-index wraparound from
            # these loads (a signed t here is not known to be ≥ 0).
            tu = np.uint64(t)
            tp = np.uint64(t - 1)
            for m in range(9):
                p = st[m]
                ma = mas[m, tu]
                ma_prev = mas[m, tp]
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


@njit(cache=True, error_model="numpy")
def atc_series(close: Floats, x: Floats, lengths: Ints, weights: Floats, lam_g: Floats,
               delta: float, cutout: int, hull: bool, cut_th: float, long_th: float,
               short_th: float, strategy: bool, colbase: int, alertbase: int, nfam: int, fam0: int,
               out_off: int, o_sig: Floats, o_feq: Floats, o_avg: Floats, o_base: Floats,
               o_dir: Floats, o_al: Bools, o_as: Bools, o_long: Bools, o_short: Bools,
               detail: bool, d_ma: Floats, d_state: Int8s, d_eq: Floats) -> tuple[int, int]:
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
    avg = np.full(n, NAN)
    if nfam == 6:
        for t in range(cutout, n):
            sn = 0.0
            sd = 0.0
            for f in range(6):
                sg = sig_rows[f, t]
                # Cut: `v > 0.49` / `v < −0.49` are the script's (tolerant) comparisons.
                cv = 1.0 if pine_gt(sg, cut_th) else (-1.0 if pine_lt(sg, -cut_th) else 0.0)
                sn = sn + cv * feq_rows[f, t]
                sd = sd + feq_rows[f, t]
            avg[t] = sn / sd
        cols = avg if colbase == 0 else sig_rows[colbase - 1]
        alertb = avg if alertbase == 0 else sig_rows[alertbase - 1]
    else:
        cols = sig_rows[0]
        alertb = cols
    for t in range(max(out_off, 0), n):
        for f in range(nfam):
            o_sig[f, t - out_off] = sig_rows[f, t]
            o_feq[f, t - out_off] = feq_rows[f, t]
    last_sign, last_bar, _, _ = events_pass(avg, cols, alertb, long_th, short_th, strategy,
                                            out_off, o_avg, o_base, o_dir, o_al, o_as, o_long,
                                            o_short)
    return last_sign, last_bar


@njit(cache=True, error_model="numpy")
def events_pass(avg: Floats, cols: Floats, alertb: Floats, long_th: float, short_th: float,
                strategy: bool, out_off: int, o_avg: Floats, o_base: Floats, o_dir: Floats,
                o_al: Bools, o_as: Bools, o_long: Bools,
                o_short: Bools) -> tuple[int, int, float, float]:
    """The events of spec §9 bar by bar from the colour base ``cols`` and the alert base
    ``alertb`` (Average_Signal or a family's signal); per-bar outputs at index t − out_off
    as in ``atc_series``. Returns (last event sign, its bar or −1, and the direction and
    base after the last bar: a screening kernel's warm-up carries them on)."""
    base_prev = NAN
    alert_prev = NAN
    cols_prev = NAN
    direction = NAN
    last_sign = 0
    last_bar = -1
    for t in range(avg.shape[0]):
        base, up, down, ev_long, ev_short, d_prev, direction = event_step(
            cols[t], alertb[t], cols_prev, base_prev, alert_prev, direction, long_th, short_th,
            strategy)
        if ev_long or ev_short:
            last_sign = 1 if ev_long else -1
            last_bar = t
        cols_prev = cols[t]
        base_prev = base
        alert_prev = alertb[t]
        i = t - out_off
        if i >= 0:
            o_avg[i] = avg[t]
            o_base[i] = base
            o_dir[i] = direction
            o_al[i] = up and d_prev == -1.0
            o_as[i] = down and d_prev == 1.0
            o_long[i] = ev_long
            o_short[i] = ev_short
    return last_sign, last_bar, direction, base_prev


@njit(cache=True, error_model="numpy")
def row_events(avg: Floats, cols: Floats, alertb: Floats, long_th: float, short_th: float,
               strategy: bool, tail: int, i: int, o_avg: Floats, o_dir: Floats, o_long: Bools,
               o_short: Bools, o_last: Int8s, o_since: Ints) -> None:
    """``events_pass`` for row i of a batch from its first bar: its last ``tail`` bars
    right-aligned in the outputs (a shorter row leaves the slots before it as they are),
    the last event's sign and age in o_last/o_since."""
    n = avg.shape[0]
    off = n - tail
    k0 = 0 if off >= 0 else -off
    base = np.empty(tail)
    al = np.zeros(tail, np.bool_)
    ash = np.zeros(tail, np.bool_)
    sign, bar, _, _ = events_pass(avg, cols, alertb, long_th, short_th, strategy, max(off, 0),
                                  o_avg[i, k0:], base[k0:], o_dir[i, k0:], al[k0:], ash[k0:],
                                  o_long[i, k0:], o_short[i, k0:])
    o_last[i] = sign
    o_since[i] = n - 1 - bar if bar >= 0 else -1


@njit(cache=True, parallel=True)
def atc_batch(closes: Floats, starts: Ints, lengths: Ints, weights: Floats, lam: float,
              delta: float, cutout: int, hull: bool, cut_th: float, long_th: float,
              short_th: float, strategy: bool, colbase: int, alertbase: int, nfam: int, fam0: int,
              tail: int, o_sig: Floats, o_feq: Floats, o_avg: Floats, o_dir: Floats, o_long: Bools,
              o_short: Bools, o_last: Int8s, o_since: Ints) -> None:
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
