"""The one object every compiled backend receives instead of a dozen flat arguments.

Built once from an :class:`ATCConfig` (and a batch mode); the numba adapter, the Rust
extension (a ``FromPyObject`` struct reading these attributes) and the CUDA host all take
their constants from here, so the rules below exist once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from core.config import FAMILIES, ATCConfig
from core.errors import ATCInputError
from core.types import MODES, BatchArrays, BatchResult

#: Batch modes → (first family computed, how many): the full ATC, EMA-only screening, or
#: one family "family:F" (family indices in the order of FAMILIES; EMA is 0).
MODE_FAMILIES: dict[str, tuple[int, int]] = {
    "full": (0, 6), "ema_only": (0, 1),
    **{f"family:{name}": (f, 1) for f, name in enumerate(FAMILIES)}}
assert tuple(MODE_FAMILIES) == MODES


def mode_families(mode: str) -> tuple[int, int]:
    """(first family, number of families) a batch mode computes; an unknown mode is an
    ATCInputError naming the field and the allowed modes."""
    try:
        return MODE_FAMILIES[mode]
    except (KeyError, TypeError):
        raise ATCInputError(
            f"mode = {mode!r} is not allowed: choose one of {' | '.join(MODE_FAMILIES)}",
            field="mode") from None


def families_for_mode(mode: str) -> int:
    """Number of families a batch mode computes (6 full, 1 for ema_only and family:F)."""
    return mode_families(mode)[1]


def family_mode(name: str) -> str:
    """The batch mode that screens on one family by name ("KAMA" → "family:KAMA"; "EMA" →
    "ema_only", the same computation under its established name)."""
    if name not in FAMILIES:
        raise ATCInputError(f"family = {name!r} is not allowed: choose one of "
                            f"{' | '.join(FAMILIES)}", field="family")
    return "ema_only" if name == FAMILIES[0] else f"family:{name}"


@dataclass(frozen=True, eq=False)
class KernelParams:
    """Kernel constants in the units the arithmetic uses (λ and δ, not La and De)."""

    lengths: np.ndarray        # (6, 9) int64, family order of FAMILIES, member order of §4.1
    weights: np.ndarray        # (6,) float64 Layer-2 starting equities
    lam: float                 # λ = La / 1000
    delta: float               # δ = De / 100
    cutout: int
    hma_kind: str              # "sma" (TradingView) or "hull"
    cut_threshold: float
    long_threshold: float
    short_threshold: float
    strategy: bool
    colbase: int               # 0 = Average_Signal, 1 + f = family f
    alertbase: int
    families: int = 6          # 6 = full ATC, 1 = one family (screening)
    family: int = 0            # the first family computed: the screened one when families = 1

    @classmethod
    def from_config(cls, config: ATCConfig, mode: str = "full") -> KernelParams:
        lengths = config.member_lengths()
        weights = config.weights()
        lengths.flags.writeable = False
        weights.flags.writeable = False
        family, families = mode_families(mode)
        return cls(lengths=lengths, weights=weights, lam=config.lam, delta=config.delta,
                   cutout=config.cutout, hma_kind=config.hma_kind,
                   cut_threshold=config.cut_threshold, long_threshold=config.long_threshold,
                   short_threshold=config.short_threshold, strategy=config.strategy,
                   colbase=config.base_index("colbase"),
                   alertbase=config.base_index("alertbase"),
                   families=families, family=family)

    @property
    def family_name(self) -> str:
        """The screened family's name (one-family modes)."""
        return FAMILIES[self.family]

    @property
    def mode_label(self) -> str:
        """How notes and readiness name what a batch computes: "full ATC" or "F-only"."""
        return "full ATC" if self.families == 6 else f"{self.family_name}-only"

    @property
    def hull(self) -> bool:
        return self.hma_kind == "hull"

    def growth_factor_last(self, bars: int) -> float:
        """g on the last bar (spec §3) as the reference computes it; NaN before the cutout."""
        if bars - 1 < self.cutout:
            return math.nan
        return float(math.e ** (self.lam * (bars - 1 - self.cutout)))


@functools.lru_cache(maxsize=64)
def kernel_params(config: ATCConfig, mode: str = "full") -> KernelParams:
    """The kernel constants of a config and batch mode, one object per (config, mode)
    (configs are frozen and hashable), so every backend's per-parameter caches hit on
    repeated calls. An unknown mode is an ATCInputError naming the field."""
    return KernelParams.from_config(config, mode)


@functools.lru_cache(maxsize=64)
def full_with_family_base(params: KernelParams) -> KernelParams:
    """Six-family parameters whose §9 base (colbase and alertbase) is the one family of
    ``params``: their direction and events are exactly those of that family alone (spec §9
    with its F_Signal as base, as in ema_only), and Layer 1 and 2 do not depend on the base.
    A backend without a one-family kernel for that family computes these and keeps the
    family's rows (``keep_family``)."""
    base = 1 + params.family
    return replace(params, families=6, family=0, colbase=base, alertbase=base)


def keep_family(full: BatchResult, params: KernelParams, mode: str) -> BatchResult:
    """The one-family result of ``params`` (mode ``mode``) from a full batch result computed
    with ``full_with_family_base(params)``: the family's signal and equity rows, the
    direction and events as they are, no Average_Signal."""
    f = params.family
    return BatchResult.from_arrays(mode, BatchArrays(
        signals=np.ascontiguousarray(full.signals[:, f:f + 1]),
        family_equities=np.ascontiguousarray(full.family_equities[:, f:f + 1]),
        direction=full.direction, long=full.long, short=full.short,
        last_event=full.last_event, bars_since_event=full.bars_since_event,
        average_signal=None), full.backend,
        notes=full.notes + [f"{params.family_name}-only: from the full computation "
                            "(no one-family kernel for it on this backend)"])
