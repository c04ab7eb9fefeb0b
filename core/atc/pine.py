"""Pine's tolerant comparisons for the script's own tests (spec §4.8, §10).

Built-in crossovers compare exactly; a comparison written in the script (`noise != 0`,
`e < 0.25`, `v > 0.49`, `p > 0`) treats a and b as equal when |a − b| ≤ 1e-10.
"""
from __future__ import annotations

from core.types import PINE_TOLERANCE as EPS


def eq(a: float, b: float) -> bool:
    return abs(a - b) <= EPS          # false when either is na


def ne(a: float, b: float) -> bool:
    return abs(a - b) > EPS           # na compares false with everything, != included


def lt(a: float, b: float) -> bool:
    return a < b and abs(a - b) > EPS


def gt(a: float, b: float) -> bool:
    return a > b and abs(a - b) > EPS
