"""Layer 1 (round2 of the equity-weighted member states), Cut and Average_Signal (§7, §8)."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

ROUND_TIE = 0.5 - 1e-10


def round2(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Pine `math.round(v, 2)`: nearest 0.01, ties away from zero, a remainder within 1e-10
    below ½ counted as a tie (§7). numpy's half-to-even `round` would differ at ties."""
    a = np.abs(v) * 100.0
    u = np.floor(a)
    u = np.where(a - u >= ROUND_TIE, u + 1.0, u)
    return np.sign(v) * u / 100.0


def weighted_mean(values: npt.NDArray[np.float64],
                  weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Σ v·w / Σ w over the rows, bar by bar, both sums taken left to right (row order)."""
    num: npt.NDArray[np.float64] = values[0] * weights[0]
    den: npt.NDArray[np.float64] = weights[0].copy()
    for k in range(1, values.shape[0]):
        num = num + values[k] * weights[k]
        den = den + weights[k]
    return num / den


def layer1_signal(states: npt.NDArray[np.float64],
                  equities: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """F_Signal = round2(Σ s·E / Σ E) over the nine members, in member order (§7)."""
    return round2(weighted_mean(states, equities))


def average_signal(cuts: npt.NDArray[np.float64],
                   family_equities: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Average_Signal = Σ Cut(F_Signal)·F_S / Σ F_S over the six families, in order (§8)."""
    return weighted_mean(cuts, family_equities)
