"""Calibration view (as in TradingView's ATC): one family's nine member MAs instead of the
six family lines, so the user sees why the family votes as it does. Qt-free: what the
chart draws and the legend says about a family at one bar."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import FAMILIES

from atc_desktop.chart.data import ChartData, state_classes

MEMBERS = 9


def family_index(family: str) -> int:
    """Row block of ``family`` in the (54, n) detail arrays (family-major, spec §4.1 order)."""
    try:
        return FAMILIES.index(family)
    except ValueError:
        raise ValueError(f"unknown family {family!r}: choose one of {', '.join(FAMILIES)}") from None


def member_line(data: ChartData, family: int, member: int) -> tuple[np.ndarray, np.ndarray]:
    """Member ``member`` (0 … 8, spec §4.1 order) of ``family``: its MA and the trend
    classes of its crossover state (spec §5)."""
    r = data.result
    assert r.mas is not None and r.states is not None
    row = family * MEMBERS + member
    return r.mas[row], state_classes(r.states[row])


@dataclass(frozen=True)
class Vote:
    """How a family's nine members stand at one bar (spec §7): F_Signal is
    Σ state·equity / Σ equity, so each side weighs by its members' equities."""

    long: int
    short: int
    flat: int
    long_weight: float      # share of Σ equity held by the long members, 0 … 1 (NaN: no equities)
    short_weight: float


def vote(data: ChartData, family: int, bar: int) -> Vote:
    states = data.member_states(bar)[family]
    equities = data.member_equities(bar)[family]
    total = float(np.sum(equities)) if np.isfinite(equities).all() else float("nan")
    ok = np.isfinite(total) and total > 0

    def share(mask: np.ndarray) -> float:
        return float(np.sum(equities[mask]) / total) if ok else float("nan")

    return Vote(int(np.sum(states > 0)), int(np.sum(states < 0)), int(np.sum(states == 0)),
                share(states > 0), share(states < 0))
