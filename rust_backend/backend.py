"""Adapter between the backend protocol and the compiled kernels in ``_native``.

It validates inputs with the core's array contract, hands contiguous float64 arrays to
Rust (no copy there), and turns the extension's errors into the project's:
``ValueError``/``TypeError`` → :class:`ATCInputError`, anything else →
:class:`BackendError`.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, NotRequired, TypedDict, cast

import numpy as np
import numpy.typing as npt

from core.backends.base import ProbeResult
from core.config import ATCConfig
from core.errors import ATCInputError, BackendError
from core.kernel_params import full_with_family_base, keep_family, kernel_params
from core.types import (
    PRICE_MAX,
    PRICE_MIN,
    ATCResult,
    BatchArrays,
    BatchResult,
    as_batch,
    as_series,
    bad_price_bar,
    batch_row_error,
    check_tail,
    price_rule_violation,
    rate_of_change,
)

if TYPE_CHECKING:
    from rust_backend._native import IncrementalStates

NAME = "rust"
#: The result tuples are read by the names the extension gives (``SINGLE_OUTPUTS``,
#: ``BATCH_OUTPUTS``: its output layout), never by position.
_REQUIRED = ("compute", "compute_batch", "prices_within", "thread_count", "simd_level", "__version__",
             "SINGLE_OUTPUTS", "BATCH_OUTPUTS")
#: The incremental engine's entry points (an older build lacks them; compute still works).
_INCREMENTAL = ("IncrementalStates", "incremental_init", "incremental_update", "incremental_forming",
                "incremental_detail")


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

    def _incremental(self) -> ModuleType:
        native = self._module()
        missing = [a for a in _INCREMENTAL if not hasattr(native, a)]
        if missing:
            raise BackendError(f"the compiled Rust module has no incremental engine (missing {', '.join(missing)}); "
                               "rebuild it with python -m rust_backend.install_native", backend=NAME)
        return native

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
        arrays = _call(native.compute, close, src, params, bool(detail))
        return _single_result(native.SINGLE_OUTPUTS, arrays, config, params.growth_factor_last(close.shape[0]),
                              rate_of_change(close) if detail else None)

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        """Batch ATC. The kernels compute six families or EMA alone; any other one family
        (``family:F``) is the full computation with that family as §9's base, its rows
        kept (``core.kernel_params.keep_family``): the same bits, at the full cost."""
        native = self._module()
        params = kernel_params(config, mode)
        closes, starts = as_batch(closes, within=native.prices_within)
        tail = check_tail(tail, closes.shape[1])
        if params.families == 1 and params.family != 0:
            full = full_with_family_base(params)
            arrays = _call(native.compute_batch, closes, starts, full, tail)
            return keep_family(_batch_result(native.BATCH_OUTPUTS, arrays, "full"), params, mode)
        return _batch_result(native.BATCH_OUTPUTS, _call(native.compute_batch, closes, starts, params, tail), mode)

    # -- incremental (core.backends.base.IncrementalBackend) -----------------------------
    def incremental_init(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                         src: np.ndarray | None = None) -> tuple[IncrementalStates, BatchResult]:
        """Full ATC of a right-aligned, NaN-left-padded ``(symbols, bars)`` batch that keeps
        each symbol's state for :meth:`incremental_update` and :meth:`incremental_forming`.

        Returns the states and the last ``tail`` bars' outputs, equal to
        ``compute_batch(closes, config, tail)``. ``src`` (same shape and padding) feeds the
        MAs as in :meth:`compute`; states built with it take it on every later call. The
        states hold ``config``: a changed configuration, or rewritten history (a split, a
        corrected bar), needs a new ``incremental_init``, never a patch.
        """
        native = self._incremental()
        params = kernel_params(config)
        closes, _ = as_batch(closes, within=native.prices_within)
        if src is not None:
            src, _ = as_batch(src, "src", within=native.prices_within)
        tail = check_tail(tail, closes.shape[1])
        states, arrays = _call(native.incremental_init, closes, src, params, tail, config)
        return states, _batch_result(native.BATCH_OUTPUTS, arrays, "full")

    def incremental_update(self, states: IncrementalStates, new_bars: np.ndarray,
                           src: np.ndarray | None = None) -> BatchResult:
        """Append closed bars to every symbol's state; returns the outputs of those bars.

        ``new_bars`` is ``(symbols, k)`` in the states' symbol order (a 1-D ``(symbols,)``
        array is one bar each), right-aligned like a batch: a symbol with fewer new bars
        has NaN on the left, a row of NaN has none. The result has ``tail = k``; columns
        where a symbol has no bar are NaN / False, and ``last_event``/``bars_since_event``
        cover the whole history. Every value equals the full computation over the
        extended history, bit for bit. Bad prices (a NaN after a row's first value, a
        value outside the core's price limits) raise before any state changes.

        One call at a time per states object: a call on states that another thread is
        using raises :class:`BackendError` (the states are never shared mid-update).
        """
        native = self._incremental()
        new = _float_block(new_bars, "new_bars")
        src_block = None if src is None else _float_block(src, "src")
        return _batch_result(native.BATCH_OUTPUTS, _call(native.incremental_update, states, new, src_block), "full")

    def incremental_forming(self, states: IncrementalStates, forming: np.ndarray,
                            src: np.ndarray | None = None) -> BatchResult:
        """Outputs of each symbol's still-forming bar (``(symbols,)``, NaN for none) as if
        it closed now, with ``tail = 1``; the states are not changed, so this runs on every
        tick. Equal, bit for bit, to what :meth:`incremental_update` returns when that bar
        closes at this price."""
        native = self._incremental()
        forming_arr = _float_block(_float_array(forming, "forming", 1), "forming").ravel()
        src_arr = None if src is None else _float_block(_float_array(src, "src", 1), "src").ravel()
        return _batch_result(native.BATCH_OUTPUTS, _call(native.incremental_forming, states, forming_arr, src_arr),
                             "full")

    def incremental_forming_detail(self, states: IncrementalStates, symbol: int, close: float,
                                   src: float | None = None) -> ATCResult:
        """Every output of one symbol's forming bar, the 54 MAs, crossover states and member
        equities included (an :class:`ATCResult` of one bar, as ``compute(detail=True)``
        reports that bar); the states are not changed."""
        return self._detail(states, symbol, [close], None if src is None else [src], commit=False)

    def incremental_update_detail(self, states: IncrementalStates, symbol: int, closes: np.ndarray,
                                  src: np.ndarray | None = None) -> ATCResult:
        """Append closed bars to one symbol's state (the others are not touched) and return
        every output of those bars, detail included (an :class:`ATCResult` of ``k`` bars)."""
        return self._detail(states, symbol, closes, src, commit=True)

    def _detail(self, states: IncrementalStates, symbol: int, closes: Any, src: Any,
                commit: bool) -> ATCResult:
        native = self._incremental()
        if not isinstance(symbol, (int, np.integer)) or isinstance(symbol, bool):
            raise ATCInputError(f"symbol = {symbol!r} must be an index into the states", field="symbol")
        close_arr = _prices(closes, "closes")
        src_arr = None if src is None else _prices(src, "src")
        first = int(states.bars()[symbol]) if 0 <= symbol < len(states) else 0
        arrays = _call(native.incremental_detail, states, int(symbol), close_arr, src_arr, commit)
        growth = states.params.growth_factor_last(first + close_arr.shape[0])
        return _single_result(native.SINGLE_OUTPUTS, arrays, states.config, growth, None)


_F64 = npt.NDArray[np.float64]
_Bool = npt.NDArray[np.bool_]


class _SingleArrays(TypedDict):
    """The native single-series tuple by name (``_native.SINGLE_OUTPUTS``): the ATCResult
    fields it fills."""
    average_signal: _F64
    signals: _F64
    family_equities: _F64
    signal_base: _F64
    direction: _F64
    arrow_long: _Bool
    arrow_short: _Bool
    long: _Bool
    short: _Bool
    mas: _F64 | None
    states: npt.NDArray[np.int8] | None
    equities: _F64 | None
    #: Only in ``incremental_detail``'s tuple.
    rate_of_change: NotRequired[_F64 | None]


def _single_result(names: tuple[str, ...], arrays: tuple[npt.NDArray[Any] | None, ...], config: ATCConfig,
                   growth_factor: float, roc: _F64 | None) -> ATCResult:
    """An ATCResult from the native single-series tuple, read by the names the extension
    gives (its output layout); ``roc`` is R where the tuple has none."""
    fields = cast(_SingleArrays, dict(zip(names, arrays)))
    fields.setdefault("rate_of_change", roc)
    return ATCResult(**fields, growth_factor=growth_factor, cut_threshold=config.cut_threshold, backend=NAME)


def _batch_result(names: tuple[str, ...], arrays: tuple[npt.NDArray[Any] | None, ...], mode: str) -> BatchResult:
    """A BatchResult from the native batch tuple, read by the names the extension gives."""
    return BatchResult.from_arrays(mode, cast(BatchArrays, dict(zip(names, arrays))), NAME)


def _float_array(values: object, name: str, ndim: int) -> np.ndarray:
    """``values`` as a C-contiguous float64 array of ``ndim`` dimensions; prices are
    checked by the kernels (which name the row and column)."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ATCInputError(f"{name} is not numeric: {exc}", field=name) from None
    if arr.ndim != ndim:
        shape = "(symbols,)" if ndim == 1 else "(symbols, bars)"
        raise ATCInputError(f"{name} must be {ndim}-D {shape}, got shape {arr.shape}", field=name)
    return arr


def _float_block(values: object, name: str) -> np.ndarray:
    """A block of new bars: ``(symbols, k)``, or ``(symbols,)`` for one bar each; each row
    NaN on the left (no bar), then prices within the core's limits (as a batch's rows)."""
    arr = np.asarray(values)
    arr = _float_array(arr[:, None] if arr.ndim == 1 else arr, name, 2)
    if arr.size == 0 or (arr.min() >= PRICE_MIN and arr.max() <= PRICE_MAX):
        return arr          # the common case: every symbol has every bar (or no bars: the kernels say so)
    present = ~np.isnan(arr)
    starts = np.where(present.any(axis=1), np.argmax(present, axis=1), arr.shape[1])
    inside = np.arange(arr.shape[1])[None, :] >= starts[:, None]
    bad = inside & ~((arr >= PRICE_MIN) & (arr <= PRICE_MAX))
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        raise batch_row_error(arr[row], row, int(starts[row]), name)
    return arr


def _prices(values: object, name: str) -> np.ndarray:
    """One symbol's bars: every value a price within the core's limits."""
    arr = _float_array(values, name, 1)
    bar = bad_price_bar(arr)
    if bar is not None:
        raise ATCInputError(price_rule_violation(name, bar, float(arr[bar])), field=name)
    return arr
