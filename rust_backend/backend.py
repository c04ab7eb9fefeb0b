"""Adapter between the backend protocol and the compiled kernels in ``_native``.

It validates inputs with the core's array contract, hands contiguous float64 arrays to
Rust (no copy there), and turns the extension's errors into the project's:
``ValueError``/``TypeError`` → :class:`ATCInputError`, anything else →
:class:`BackendError`.
"""
from __future__ import annotations

import functools
import importlib
import math
from types import ModuleType
from typing import Any, Callable

import numpy as np

from core.backends.base import ProbeResult
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.types import MODES, ATCResult, BatchResult, as_batch, as_series, check_tail

NAME = "rust"
_REQUIRED = ("compute", "compute_batch", "thread_count", "simd_level", "__version__")


def _families(mode: str) -> int:
    """Families a batch mode computes: 6 for "full", 1 for "ema_only"."""
    if mode not in MODES:
        raise ATCInputError(f"mode = {mode!r} is not allowed: choose one of {' | '.join(MODES)}",
                            field="mode")
    return 6 if mode == "full" else 1


@functools.lru_cache(maxsize=64)
def _config_args(config: ATCConfig) -> tuple[Any, ...]:
    """The kernel arguments of a config (cached: configs are frozen and hashable)."""
    lengths = np.ascontiguousarray(config.member_lengths(), dtype=np.int64)
    weights = np.ascontiguousarray(config.weights(), dtype=np.float64)
    lengths.flags.writeable = False
    weights.flags.writeable = False
    return (lengths, weights, config.lam, config.delta, config.cutout, config.hma_kind,
            config.cut_threshold, config.long_threshold, config.short_threshold,
            config.strategy, config.base_index("colbase"), config.base_index("alertbase"))


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call the extension, mapping its errors to the project's."""
    try:
        return fn(*args)
    except ValueError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        field = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else None
        raise ATCInputError(message, field=field) from None
    except TypeError as exc:
        raise ATCInputError(str(exc)) from None
    except Exception as exc:  # the extension's RuntimeError, or anything unexpected
        raise BackendError(f"Rust kernels failed: {type(exc).__name__}: {exc}", backend=NAME) from exc


def growth_factor_last(config: ATCConfig, bars: int) -> float:
    """g on the last bar (§3), NaN before the cutout; computed as in the reference."""
    if bars - 1 < config.cutout:
        return math.nan
    return float(math.e ** (config.lam * (bars - 1 - config.cutout)))


class RustBackend:
    """The Rust kernels behind the :class:`core.backends.base.Backend` protocol.

    Parameters
    ----------
    native : the loaded ``rust_backend._native`` module, or None when it is unusable.
    reason : why ``native`` is None (shown by ``probe()`` and ``atc backends``).
    """

    name = NAME

    def __init__(self, native: ModuleType | None, reason: str = "") -> None:
        self._native = native
        self._reason = reason

    @classmethod
    def load(cls, module: str = "rust_backend._native") -> RustBackend:
        """Import the compiled module; a missing or broken one is recorded, not raised."""
        try:
            native = importlib.import_module(module)
        except Exception as exc:  # ImportError, OSError (bad .so), anything raised on init
            return cls(None, f"compiled module {module} could not be loaded "
                             f"({type(exc).__name__}: {exc}); build it with pip install -e '.[dev]'")
        missing = [a for a in _REQUIRED if not hasattr(native, a)]
        if missing:
            return cls(None, f"compiled module {module} is incomplete (missing {', '.join(missing)}); "
                             "rebuild it with pip install -e '.[dev]'")
        return cls(native)

    # -- protocol ------------------------------------------------------------------------
    def probe(self) -> ProbeResult:
        native = self._native
        if native is None:
            return ProbeResult(False, self._reason)
        try:
            threads = int(native.thread_count())
            simd = str(native.simd_level())
            version = str(native.__version__)
            # A tiny end-to-end call proves the module really runs on this machine.
            self.compute(np.linspace(100.0, 101.0, 64), ATCConfig())
        except Exception as exc:
            return ProbeResult(False, f"Rust kernels failed their self-check: {type(exc).__name__}: {exc}")
        return ProbeResult(True, f"compiled kernels ({simd})", version=version,
                           device=f"CPU ({threads} threads)", threads=threads,
                           extra={"simd": simd})

    def _module(self) -> ModuleType:
        if self._native is None:
            raise BackendError(f"backend rust is unavailable: {self._reason}", backend=NAME)
        return self._native

    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        native = self._module()
        close = as_series(close)
        if src is not None:
            src = as_series(src, "src")
            if src.shape != close.shape:
                raise ATCInputError(f"src has {src.size} bars but close has {close.size}", field="src")
        (avg, signals, fam_eq, base, direction, arrow_long, arrow_short, long, short,
         mas, states, equities) = _call(native.compute, close, src, *_config_args(config), bool(detail))
        return ATCResult(
            average_signal=avg, signals=signals, family_equities=fam_eq, signal_base=base,
            direction=direction, arrow_long=arrow_long, arrow_short=arrow_short, long=long,
            short=short, growth_factor=growth_factor_last(config, close.shape[0]),
            cut_threshold=config.cut_threshold, mas=mas, states=states, equities=equities,
            backend=NAME,
        )

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        native = self._module()
        families = _families(mode)
        closes, starts = as_batch(closes)
        tail = check_tail(tail, closes.shape[1])
        (signals, fam_eq, direction, long, short, last_event, since,
         avg) = _call(native.compute_batch, closes, starts, *_config_args(config), tail, families)
        return BatchResult(
            mode=mode, signals=signals, family_equities=fam_eq, direction=direction,
            long=long, short=short, last_event=last_event, bars_since_event=since,
            average_signal=avg, backend=NAME,
        )
