"""The parts of a generated one-family screening kernel (``core.jit.screen_source``) that
are not specialised: each symbol's warm-up, and the rare steps of the vectorised bar loop
(a math.sum fire, a WMA/LINREG value taken exactly). Compiled once here, they keep the
generated code small.

Each symbol's first bars (at least until every member's moving average runs in its steady
form and the cutout has passed; a symbol of a block whose last symbol starts later runs
alone until that one has, too) are computed here, one symbol at a time, with the generic
kernels' helpers: the family's nine MAs over that prefix, then the crossover states (§5), member
equities (§6), Layer-1 signal (§7), family equity (§8) and events (§9) bar by bar. What
the generated steady step carries on (each member's MA machine, states and equities, the
signal, equity and event state) is left in the block's state arrays at the symbol's lane.

The MAs are causal, so their values on a prefix are the whole row's values on those bars,
bit for bit (WMA/LINREG take the exact §4.8 value on every bar here, which decides every
crossover as the batch kernels' band logic does). Usually only the few bars of the warm-up
run here; the generated code advances the rest.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from core.jit.drivers import events_pass, row_events
from core.jit.kernel_types import Bools, Floats, Int8s, Ints
from core.jit.ma_families import KAMA_FAST, KAMA_SLOW
from core.jit.primitives import EPS, crossover_step, equity_step, layer_bar, pine_gt, pine_lt
from core.jit.window_sums import (exact_from_sums, exact_sums, fires, kahan_add, msum_steady,
                                  rebaseline)

NAN = np.nan


@njit(cache=True)
def block_split(n: int, most: int, threads: int) -> tuple[int, int]:
    """(size, count) of the blocks n symbols go in: at most ``most`` each, and a multiple
    of ``threads`` blocks of equal size where there are enough symbols, so that the
    threads finish together (518 symbols in 128s would leave one thread a third block)."""
    count = (n + most - 1) // most
    count = min(n, (count + threads - 1) // threads * threads)
    size = (n + count - 1) // count
    return size, (n + size - 1) // size


@njit(cache=True)
def block_closes(closes: Floats, rows: Ints, lo: int) -> Floats:
    """A block's closes bar-major from bar ``lo`` (NaN before a symbol's own first bar):
    the steady loops read one bar of every lane at a time."""
    n_bars = closes.shape[1]
    xb = np.empty((n_bars - lo, rows.shape[0]))
    for k in range(rows.shape[0]):
        for t in range(n_bars - lo):
            xb[t, k] = closes[rows[k], lo + t]
    return xb


@njit(cache=True, error_model="numpy")
def msum_prefix(v: Floats, t0: int, n: int, te: int, sums: Floats, ring: Floats, s0: int,
                lane: int) -> tuple[float, float]:
    """``math.sum(v, n)`` (spec §4.8) on bars t0 … te−1 into ``sums`` (na before t0+n−1),
    as ``window_sums.msum9`` runs each machine: a warm-up that evicts nothing, then steady steps
    with the fire test's re-baseline. The realised addend of bar t goes to ring slot
    (s0 + t) % n of ``lane`` (s0: the symbol's first bar in the batch, so the steady step
    finds by global bar the entry it evicts). Returns the machine's (sum, compensation)."""
    s = 0.0
    c = 0.0
    for t in range(min(t0 + n - 1, te)):
        sums[t] = NAN
    for t in range(t0, te):
        x = v[t]
        slot = (s0 + t) % n
        if t < t0 + n:
            if fires(x, c):
                s = rebaseline(v, t, t - t0 + 1)
                c = 0.0
                ring[slot, lane] = x
            else:
                s, c, ring[slot, lane] = kahan_add(s, c, -c, x)
        else:
            s, c, y2, f = msum_steady(x, s, c, ring[slot, lane])
            if f:
                s = rebaseline(v, t, n)
                c = 0.0
                y2 = x
            ring[slot, lane] = y2
        if t >= t0 + n - 1:
            sums[t] = s
    return s, c


@njit(cache=True, error_model="numpy")
def run_length(x: Floats, t: int) -> int:
    """How many equal values end at bar t (``window_sums.constant_runs`` on one bar)."""
    run = 1
    while t - run >= 0 and x[t - run] == x[t - run + 1]:
        run += 1
    return run


@njit(cache=True, error_model="numpy")
def warm_family(x: Floats, pm: Floats, te: int, g: Floats, cutout: int, decay: float,
                weight: float, lane: int, ST: Floats, A: Floats, E: Floats, MP: Floats,
                SIG: Floats, FA: Floats, FE: Floats, sig_w: Floats, feq_w: Floats) -> None:
    """Layers 1 and 2 of one symbol on its local bars 0 … te−1, from its family's nine MAs
    ``pm`` (9, ≥ te); the generic kernels' arithmetic (family_layers) bar by bar. The
    signal and family equity of each bar go to sig_w/feq_w (na before the cutout); the
    state after bar te−1 goes to the arrays at ``lane``."""
    st = np.zeros(9)
    a = np.zeros(9)
    e = np.full(9, NAN)
    mp = np.full(9, NAN)
    sig = NAN
    f_a = 0.0
    f_e = NAN
    for t in range(te):
        c = x[t]
        c_prev = x[t - 1] if t > 0 else NAN
        active = t >= cutout
        r = (c - c_prev) / c_prev * g[t - cutout] if (active and t > 0) else NAN
        num = 0.0
        den = 0.0
        for m in range(9):
            p = st[m] if t > 0 else NAN
            st[m] = crossover_step(st[m], c, c_prev, pm[m, t], mp[m])
            mp[m] = pm[m, t]
            if active:
                a[m], e[m] = equity_step(t, cutout, r, p, a[m], e[m], 1.0, decay)
                num = num + st[m] * e[m]
                den = den + e[m]
        sig, f_a, f_e = layer_bar(t, cutout, active, r, num, den, sig, f_a, f_e, weight, decay)
        sig_w[t] = sig
        feq_w[t] = f_e if active else NAN
    for m in range(9):
        ST[m, lane] = st[m]
        A[m, lane] = a[m]
        E[m, lane] = e[m]
        MP[m, lane] = mp[m]
    SIG[lane] = sig
    FA[lane] = f_a
    FE[lane] = f_e


@njit(cache=True, error_model="numpy")
def warm_events(sig_w: Floats, feq_w: Floats, te: int, n: int, long_th: float, short_th: float,
                strategy: bool, tail: int, o_sig: Floats, o_feq: Floats, o_dir: Floats,
                o_long: Bools, o_short: Bools, lane: int, DIR: Floats, BASE_PREV: Floats,
                LAST_SIGN: Floats, LAST_BAR: Floats) -> None:
    """The events of one symbol screened on one family (its signal is the base of §9) on
    local bars 0 … te−1 of its n, from ``warm_family``'s rows (``drivers.events_pass``);
    outputs of tail bars go to o_* (this symbol's rows), the event state after bar te−1 to
    the arrays at ``lane``."""
    off = n - tail
    base = np.empty(tail)
    al = np.zeros(tail, np.bool_)
    ash = np.zeros(tail, np.bool_)
    sig = sig_w[:te]
    last_sign, last_bar, direction, base_prev = events_pass(
        sig, sig, sig, long_th, short_th, strategy, off, o_sig, base, o_dir, al, ash, o_long,
        o_short)
    for t in range(max(off, 0), te):
        o_feq[t - off] = feq_w[t]
    DIR[lane] = direction
    BASE_PREV[lane] = base_prev
    LAST_SIGN[lane] = last_sign
    LAST_BAR[lane] = last_bar


# -- the full ATC: Average_Signal's sums and the events ---------------------------------------
@njit(cache=True, error_model="numpy")
def warm_average(sig_w: Floats, feq_w: Floats, te: int, n: int, cut_th: float, tail: int,
                 o_sig: Floats, o_feq: Floats, sn: Floats, sd: Floats) -> None:
    """One family's share of Average_Signal's sums (``sn``, ``sd``: the symbol's column
    from its first bar) on local bars 0 … te−1, from ``warm_family``'s rows, as
    ``drivers.atc_series`` adds the families (Cut is the script's tolerant comparison);
    the family's outputs of tail bars go to o_sig/o_feq."""
    off = n - tail
    for t in range(te):
        sg = sig_w[t]
        cv = 1.0 if pine_gt(sg, cut_th) else (-1.0 if pine_lt(sg, -cut_th) else 0.0)
        sn[t] = sn[t] + cv * feq_w[t]
        sd[t] = sd[t] + feq_w[t]
        if t >= off:
            o_sig[t - off] = sg
            o_feq[t - off] = feq_w[t]


@njit(cache=True, error_model="numpy")
def average_events(SN: Floats, SD: Floats, COLS: Floats, ALERTS: Floats, lo: int, rows: Ints,
                   starts: Ints, cutout: int, colbase: int, alertbase: int, long_th: float,
                   short_th: float, strategy: bool, tail: int, o_avg: Floats, o_dir: Floats,
                   o_long: Bools, o_short: Bools, o_last: Int8s, o_since: Ints) -> None:
    """Average_Signal (from the six families' sums, na before the cutout) and the events of
    §9 of every symbol of a block (lane k is symbol rows[k]); COLS/ALERTS hold the family
    signal that is the colour / alert base when colbase / alertbase name one."""
    n_bars = lo + SN.shape[0]
    for k in range(rows.shape[0]):
        i = rows[k]
        s = starts[i] - lo
        n = n_bars - starts[i]
        avg = np.full(n, NAN)
        for t in range(cutout, n):
            avg[t] = SN[s + t, k] / SD[s + t, k]
        cols = avg if colbase == 0 else COLS[s:, k].copy()
        alertb = avg if alertbase == 0 else ALERTS[s:, k].copy()
        row_events(avg, cols, alertb, long_th, short_th, strategy, tail, i, o_avg, o_dir,
                   o_long, o_short, o_last, o_since)


@njit(cache=True, error_model="numpy")
def kama_prefix(x: Floats, n: int, te: int, noise: Floats, out: Floats) -> None:
    """The script's KAMA (spec §4.7) of length n on bars 0 … te−1 from its noise
    (math.sum of |x − x[1]|), as ``ma_families.kama9`` computes it: from 0, the slow constant
    until the efficiency ratio exists on bar n; `noise != 0` is Pine's tolerant test."""
    prev = 0.0
    for t in range(te):
        ratio = 0.0
        if t >= n:
            nz = noise[t]
            if abs(nz - 0.0) > EPS:
                ratio = abs(x[t] - x[t - n]) / nz
        sc = ratio * (KAMA_FAST - KAMA_SLOW) + KAMA_SLOW
        prev = prev + sc * sc * (x[t] - prev)
        out[t] = prev


# -- the rare steps of the steady bar loop ----------------------------------------------------
@njit(cache=True, error_model="numpy")
def refire(src: Floats, tt: int, n: int, slot: int, m: int, fire: Bools, S: Floats, C: Floats,
           RING: Floats) -> None:
    """The lanes whose math.sum machine (member m, length n) fired on block bar tt: the
    sum re-baselined from the raw window of ``src``, compensation 0, the input stored."""
    for k in range(fire.shape[0]):
        if fire[k]:
            S[m, k] = rebaseline(src[:, k], tt, n)
            C[m, k] = 0.0
            RING[slot, k] = src[tt, k]


@njit(cache=True, error_model="numpy")
def window_exact(kind: int, xb: Floats, tt: int, n: int, sx: float, den: float,
                 mav: Floats) -> None:
    """The exact §4.8 WMA/LINREG of every lane's window ending at block bar tt."""
    nf = float(n)
    for k in range(mav.shape[0]):
        sy, sxy = exact_sums(xb[:, k], tt, n)
        mav[k] = exact_from_sums(kind, nf, sy, sxy, sx, den)


@njit(cache=True, error_model="numpy")
def window_resum(kind: int, xb: Floats, tt: int, t: int, n: int, sx: float, den: float, m: int,
                 S: Floats, WS: Floats, mav: Floats, LAST: Ints) -> None:
    """Every lane's running sums of member m re-summed exactly (its value exact too)."""
    nf = float(n)
    for k in range(mav.shape[0]):
        sy, sxy = exact_sums(xb[:, k], tt, n)
        S[m, k] = sy
        WS[m, k] = sxy
        mav[k] = exact_from_sums(kind, nf, sy, sxy, sx, den)
        LAST[m, k] = t


@njit(cache=True, error_model="numpy")
def window_near(kind: int, xb: Floats, tt: int, t: int, n: int, sx: float, den: float, m: int,
                near: Bools, mav: Floats, MP: Floats, LAST: Ints, RUN: Ints) -> None:
    """The lanes whose running value of member m lies within the band of the close take
    the exact value: on a flat stretch, the previous bar's (its window is the same),
    otherwise the window re-summed (``ma_families.window_mas9``)."""
    nf = float(n)
    for k in range(near.shape[0]):
        if near[k]:
            if LAST[m, k] == t - 1 and RUN[k] > n:
                mav[k] = MP[m, k]
            else:
                sy, sxy = exact_sums(xb[:, k], tt, n)
                mav[k] = exact_from_sums(kind, nf, sy, sxy, sx, den)
            LAST[m, k] = t
