"""The one-bar steps every numba kernel shares (spec §3, §5–§9): Pine's tolerant
comparisons, Layer 1's rounding, the equity recursion, the crossover state, the events,
and the growth factor g.

numba compiles without fast-math, so no multiply-add is contracted and no sum is
reassociated: each fl(·) of the spec is one float64 operation here too. The script's own
comparisons (KAMA's ``noise != 0``, the equity floor and sign tests, Cut) are Pine's
tolerant ones (|a − b| ≤ 1e-10 is equal); crossovers compare exactly.

The layers above: ``window_sums`` (math.sum and the WMA/LINREG window sums),
``ma_families`` (the nine moving averages of each family), ``drivers`` (a whole series or
batch).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.jit.kernel_types import Floats
from core.types import PINE_TOLERANCE

EPS = PINE_TOLERANCE
EQUITY_FLOOR = 0.25
ROUND_TIE = 0.5 - 1e-10
NAN = np.nan

# Family indices (order of core.config.FAMILIES).
EMA, HMA, WMA, DEMA, LSMA, KAMA = 0, 1, 2, 3, 4, 5


# -- Pine's comparisons and the equity recursion ------------------------------------------------
@njit(cache=True, inline="always")
def pine_gt(a: float, b: float) -> bool:
    """The script's `a > b`: Pine's tolerant comparison (false with na)."""
    return (a > b) & (abs(a - b) > EPS)


@njit(cache=True, inline="always")
def pine_lt(a: float, b: float) -> bool:
    """The script's `a < b`: Pine's tolerant comparison (false with na)."""
    return (a < b) & (abs(a - b) > EPS)


@njit(cache=True, inline="always")
def below_floor(e: float) -> bool:
    """The script's `e < 0.25`, tolerant: e < 0.25 and |e − 0.25| > 1e-10. For e ≥ 0.125
    the difference 0.25 − e is exact (Sterbenz), below it far above 1e-10, so this one
    subtraction is that test; na compares false."""
    return (EQUITY_FLOOR - e) > EPS


@njit(cache=True, inline="always")
def round2(v: float) -> float:
    """Pine math.round(v, 2): ties away from zero, 1e-10 tie tolerance (spec §7)."""
    a = abs(v) * 100.0
    u = float(np.floor(a))      # a float floor: math.floor would go through an int64
    if a - u >= ROUND_TIE:
        u += 1.0
    sign = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
    return sign * u / 100.0


@njit(cache=True, inline="always")
def equity_step(t: int, cutout: int, r: float, p: float, a: float, e: float, start: float,
                decay: float) -> tuple[float, float]:
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
def crossover_step(state: float, c: float, c_prev: float, m: float, m_prev: float) -> float:
    """Persistent crossover state of spec §5 (exact comparisons; na compares false)."""
    if c > m and c_prev <= m_prev:
        state = 1
    if c < m and c_prev >= m_prev:
        state = -1
    return state


@njit(cache=True, inline="always")
def event_step(cols: float, alertb: float, cols_prev: float, base_prev: float, alert_prev: float,
               direction: float, long_th: float, short_th: float,
               strategy: bool) -> tuple[float, bool, bool, bool, bool, float, float]:
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
def layer_bar(t: int, cutout: int, active: bool, r: float, num: float, den: float,
              sig_prev: float, f_a: float, f_e: float, weight: float,
              decay: float) -> tuple[float, float, float]:
    """A family's bar after its members' sums (spec §7–§8): Layer-1 signal and Layer-2
    equity. Returns (signal, a, equity)."""
    sig = round2(num / den) if active else NAN
    if active:
        f_a, f_e = equity_step(t, cutout, r, sig_prev if t > 0 else NAN, f_a, f_e, weight, decay)
    return sig, f_a, f_e


@njit(cache=True, inline="always")
def family_bar(t: int, cutout: int, active: bool, r: float, num: float, den: float,
               sig_prev: float, f_a: float, f_e: float, base_prev: float, direction: float,
               weight: float, decay: float, long_th: float, short_th: float,
               strategy: bool) -> tuple[float, float, float, float, float, bool, bool]:
    """The screened family's bar after its members' sums (spec §7–§9, the family's signal
    as base): Layer-1 signal, Layer-2 equity, direction and events. Returns (signal, a,
    equity, base, direction, long, short)."""
    sig, f_a, f_e = layer_bar(t, cutout, active, r, num, den, sig_prev, f_a, f_e, weight, decay)
    base, up, down, ev_long, ev_short, d_prev, direction = event_step(
        sig, sig, sig_prev, base_prev, sig_prev, direction, long_th, short_th, strategy)
    return sig, f_a, f_e, base, direction, ev_long, ev_short


@njit(cache=True)
def growth_row(n: int, lam: float) -> Floats:
    """g by bar offset from the cutout: e^(λ·k) computed as pow(e, λ·k) (spec §3)."""
    g = np.empty(max(n, 1))
    for k in range(g.shape[0]):
        g[k] = math.e ** (lam * k)
    return g

