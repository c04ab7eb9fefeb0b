"""The canonical computation of one series, assembled from the spec's sections."""
from __future__ import annotations

import numpy as np

from core.atc.equity import crossover_state, equity, growth_factor
from core.atc.events import direction_events
from core.atc.layers import average_signal, layer1_signal
from core.atc.moving_averages import family_function
from core.config import FAMILIES, ATCConfig
from core.types import ATCResult, cut, rate_of_change


def compute_reference(close: np.ndarray, config: ATCConfig, detail: bool = False,
                      src: np.ndarray | None = None, families: int = 6,
                      family: int = 0) -> ATCResult:
    """Every output of the spec for one validated series.

    ``families`` < 6 computes only families ``family`` … ``family + families − 1`` (1 and
    0 = EMA only, for screening; 1 and f = family f alone); then Average_Signal is not
    defined and the first computed family's signal serves as the direction base.
    """
    n = close.shape[0]
    x = close if src is None else src
    lengths = config.member_lengths()
    weights = config.weights()
    roc = rate_of_change(close)                                               # §3
    rg = roc * growth_factor(n, config.lam, config.cutout)                    # §6 step 1

    mas = np.full((6, 9, n), np.nan)
    states = np.zeros((6, 9, n), dtype=np.int8)
    equities = np.full((6, 9, n), np.nan)
    signals = np.full((6, n), np.nan)
    family_eq = np.full((6, n), np.nan)
    for f in range(family, family + families):
        ma_of = family_function(FAMILIES[f], config.hma_kind)
        for m in range(9):
            mas[f, m] = ma_of(x, int(lengths[f, m]))                           # §4
            states[f, m] = crossover_state(close, mas[f, m])                   # §5
            equities[f, m] = equity(1.0, states[f, m], rg, config.cutout, config.delta)  # §6
        signals[f] = layer1_signal(states[f], equities[f])                    # §7
        family_eq[f] = equity(weights[f], signals[f], rg, config.cutout, config.delta)  # §8

    if families == 6:
        avg = average_signal(cut(signals, config.cut_threshold), family_eq)    # §8
        series = np.vstack([avg[None, :], signals])
        cols, alertb = series[config.base_index("colbase")], series[config.base_index("alertbase")]
    else:
        avg = np.full(n, np.nan)
        cols = alertb = signals[family]
    ev = direction_events(cols, alertb, config.long_threshold, config.short_threshold,
                          config.strategy)                                     # §9
    g_last = np.e ** (config.lam * (n - 1 - config.cutout)) if n - 1 >= config.cutout else np.nan
    result = ATCResult(
        average_signal=avg, signals=signals, family_equities=family_eq,
        signal_base=ev.signal_base, direction=ev.direction, arrow_long=ev.arrow_long,
        arrow_short=ev.arrow_short, long=ev.long, short=ev.short,
        growth_factor=float(g_last), cut_threshold=config.cut_threshold, backend="numpy",
    )
    if detail:
        result.mas = mas.reshape(54, n)
        result.states = states.reshape(54, n)
        result.equities = equities.reshape(54, n)
        result.rate_of_change = roc
    return result
