"""Adapter between the backend protocol and the compiled kernels in ``_native``.

It validates inputs with the core's array contract, hands contiguous float64 arrays to
Rust (no copy there), and turns the extension's errors into the project's:
``ValueError``/``TypeError`` → :class:`ATCInputError`, anything else →
:class:`BackendError`.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

import numpy as np

from core.backends.base import ProbeResult
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.kernel_params import kernel_params
from core.types import ATCResult, BatchResult, as_batch, as_series, check_tail, rate_of_change

NAME = "rust"
_REQUIRED = ("compute", "compute_batch", "thread_count", "simd_level", "__version__")



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
        params = kernel_params(config)
        (avg, signals, fam_eq, base, direction, arrow_long, arrow_short, long, short,
         mas, states, equities) = _call(native.compute, close, src, params, bool(detail))
        return ATCResult(
            average_signal=avg, signals=signals, family_equities=fam_eq, signal_base=base,
            direction=direction, arrow_long=arrow_long, arrow_short=arrow_short, long=long,
            short=short, growth_factor=params.growth_factor_last(close.shape[0]),
            cut_threshold=config.cut_threshold, mas=mas, states=states, equities=equities,
            rate_of_change=rate_of_change(close) if detail else None, backend=NAME,
        )

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        native = self._module()
        params = kernel_params(config, mode)
        closes, starts = as_batch(closes)
        tail = check_tail(tail, closes.shape[1])
        (signals, fam_eq, direction, long, short, last_event, since,
         avg) = _call(native.compute_batch, closes, starts, params, tail)
        return BatchResult(
            mode=mode, signals=signals, family_equities=fam_eq, direction=direction,
            long=long, short=short, last_event=last_event, bars_since_event=since,
            average_signal=avg, backend=NAME,
        )
