"""Direction, arrows and alerts (spec §9)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.atc.equity import crosses


class Events(NamedTuple):
    signal_base: np.ndarray
    direction: np.ndarray
    arrow_long: np.ndarray
    arrow_short: np.ndarray
    long: np.ndarray
    short: np.ndarray


def lag1(x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    out[1:] = x[:-1]
    return out


def direction_events(cols: np.ndarray, alertb: np.ndarray, long_threshold: float,
                     short_threshold: float, strategy: bool) -> Events:
    """Persistent direction from threshold crossings of the base (``cols``, lagged one bar
    in Strategy View), arrows from the base, alerts from the never-shifted ``alertb``."""
    n = cols.shape[0]
    base = lag1(cols) if strategy else cols
    up, _ = crosses(base, np.full(n, long_threshold))
    _, down = crosses(base, np.full(n, short_threshold))
    alert_up, _ = crosses(alertb, np.full(n, long_threshold))
    _, alert_down = crosses(alertb, np.full(n, short_threshold))
    direction = np.full(n, np.nan)
    d = np.nan
    for t in range(n):
        if up[t]:
            d = 1.0
        if down[t]:
            d = -1.0
        direction[t] = d
    prev = lag1(direction)
    was_short, was_long = prev == -1.0, prev == 1.0
    return Events(base, direction, was_short & up, was_long & down,
                  was_short & alert_up, was_long & alert_down)
