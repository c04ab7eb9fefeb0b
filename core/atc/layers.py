"""Layer 1 (round2 of the equity-weighted member states), Cut and Average_Signal (§7, §8)."""
from __future__ import annotations

import numpy as np

ROUND_TIE = 0.5 - 1e-10


def round2(v: np.ndarray) -> np.ndarray:
    """Pine `math.round(v, 2)`: nearest 0.01, ties away from zero, a remainder within 1e-10
    below ½ counted as a tie (§7). numpy's half-to-even `round` would differ at ties."""
    a = np.abs(v) * 100.0
    u = np.floor(a)
    u = np.where(a - u >= ROUND_TIE, u + 1.0, u)
    return np.sign(v) * u / 100.0


def layer1_signal(states: np.ndarray, equities: np.ndarray) -> np.ndarray:
    """F_Signal = round2(Σ s·E / Σ E), sums left to right in member order (9 rows)."""
    num = states[0] * equities[0]
    den = equities[0].copy()
    for m in range(1, states.shape[0]):
        num = num + states[m] * equities[m]
        den = den + equities[m]
    return round2(num / den)


def average_signal(cuts: np.ndarray, family_equities: np.ndarray) -> np.ndarray:
    """Average_Signal = Σ Cut(F_Signal)·F_S / Σ F_S over the six families, in order."""
    num = cuts[0] * family_equities[0]
    den = family_equities[0].copy()
    for f in range(1, cuts.shape[0]):
        num = num + cuts[f] * family_equities[f]
        den = den + family_equities[f]
    return num / den
