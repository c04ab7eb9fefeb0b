"""The one object every compiled backend receives instead of a dozen flat arguments.

Built once from an :class:`ATCConfig` (and a batch mode); the numba adapter, the Rust
extension (a ``FromPyObject`` struct reading these attributes) and the CUDA host all take
their constants from here, so the rules below exist once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from core.config import ATCConfig
from core.errors import ATCInputError
from core.types import MODES

#: Batch modes and how many families each computes (EMA is family 0).
MODE_FAMILIES: dict[str, int] = dict(zip(MODES, (6, 1)))


def families_for_mode(mode: str) -> int:
    """Number of families a batch mode computes (6 full, 1 ema_only)."""
    try:
        return MODE_FAMILIES[mode]
    except (KeyError, TypeError):
        raise ATCInputError(
            f"mode = {mode!r} is not allowed: choose one of {' | '.join(MODE_FAMILIES)}",
            field="mode") from None


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
    families: int = 6          # 6 = full ATC, 1 = EMA-only screening

    @classmethod
    def from_config(cls, config: ATCConfig, mode: str = "full") -> KernelParams:
        lengths = config.member_lengths()
        weights = config.weights()
        lengths.flags.writeable = False
        weights.flags.writeable = False
        return cls(lengths=lengths, weights=weights, lam=config.lam, delta=config.delta,
                   cutout=config.cutout, hma_kind=config.hma_kind,
                   cut_threshold=config.cut_threshold, long_threshold=config.long_threshold,
                   short_threshold=config.short_threshold, strategy=config.strategy,
                   colbase=config.base_index("colbase"),
                   alertbase=config.base_index("alertbase"),
                   families=families_for_mode(mode))

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
