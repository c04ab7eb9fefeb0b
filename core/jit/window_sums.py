"""Window sums in TradingView's own arithmetic (spec §4.8), the layer under the moving
averages (``ma_families``):

* ``math.sum`` — the compensated rolling sum with its fire test and newest-first
  re-baseline over the raw window, and a ring of the realised addends — for ``ta.sma`` (the
  HMA family), every EMA seed (DEMA's inner one included) and KAMA's noise. It is O(1) per
  bar amortised, so it runs everywhere.
* WMA's and LINREG's window sums Σy and Σp·y summed oldest first in the spec's order, and
  the §4.8 value from them; the constants of the batches' running sums (``RESUM``,
  ``DIRECT_MAX``) and of the band within which they take the exact value (``TIE_REL``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.jit.kernel_types import Floats, Ints
from core.jit.primitives import NAN

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


# -- math.sum (§4.8) ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def fires(v: float, c: float) -> bool:
    """The machine's fire test: the compensation can no longer be added to v without loss
    (exactly this operand order)."""
    if c != 0.0 and v != 0.0:
        b = abs(c)
        r = v + b
        if r != 0.0 and math.isfinite(r):
            return (b - (r - v)) > 0.0
    return False


@njit(cache=True)
def rebaseline(x: Floats, t: int, k: int) -> float:
    """The newest-first linear sum of the k raw values x[t−k+1 … t]: acc = x[t], then
    acc = x[t−i] + acc for i = 1 … k−1."""
    acc: float = x[t]
    for i in range(1, k):
        acc = x[t - i] + acc
    return acc


@njit(cache=True, inline="always")
def kahan_add(s: float, c: float, y1: float, v: float) -> tuple[float, float, float]:
    """The machine's five steps after y1; returns (s', c', y2)."""
    tmp = s + y1
    e1 = (tmp - s) - y1
    y2 = v - e1
    s2 = tmp + y2
    return s2, (s2 - tmp) - y2, y2


@njit(cache=True, error_model="numpy")
def sma_seed(x: Floats, lo: int, n: int) -> float:
    """`ta.sma(x, n)` on the bar where it first exists, from the inputs x[lo … lo+n−1]
    (no na among them): the machine's warm-up, which never evicts, divided by n. NaN when
    the series is too short."""
    if lo + n > x.shape[0]:
        return NAN
    if n == 1:
        return float(x[lo])
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
def msum_steady(v: float, s: float, c: float, d: float) -> tuple[float, float, float, bool]:
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
def msum9(x: Floats, t0: int, lengths: Ints, out: Floats, stored: Floats) -> None:
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
        tu = np.uint64(t)        # unsigned: no negative-index wraparound on these accesses
        for m in range(9):       # length-1 lanes run too (harmless), then get x below
            sm, cm, y2, f = msum_steady(v, s[m], c[m], stored[m, np.uint64(t - lengths[m])])
            s[m] = sm
            c[m] = cm
            stored[m, tu] = y2
            out[m, tu] = sm
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

# -- WMA and LINREG (§4.8) --------------------------------------------------------------------------
@njit(cache=True)
def count_sum(n: int, squares: bool) -> float:
    """1 + 2 + … + n (or 1 + 4 + … + n²) summed sequentially in float64."""
    total = 0.0
    for i in range(1, n + 1):
        total = total + float(i * i if squares else i)
    return total


@njit(cache=True, inline="always")
def lsma_value(nf: float, sy: float, sxy: float, sx: float, den: float) -> float:
    """ta.linreg's value from its window sums Σy and Σp·y, in the spec's operation order."""
    slope = (nf * sxy - sx * sy) / den
    avg = sy / nf
    intercept = (avg - (slope * sx) / nf) + slope
    return intercept + slope * (nf - 1.0)


@njit(cache=True)
def exact_sums(x: Floats, t: int, n: int) -> tuple[float, float]:
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


@njit(cache=True, inline="always")
def exact_from_sums(kind: int, nf: float, sy: float, sxy: float, sx: float, den: float) -> float:
    """The §4.8 value from exactly summed windows: WMA acc/norm (norm = sx), or LINREG."""
    if kind == K_WMA:
        return sxy / sx
    if nf == 1.0:                                # linreg of one point is the point
        return sy
    return lsma_value(nf, sy, sxy, sx, den)


@njit(cache=True)
def constant_runs(x: Floats) -> Ints:
    """run[t]: how many equal values end at bar t (1 where x[t] ≠ x[t−1])."""
    n = x.shape[0]
    run = np.ones(n, np.int64)
    for t in range(1, n):
        if x[t] == x[t - 1]:
            run[t] = run[t - 1] + 1
    return run

