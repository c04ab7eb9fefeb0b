"""The one contract every compute backend implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class Readiness:
    """Whether a backend serves a (configuration, mode) at full speed now.

    ``state`` is one of:

    * ``"ready"``: nothing is left to prepare (also every backend without ``prepare``);
    * ``"cold"``: not prepared; the first call does the work in line (e.g. compiles);
    * ``"preparing"``: the work runs in the background; calls are served meanwhile, more
      slowly (numba: its generic kernel);
    * ``"failed"``: the background work failed; ``reason`` says why and when it is tried
      again; calls are still served the slower way.
    """

    state: Literal["ready", "cold", "preparing", "failed"]
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


READY = Readiness("ready")


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
        bars only. ``mode`` is one of ``core.types.MODES``: ``"full"``, ``"ema_only"``
        or ``"family:F"`` (screening on one family)."""
        ...


@runtime_checkable
class IncrementalBackend(Protocol):
    """Optional: a backend that keeps each symbol's ATC state from bar to bar.

    ``states`` is the backend's own object (one per parameter set and batch of symbols,
    ``len()`` = symbols). Every output equals the full computation over the same history,
    bit for bit. A changed configuration or rewritten history needs a new
    ``incremental_init``; states are never patched.
    """

    def incremental_init(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                         src: np.ndarray | None = None) -> tuple[Any, BatchResult]:
        """States of a right-aligned ``(symbols, bars)`` batch, and its last ``tail`` bars'
        outputs (as ``compute_batch``)."""
        ...

    def incremental_update(self, states: Any, new_bars: np.ndarray,
                           src: np.ndarray | None = None) -> BatchResult:
        """Append closed bars (``(symbols, k)``, right-aligned, NaN where a symbol has
        none); returns those ``k`` bars' outputs."""
        ...

    def incremental_forming(self, states: Any, forming: np.ndarray,
                            src: np.ndarray | None = None) -> BatchResult:
        """Outputs of each symbol's forming bar (``(symbols,)``, NaN for none); the states
        are not changed."""
        ...

    def incremental_forming_detail(self, states: Any, symbol: int, close: float,
                                   src: float | None = None) -> ATCResult:
        """Every output of one symbol's forming bar, detail included; states unchanged."""
        ...


@runtime_checkable
class PreparingBackend(Protocol):
    """Optional: a backend with work to do before it serves a configuration at full speed
    (numba builds a specialised screening kernel per configuration). An interactive caller
    prepares before each call, so that no call waits for that work; a backend without these
    methods counts as ready.
    """

    def prepare(self, config: ATCConfig, mode: str = "full") -> Readiness:
        """Start, without blocking, what serving ``(config, mode)`` at full speed needs
        (again after a failure, once its back-off has passed). From then on
        ``compute_batch`` for it never waits for that work: it serves the slower way until
        the work is done."""
        ...

    def readiness(self, config: ATCConfig, mode: str = "full") -> Readiness:
        """Where the work for ``(config, mode)`` stands; starts nothing."""
        ...

    def wait_prepared(self, timeout: float | None = None) -> bool:
        """Wait until every preparation started so far has finished (its result kept, e.g.
        in an on-disk cache); False when ``timeout`` seconds pass first."""
        ...
