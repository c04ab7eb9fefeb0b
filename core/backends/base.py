"""The one contract every compute backend implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.config import ATCConfig
from core.types import ATCResult, BatchResult


@dataclass(frozen=True)
class ProbeResult:
    """Whether a backend can run here, and why not when it cannot."""

    available: bool
    reason: str = ""
    version: str = ""
    device: str = ""
    threads: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A compute engine for the full ATC.

    Every backend returns what the numpy reference returns for the same input: continuous
    outputs within 1e-9 relative, discrete outputs identical.
    """

    name: str

    def probe(self) -> ProbeResult:
        """Check (cheaply, without raising) whether this backend can run here."""
        ...

    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        """Full ATC of one validated series (see :func:`core.types.as_series`).

        ``src`` feeds the 54 MAs when given (spec §2); R and crossovers always use close.
        """
        ...

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        """ATC of a right-aligned, NaN-left-padded ``(symbols, bars)`` batch, last ``tail``
        bars only. ``mode`` is ``"full"`` or ``"ema_only"`` (screening)."""
        ...
