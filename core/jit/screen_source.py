"""Source text of the one-family screening kernel that ``core.jit.codegen`` generates.

The kernel screens a batch on one family (EMA for ``ema_only``, any family for
``family:F``). Symbols go in blocks of ``BLOCK`` (sorted by first bar). Each symbol's
first bars run alone (``core.jit.screen_helpers``: the generic kernels' helpers) until the
block's last symbol to start is ``W`` bars in; then the block's symbols advance together
one bar at a time with the symbol as the innermost loop,
written as selects so that LLVM vectorises it across symbols. That steady step is written
here per family and configuration: the nine lengths, α, KAMA's constants, the WMA/LINREG
coefficients, cutout, decay, weight and thresholds are literals, the member loop unrolled.

Every operation is the generic kernel's (``core.jit.drivers`` and the layers under it), in
the same order, without fast-math, so the outputs are the generic kernel's bit for bit.
Division follows numpy's error model as there (KAMA's ratio divides by a noise that may be
0, then unused), which also keeps the division out of a branch so that the loop vectorises.

* EMA and DEMA: ``y + α·(x − y)``; DEMA ``2·E1 − E2``.
* The HMA family (``ta.sma``) and KAMA's noise: the math.sum machine (``msum_steady``, a
  rare fire re-baselined from the raw window), its ring of realised addends kept per member
  and indexed by global bar.
* WMA and LINREG: the running window sums with the exact §4.8 value on every bar within
  the ``TIE_REL`` band of the close, on a flat stretch the previous exact value, and an
  exact re-sum every ``RESUM`` bars (counted from the batch's bar 0 here, from the symbol's
  first bar in the generic kernel: either way the sums are never more than ``RESUM`` bars
  from an exact one, which is all the band's proof needs). An MA may then differ from the
  generic one in its last bits away from the close, but every crossover is the exact one in
  both, so the states and everything after them are the same bits.

The Hull option of the HMA family has no steady form here (``supports``): the generic
kernel serves it.
"""
from __future__ import annotations

import functools

import textwrap
from dataclasses import dataclass, field

from core.config import FAMILIES as FAMILY_NAMES
from core.jit.ma_families import KAMA_FAST, KAMA_SLOW
from core.jit.primitives import DEMA, EMA, HMA, KAMA, LSMA, WMA
from core.jit.window_sums import DIRECT_MAX, K_LSMA, K_WMA, RESUM, count_sum
from core.kernel_params import KernelParams

#: Symbols advanced together in the vectorised steady phase.
BLOCK = 128

# The module's pieces, each its own template: the imports and the configuration's
# constants, the batch driver, one block's driver (one-family or full), one family's pass
# over a block, and its steady bar loop. The kernel constants (equity floor, rounding tie,
# Pine's tolerance, the tie band) are imported by name from the kernel modules, KAMA's
# folded in from theirs, so the generated code cannot drift from them.
_HEADER = '''\
"""Generated {what} kernel; see core/jit/codegen.py."""
import numpy as np
from numba import njit, prange
from core.jit.ma_families import ema9, lsma_exact_row, wma_exact_row
from core.jit.primitives import EPS, EQUITY_FLOOR, ROUND_TIE
from core.jit.window_sums import TIE_REL, exact_sums, msum_steady
from core.jit.screen_helpers import (average_events, block_closes, block_split, kama_prefix,
                                     msum_prefix, refire, run_length, warm_average,
                                     warm_events, warm_family, window_exact, window_near,
                                     window_resum)

NAN = np.nan
B = {block}
ZERO = np.zeros(9, dtype=np.int64)
'''

# Each family's constants: W (the warm-up), the nine lengths, each member's first RING row
# (math.sum families).
_FAMILY_CONSTANTS = '''\
W_{name} = {warm_bars}
LENGTHS_{name} = np.array({lengths}, dtype=np.int64)
OFFS_{name} = np.array({offs}, dtype=np.int64)
'''

_SCREEN = '''\
@njit(cache=True, parallel=True, error_model="numpy")
def screen(closes, starts, g, tail, o_sig, o_feq, o_avg, o_dir, o_long, o_short, o_last,
           o_since, threads):
    # Blocks of symbols with similar first bars (sorted by start) so that a block's
    # warm-up ends at about the same bar for all of its symbols; as many blocks for each
    # of the ``threads`` threads, so that none waits for another's last block. (The count
    # is an argument: numba.get_num_threads() here would keep the kernel out of numba's
    # on-disk cache.)
    order = np.argsort(starts, kind="mergesort")
    n_sym = closes.shape[0]
    size, count = block_split(n_sym, B, threads)
    for b in prange(count):
        screen_block(closes, order[b * size:min(n_sym, b * size + size)], starts, g, tail,
                     o_sig, o_feq, o_avg, o_dir, o_long, o_short, o_last, o_since)
'''

# One block: its closes bar-major, then (``_SCREEN_BODY``) screened on one family, whose
# pass carries the events' state too, and the events' summary; or (``_FULL_BODY``) the full
# ATC: each family in turn adds its share to Average_Signal's sums (bar-major like the
# closes, in family order as the generic kernel adds them), then Average_Signal and the
# events lane by lane.
_BLOCK = '''\
@njit(cache=True, error_model="numpy")
def screen_block(closes, rows, starts, g, tail, o_sig, o_feq, o_avg, o_dir, o_long, o_short,
                 o_last, o_since):
    lo = starts[rows[0]]
    xb = block_closes(closes, rows, lo)
'''

_SCREEN_BODY = '''\
nb = rows.shape[0]
DIR = np.empty(nb); BASE_PREV = np.empty(nb); LAST_SIGN = np.empty(nb)
LAST_BAR = np.empty(nb)
family_{name}(closes, xb, lo, rows, starts, g, tail, o_sig, o_feq, {outs})
for k in range(nb):
    i = rows[k]
    n = closes.shape[1] - starts[i]
    o_last[i] = int(LAST_SIGN[k])
    o_since[i] = n - 1 - int(LAST_BAR[k]) if LAST_BAR[k] >= 0 else -1
'''

_FULL_BODY = '''\
SN = np.zeros(xb.shape); SD = np.zeros(xb.shape)
COLS = np.empty({cols_shape}); ALERTS = np.empty({alerts_shape})
{calls}\
average_events(SN, SD, COLS, ALERTS, lo, rows, starts, {cutout}, {colbase}, {alertbase},
               {long_th!r}, {short_th!r}, {strategy}, tail, o_avg, o_dir, o_long, o_short,
               o_last, o_since)
'''

# One family's pass over a block: its state arrays (``alloc``: the family's), each
# symbol's warm-up alone up to bar t0 (``warm``: the family's MAs over the prefix, then its
# layers; ``warm_out``: the events or the family's share of the average), then the steady
# loop.
_FAMILY = '''\
@njit(cache=True, error_model="numpy")
def family_{name}(closes, xb, lo, rows, starts, g, tail, o_sig, o_feq, {outs}):
    n_bars = closes.shape[1]
    nb = rows.shape[0]
    LENGTHS = LENGTHS_{name}
    OFFS = OFFS_{name}
    # One array per state variable (not one matrix): LLVM can then prove the vectorised
    # loops' loads and stores independent.
    ST = np.empty((9, nb)); A = np.empty((9, nb)); E = np.empty((9, nb))
    MP = np.empty((9, nb))
    SIG = np.empty(nb); FA = np.empty(nb); FE = np.empty(nb)
{alloc}\
    t0 = 0
    for k in range(nb):
        t0 = max(t0, starts[rows[k]] + W_{name})
    t0 = min(t0, n_bars)
    wcap = t0 - lo
    pm = np.empty((9, wcap))
    sig_w = np.empty(wcap); feq_w = np.empty(wcap)
{scratch}\
    for k in range(nb):             # each symbol alone up to bar t0 (its warm-up at least)
        i = rows[k]
        s = starts[i]
        x = closes[i, s:]
        te = t0 - s
{warm}\
        warm_family(x, pm, te, g, {cutout}, {decay!r}, {weight!r}, k, ST, A, E, MP, SIG, FA,
                    FE, sig_w, feq_w)
{warm_out}\
    if t0 < n_bars:
        steady_{name}(xb, lo, rows, starts, g, tail, t0, o_sig, o_feq, {outs}, ST, A, E, MP,
                      SIG, FA, FE{state_args})
'''

# What a family's pass writes besides its own rows of o_sig/o_feq: the events' state and
# outputs (screening on it), or Average_Signal's sums and the bases (the full ATC).
_SCREEN_OUTS = "DIR, BASE_PREV, LAST_SIGN, LAST_BAR, o_dir, o_long, o_short"
_FULL_OUTS = "SN, SD, COLS, ALERTS"

_WARM_EVENTS = """\
warm_events(sig_w, feq_w, te, x.shape[0], {long_th!r}, {short_th!r}, {strategy}, tail,
            o_sig[i, 0], o_feq[i, 0], o_dir[i], o_long[i], o_short[i], k, DIR, BASE_PREV,
            LAST_SIGN, LAST_BAR)
"""

_WARM_AVERAGE = """\
warm_average(sig_w, feq_w, te, x.shape[0], {cut!r}, tail, o_sig[i, {f}], o_feq[i, {f}],
             SN[s - lo:, k], SD[s - lo:, k])
"""

# The steady loop's function and the head of each bar (R·g, the Layer-1 sums cleared);
# the bar's body (the family's per-lane head, each member, the tail) follows it.
_STEADY = '''\
@njit(cache=True, error_model="numpy")
def steady_{name}(xb, lo, rows, starts, g, tail, t0, o_sig, o_feq, {outs}, ST, A, E, MP, SIG,
                  FA, FE{state_args}):
    # Bars t0 … of every lane (each past its warm-up): one bar at a time, the symbol as the
    # inner loop over all lanes from 0 (indices provably ≥ 0: no wraparound test, so LLVM
    # vectorises it); the warm-up's arithmetic, as selects.
    n_bars = lo + xb.shape[0]
    nb = rows.shape[0]
    goff = np.empty(nb, np.int64)
    FIRST = np.empty(nb)            # each lane's first bar, as the event bars are counted
    for k in range(nb):
        goff[k] = starts[rows[k]] + {cutout}
        FIRST[k] = float(starts[rows[k]])
    r = np.empty(nb)
    num = np.empty(nb)
    den = np.empty(nb)
    NEW = np.empty(nb)
{steady_scratch}\
    for t in range(t0, n_bars):
        tt = t - lo
        for k in range(nb):
            c = xb[tt, k]
            c_prev = xb[tt - 1, k]
            r[k] = (c - c_prev) / c_prev * g[t - goff[k]]
            num[k] = 0.0
            den[k] = 0.0
'''

# One member's crossover state (§5), equity (§6) and share of the Layer-1 sums (§7), from
# its MA `ma` and previous MA `mp`; p is a state (−1/0/+1), so the plain sign tests are
# Pine's tolerant ones, and the floor `e < EQUITY_FLOOR` is `EQUITY_FLOOR − e > EPS`, one
# subtraction (``primitives.below_floor``; na → false).
_LAYER = """\
    p = ST[{m}, k]
    s = 1.0 if (c > ma) & (c_prev <= mp) else p
    s = -1.0 if (c < ma) & (c_prev >= mp) else s
    a = r[k] if p > 0 else (-r[k] if p < 0 else A[{m}, k])
    e = E[{m}, k] * {decay!r} * (1.0 + a)
    e = EQUITY_FLOOR if (EQUITY_FLOOR - e) > EPS else e
    MP[{m}, k] = ma
    ST[{m}, k] = s
    A[{m}, k] = a
    E[{m}, k] = e
    num[k] = num[k] + s * e
    den[k] = den[k] + e
"""

_LANE = """\
for k in range(nb):
    c = xb[tt, k]
    c_prev = xb[tt - 1, k]
    mp = MP[{m}, k]
"""

# Layer 1's signal (round2 of §7) and Layer 2 (§8); then, in a second loop (fewer arrays
# per loop, so that LLVM vectorises both), the events of §9 (the previous signal is §9's
# previous colour base) or the family's share of Average_Signal's sums, and the outputs.
_LAYER2 = """\
for k in range(nb):
    v = num[k] / den[k]
    mag = abs(v) * 100.0
    u = np.floor(mag)
    u = u + 1.0 if mag - u >= ROUND_TIE else u
    sig = (1.0 if v > 0 else (-1.0 if v < 0 else 0.0)) * u / 100.0
    p = SIG[k]
    fa = r[k] if p > 0 else (-r[k] if p < 0 else FA[k])
    fe = FE[k] * {decay!r} * (1.0 + fa)
    fe = EQUITY_FLOOR if (EQUITY_FLOOR - fe) > EPS else fe
    FA[k] = fa
    FE[k] = fe
    NEW[k] = sig
"""

_EVENTS = """\
now = float(t)
for k in range(nb):
    sig = NEW[k]
    p = SIG[k]
    base = {base}
    bp = BASE_PREV[k]
    up = (base > {long_th!r}) & (bp <= {long_th!r})
    down = (base < {short_th!r}) & (bp >= {short_th!r})
    a_up = (sig > {long_th!r}) & (p <= {long_th!r})
    a_down = (sig < {short_th!r}) & (p >= {short_th!r})
    d_prev = DIR[k]
    d = 1.0 if up else d_prev
    d = -1.0 if down else d
    ev_long = a_up & (d_prev == -1.0)
    ev_short = a_down & (d_prev == 1.0)
    hit = ev_long | ev_short
    LAST_SIGN[k] = (1.0 if ev_long else -1.0) if hit else LAST_SIGN[k]
    LAST_BAR[k] = now - FIRST[k] if hit else LAST_BAR[k]
    SIG[k] = sig
    DIR[k] = d
    BASE_PREV[k] = base
j = t - (n_bars - tail)
if j >= 0:
    for k in range(nb):
        i = rows[k]
        o_sig[i, 0, j] = SIG[k]
        o_feq[i, 0, j] = FE[k]
        o_dir[i, j] = DIR[k]
        o_long[i, j] = (LAST_BAR[k] == t - starts[i]) & (LAST_SIGN[k] > 0)
        o_short[i, j] = (LAST_BAR[k] == t - starts[i]) & (LAST_SIGN[k] < 0)
"""

# Cut (`v > 0.49` / `v < −0.49`) is the script's tolerant comparison.
_AVERAGE = """\
for k in range(nb):
    sig = NEW[k]
    fe = FE[k]
    cv = 1.0 if (sig > {cut!r}) & (abs(sig - {cut!r}) > EPS) else (
        -1.0 if (sig < {ncut!r}) & (abs(sig - {ncut!r}) > EPS) else 0.0)
    SN[tt, k] = SN[tt, k] + cv * fe
    SD[tt, k] = SD[tt, k] + fe
    SIG[k] = sig
{bases}\
j = t - (n_bars - tail)
if j >= 0:
    for k in range(nb):
        i = rows[k]
        o_sig[i, {f}, j] = SIG[k]
        o_feq[i, {f}, j] = FE[k]
"""

# -- the math.sum machine (HMA family's ta.sma, KAMA's noise) ---------------------------------
# One steady step for every lane (input `src`), then the rare fire: re-baselined from the
# raw window, compensation 0, the input itself stored.
_MSUM_STEP = """\
slot = {off} + t % {n}
hits = 0
for k in range(nb):
    s2, c2, y2, f = msum_steady({src}[tt, k], S[{m}, k], C[{m}, k], RING[slot, k])
    S[{m}, k] = s2
    C[{m}, k] = c2
    RING[slot, k] = y2
    FIRE[k] = f
    hits += f
if hits:
    refire({src}, tt, {n}, slot, {m}, FIRE, S, C, RING)
"""

_MSUM_WARM = """\
for m in range(9):
    n = LENGTHS[m]
    if n == 1:                      # math.sum(v, 1) is v
        sums[:te] = {src}[:te]
    else:
        S[m, k], C[m, k] = msum_prefix({src}, {t0}, n, te, sums, RING[OFFS[m]:OFFS[m] + n], s, k)
{per_member}"""

# -- WMA and LINREG (§4.8): running sums, the exact value near the close --------------------
_WINDOW_EXACT = """\
window_exact({kind}, xb, tt, {n}, {sx!r}, {den!r}, MAV)
"""

_WINDOW_STEP = """\
if t % {resum} == 0:                # an exact re-sum of every lane's window
    window_resum({kind}, xb, tt, t, {n}, {sx!r}, {den!r}, {m}, S, WS, MAV, LAST)
else:
    hits = 0
    for k in range(nb):
        c = xb[tt, k]
        sm = S[{m}, k]
        wm = (WS[{m}, k] + {nf!r} * c) - sm
        sm = (sm + c) - xb[tt - {n}, k]
        S[{m}, k] = sm
        WS[{m}, k] = wm
        v = wm * {cb!r} - sm * {ca!r}
        MAV[k] = v
        near = abs(v - c) <= BAND[k]
        NEAR[k] = near
        hits += near
    if hits:                        # rare: the exact value decides
        window_near({kind}, xb, tt, t, {n}, {sx!r}, {den!r}, {m}, NEAR, MAV, MP, LAST, RUN)
"""

_WINDOW_WARM = """\
top = 0.0
for t in range(x.shape[0]):
    top = max(top, abs(x[t]))
BAND[k] = TIE_REL * top             # see window_sums.TIE_REL
for m in range(9):
    n = LENGTHS[m]
    {exact_row}
    if te >= n:
        S[m, k], WS[m, k] = exact_sums(x, te - 1, n)
    LAST[m, k] = s + te - 1
RUN[k] = run_length(x, te - 1)
"""


def supports(params: KernelParams) -> bool:
    """Whether a kernel can be generated for ``params`` (one family or the full ATC; not
    with the HMA family's Hull option)."""
    return not (params.hull and (params.families == 6 or params.family == HMA))


def warm_bars(params: KernelParams, f: int) -> int:
    """W of family f: the first local bar at which every member's MA is in its steady
    form and the cutout has passed (so the steady step needs no warm-up branches)."""
    lengths = [int(v) for v in params.lengths[f]]
    longest = max(lengths)
    first = {EMA: longest, HMA: longest, WMA: longest, LSMA: longest, KAMA: longest + 1,
             DEMA: max(2 * n - 1 for n in lengths)}[f]
    return max(first, int(params.cutout) + 1)


def _body(lines: str, depth: int) -> str:
    return textwrap.indent(lines, "    " * depth)


@dataclass
class _Parts:
    """A family's pieces of the module: block state (``alloc``) and the steady step's
    arguments for it (``state``), per-block scratch, the warm-up of one symbol (lane k),
    the steady step's scratch and per-lane bar head, and each member's steady code."""

    alloc: str = ""
    state: str = ""
    scratch: str = ""
    warm: str = ""
    steady_scratch: str = ""
    bar_head: str = ""
    members: list[str] = field(default_factory=list)
    offs: list[int] = field(default_factory=lambda: [0] * 9)


def _layer(params: KernelParams, m: int) -> str:
    return _LAYER.format(m=m, decay=1.0 - params.delta)


def _recursive_parts(params: KernelParams, f: int, lengths: list[int]) -> _Parts:
    """EMA and DEMA: the warm-up from ``ema9`` on the prefix, the steady step y + α·(x − y)."""
    parts = _Parts()
    if f == EMA:
        parts.warm = "ema9(x[:te].reshape(1, te), ZERO, LENGTHS, pm[:, :te])\n"
    else:
        parts.alloc = ("E1 = np.empty((9, nb)); E2 = np.empty((9, nb))\n"
                       "LENGTHS_1 = LENGTHS - 1\n")
        parts.scratch = "t1 = np.empty((9, wcap)); t2 = np.empty((9, wcap))\n"
        parts.state = ", E1, E2"
        parts.warm = (
            "ema9(x[:te].reshape(1, te), ZERO, LENGTHS, t1[:, :te])\n"
            "ema9(t1[:, :te], LENGTHS_1, LENGTHS, t2[:, :te])   # E2 starts at E1's first value\n"
            "for m in range(9):\n"
            "    for t in range(te):\n"
            "        pm[m, t] = 2.0 * t1[m, t] - t2[m, t]\n"
            "    E1[m, k] = t1[m, te - 1]\n"
            "    E2[m, k] = t2[m, te - 1]\n")
    for m, n in enumerate(lengths):
        alpha = 2.0 / (n + 1)
        if f == EMA:
            ma = f"    ma = mp + {alpha!r} * (c - mp)\n"
        else:
            ma = (f"    e1 = E1[{m}, k] + {alpha!r} * (c - E1[{m}, k])\n"
                  f"    e2 = E2[{m}, k] + {alpha!r} * (e1 - E2[{m}, k])\n"
                  f"    E1[{m}, k] = e1\n    E2[{m}, k] = e2\n"
                  "    ma = 2.0 * e1 - e2\n")
        parts.members.append(_LANE.format(m=m) + ma + _layer(params, m))
    return parts


def _msum_parts(params: KernelParams, f: int, lengths: list[int]) -> _Parts:
    """The HMA family (ta.sma of the close) and KAMA (its noise, math.sum of |x − x[1]|):
    each member's math.sum machine with its ring, indexed by global bar."""
    parts = _Parts(offs=[])
    rows = 0
    for n in lengths:
        parts.offs.append(rows)
        rows += n if n > 1 else 0
    hma = f == HMA
    src = "xb" if hma else "sb"
    parts.alloc = ("S = np.empty((9, nb)); C = np.empty((9, nb))\n"
                   f"RING = np.empty(({max(rows, 1)}, nb))\n")
    parts.scratch = "sums = np.empty(wcap)\n"
    parts.state = ", S, C, RING"
    parts.steady_scratch = "FIRE = np.empty(nb, np.bool_)\n"
    if hma:
        parts.warm = _MSUM_WARM.format(src="x", t0=0, per_member=(
            "    for t in range(te):\n"
            "        pm[m, t] = sums[t] / n\n"))
    else:
        parts.alloc += ("sb = np.empty_like(xb)   # |x − x[1]|, KAMA's noise input\n"
                        "for k in range(nb):\n"
                        "    sb[0, k] = NAN\n"
                        "for t in range(1, n_bars - lo):\n"
                        "    for k in range(nb):\n"
                        "        sb[t, k] = abs(xb[t, k] - xb[t - 1, k])\n")
        parts.scratch += "stp = np.empty(wcap)\n"
        parts.state = ", sb, S, C, RING"
        parts.warm = ("stp[0] = NAN\n"
                      "for t in range(1, te):\n"
                      "    stp[t] = abs(x[t] - x[t - 1])\n" +
                      _MSUM_WARM.format(src="stp", t0=1, per_member=(
                          "    kama_prefix(x, n, te, sums, pm[m])\n")))
    for m, n in enumerate(lengths):
        # math.sum(v, 1) is v: a one-bar member has no machine.
        step = "" if n == 1 else _MSUM_STEP.format(off=parts.offs[m], n=n, m=m, src=src)
        if hma:
            ma = "    ma = c\n" if n == 1 else f"    ma = S[{m}, k] / {float(n)!r}\n"
        else:
            nz = "abs(c - c_prev)" if n == 1 else f"S[{m}, k]"
            ma = (f"    nz = {nz}\n"
                  f"    q = abs(c - xb[tt - {n}, k]) / nz     # unused when the noise is (near) 0\n"
                  "    ratio = q if abs(nz - 0.0) > EPS else 0.0\n"
                  f"    sc = ratio * {KAMA_FAST - KAMA_SLOW!r} + {KAMA_SLOW!r}\n"
                  "    ma = mp + sc * sc * (c - mp)\n")
        parts.members.append(step + _LANE.format(m=m) + ma + _layer(params, m))
    return parts


def _window_parts(params: KernelParams, f: int, lengths: list[int]) -> _Parts:
    """WMA and LINREG: running window sums, the exact value near the close."""
    kind = K_WMA if f == WMA else K_LSMA
    parts = _Parts(
        alloc=("S = np.empty((9, nb)); WS = np.empty((9, nb))\n"
               "LAST = np.empty((9, nb), np.int64); RUN = np.empty(nb, np.int64)\n"
               "BAND = np.empty(nb)\n"),
        state=", S, WS, LAST, RUN, BAND",
        steady_scratch="MAV = np.empty(nb)\nNEAR = np.empty(nb, np.bool_)\n",
        bar_head="    RUN[k] = RUN[k] + 1 if c == c_prev else 1\n")
    if kind == K_WMA:
        exact_row = "wma_exact_row(x[:te], n, pm[m, :te])"
    else:
        parts.scratch = "t1 = np.empty(wcap); t2 = np.empty(wcap)\n"
        exact_row = "lsma_exact_row(x[:te], n, pm[m, :te], t1, t2)"
    parts.warm = _WINDOW_WARM.format(exact_row=exact_row)
    for m, n in enumerate(lengths):
        nf = float(n)
        sx = float(count_sum(n, False))          # the kernels' own sums, so the same bits
        den = nf * count_sum(n, True) - sx * sx
        consts = dict(m=m, n=n, kind=kind, nf=nf, sx=sx, den=den, resum=RESUM,
                      cb=1.0 / sx if kind == K_WMA else 6.0 / (nf * (nf + 1.0)),
                      ca=0.0 if kind == K_WMA else 2.0 / nf)
        step = (_WINDOW_EXACT if n <= DIRECT_MAX else _WINDOW_STEP).format(**consts)
        parts.members.append(step + _LANE.format(m=m) + "    ma = MAV[k]\n" + _layer(params, m))
    return parts


_PARTS = {EMA: _recursive_parts, DEMA: _recursive_parts, HMA: _msum_parts, KAMA: _msum_parts,
          WMA: _window_parts, LSMA: _window_parts}


def _constants(params: KernelParams) -> dict[str, object]:
    """The configuration's literals that the templates share."""
    return dict(cutout=int(params.cutout), decay=1.0 - params.delta,
                long_th=params.long_threshold, short_th=params.short_threshold,
                strategy=bool(params.strategy), cut=params.cut_threshold,
                ncut=-params.cut_threshold, colbase=int(params.colbase),
                alertbase=int(params.alertbase))


def _family_source(params: KernelParams, f: int, full: bool) -> tuple[str, str]:
    """Family f's module constants, and its pass over a block with its steady loop; in
    the full ATC its signal feeds Average_Signal's sums (and the colour or alert base when
    one of them names the family), screening on it the events."""
    name = FAMILY_NAMES[f].lower()
    lengths = [int(v) for v in params.lengths[f]]
    parts = _PARTS[f](params, f, lengths)
    constants = _constants(params)
    consts = _FAMILY_CONSTANTS.format(name=name, warm_bars=warm_bars(params, f),
                                      lengths=lengths, offs=parts.offs)
    if full:
        outs = _FULL_OUTS
        # The colour and alert bases this family's signal is (when they name it).
        bases = [rows for rows, which in (("COLS", params.colbase), ("ALERTS", params.alertbase))
                 if which == f + 1]
        warm_out = _WARM_AVERAGE.format(f=f, **constants) + "".join(
            f"{rows}[s - lo:t0 - lo, k] = sig_w[:te]\n" for rows in bases)
        tail = _AVERAGE.format(f=f, bases="".join(f"    {rows}[tt, k] = sig\n" for rows in bases),
                               **constants)
    else:
        outs = _SCREEN_OUTS
        warm_out = _WARM_EVENTS.format(**constants)
        # Strategy View lags the base a bar.
        tail = _EVENTS.format(base="p" if params.strategy else "sig", **constants)
    block = _FAMILY.format(name=name, outs=outs, alloc=_body(parts.alloc, 1),
                           scratch=_body(parts.scratch, 1), warm=_body(parts.warm, 2),
                           warm_out=_body(warm_out, 2), state_args=parts.state,
                           weight=float(params.weights[f]), **constants)
    steady = _STEADY.format(name=name, outs=outs, state_args=parts.state,
                            steady_scratch=_body(parts.steady_scratch, 1), **constants)
    bar = [parts.bar_head, *parts.members, _LAYER2.format(**constants), tail]
    steady += "".join(_body(piece, 2) for piece in bar)
    return consts, block + "\n\n" + steady


@functools.lru_cache(maxsize=64)
def kernel_source(params: KernelParams) -> str:
    """Python source of the kernel specialised for ``params`` (one family, or the full
    ATC). Cached per parameters: every batch, ``prepare`` and readiness query names its
    kernel by this text's digest, and generating it costs ~0.3 ms (~2 ms the full one)."""
    if not supports(params):
        raise ValueError(f"no generated kernel for {params.mode_label} with these options")
    full = params.families == 6
    families = range(6) if full else [params.family]
    pieces = [_family_source(params, f, full) for f in families]
    header = _HEADER.format(what="full ATC" if full else f"{params.mode_label} ATC screening",
                            block=BLOCK)
    header += "".join(consts for consts, _ in pieces)
    if full:
        calls = "".join(f"family_{FAMILY_NAMES[f].lower()}(closes, xb, lo, rows, starts, g, "
                        f"tail, o_sig, o_feq, {_FULL_OUTS})\n" for f in families)
        body = _FULL_BODY.format(
            calls=calls, cols_shape="xb.shape" if params.colbase else "(1, 1)",
            alerts_shape="xb.shape" if params.alertbase else "(1, 1)", **_constants(params))
    else:
        body = _SCREEN_BODY.format(name=FAMILY_NAMES[params.family].lower(), outs=_SCREEN_OUTS)
    block = _BLOCK + _body(body, 1)
    return "\n\n".join([header, _SCREEN, block, *(code for _, code in pieces)])
