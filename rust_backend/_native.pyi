"""Type stub of the compiled extension (``src/lib.rs``).

Arrays are borrowed without copying: float64 inputs must be C-contiguous (the adapter in
``backend.py`` guarantees this). Invalid input raises ``ValueError(message, field)`` or
``TypeError``; an internal failure raises ``RuntimeError``. The GIL is released while
computing.
"""
from typing import Final, Literal, final

import numpy as np
import numpy.typing as npt

from core.config import ATCConfig
from core.kernel_params import KernelParams

__all__ = [
    "__version__", "SINGLE_OUTPUTS", "BATCH_OUTPUTS", "compute", "compute_batch", "prices_within",
    "thread_count", "simd_level", "_panic_for_tests", "IncrementalStates", "incremental_init", "incremental_update",
    "incremental_forming", "incremental_detail",
]

__version__: str

#: The names of the result fields (``core.types.ATCResult``) that the items of
#: :func:`compute`'s tuple fill, in tuple order, then ``rate_of_change`` (the R that
#: :func:`incremental_detail` appends). From the crate's output layout (``src/layout.rs``),
#: which also places the arrays: read the tuples by these names, not by position.
SINGLE_OUTPUTS: Final[tuple[str, ...]]
#: Likewise for the batch tuples (``core.types.BatchResult``): :func:`compute_batch` and
#: the incremental batch calls.
BATCH_OUTPUTS: Final[tuple[str, ...]]

# Private aliases (stub only).
_F64 = npt.NDArray[np.float64]
_Bool = npt.NDArray[np.bool_]

def compute(
    close: _F64,
    src: _F64 | None,
    params: KernelParams,
    detail: bool,
) -> tuple[
    _F64, _F64, _F64, _F64, _F64, _Bool, _Bool, _Bool, _Bool,
    _F64 | None, npt.NDArray[np.int8] | None, _F64 | None,
]:
    """Full ATC of one series of n bars.

    ``params`` is a :class:`core.kernel_params.KernelParams` (its attributes are read:
    the (6, 9) int64 ``lengths``, the 6 ``weights``, ``lam`` = λ and ``delta`` = δ in
    kernel units, ``cutout``, ``hma_kind``, the thresholds, ``strategy``,
    ``colbase``/``alertbase`` 0 for Average_Signal or 1 + family; ``families`` is ignored).
    Returns (average (n,), signals (6, n), family equities (6, n), signal_base (n,),
    direction (n,), arrow_long, arrow_short, long, short (n,) bool, then with ``detail``
    the 54 MAs (TradingView's values bit for bit, spec §4.8), int8 states and member
    equities (54, n) each, else three None). An invalid attribute raises
    ``ValueError(message, field)`` naming it.
    """

def compute_batch(
    closes: _F64,
    starts: npt.NDArray[np.int64],
    params: KernelParams,
    tail: int,
) -> tuple[_F64, _F64, _F64, _Bool, _Bool, npt.NDArray[np.int8], npt.NDArray[np.int64], _F64 | None]:
    """ATC of a right-aligned (symbols, bars) batch whose row i starts at ``starts[i]``,
    with ``params.families`` families (6 full, 1 EMA only).

    Returns, for the last ``tail`` bars: signals and family equities (symbols, families,
    tail), direction, long, short (symbols, tail), last_event (symbols,) int8,
    bars_since_event (symbols,) int64, and Average_Signal (symbols, tail) with six
    families (None with one).
    """

def prices_within(closes: _F64, lo: float, hi: float) -> bool:
    """Whether every value of a C-contiguous (symbols, bars) float64 batch lies within
    ``lo … hi`` (NaN does not): one pass over the thread pool, the adapter's check of a
    batch without padding."""

def thread_count() -> int:
    """Threads in the pool the kernels run on."""

def simd_level() -> Literal["baseline", "avx2", "avx512"]:
    """Instruction-set level the kernels dispatch to on this CPU."""

def _panic_for_tests() -> None:
    """Panic inside the kernels' error boundary; raises RuntimeError (tests only)."""

@final
class IncrementalStates:
    """Per-symbol ATC states of one parameter set: everything the indicator carries from
    bar to bar (MA recursions and windows, crossover states, equities and ``a``, Layer 2,
    direction, last event). Built by :func:`incremental_init`; mutated only by
    :func:`incremental_update` and :func:`incremental_detail` with ``commit``.
    """

    @property
    def with_src(self) -> bool:
        """Whether the states were built with a separate MA source (then every call takes one)."""
    @property
    def config(self) -> ATCConfig:
        """The configuration passed to :func:`incremental_init` (kept for the adapter)."""
    @property
    def params(self) -> KernelParams:
        """The kernel parameters the states were built with."""
    def __len__(self) -> int: ...
    def nbytes_per_symbol(self) -> int:
        """The largest symbol's state in bytes, heap parts included (larger while an EMA
        or DEMA is still seeding)."""
    def nbytes(self) -> int:
        """Bytes held by all states."""
    def bars(self) -> npt.NDArray[np.int64]:
        """Closed bars each symbol's state holds, (symbols,)."""
    def copy(self) -> IncrementalStates:
        """An independent copy."""
    def __copy__(self) -> IncrementalStates: ...
    def __deepcopy__(self, _memo: object) -> IncrementalStates: ...

def incremental_init(
    closes: _F64,
    src: _F64 | None,
    params: KernelParams,
    tail: int,
    config: ATCConfig,
) -> tuple[IncrementalStates, tuple[_F64, _F64, _F64, _Bool, _Bool, npt.NDArray[np.int8], npt.NDArray[np.int64], _F64]]:
    """States of a right-aligned, NaN-left-padded (symbols, bars) batch (``src`` of the
    same shape and padding, or None), each row's bars appended from its first price, and
    the outputs of the last ``tail`` bars as :func:`compute_batch` returns them (six
    families). ``params.families`` must be 6; ``config`` is stored for the caller.
    """

def incremental_update(
    states: IncrementalStates,
    new_bars: _F64,
    src: _F64 | None,
) -> tuple[_F64, _F64, _F64, _Bool, _Bool, npt.NDArray[np.int8], npt.NDArray[np.int64], _F64]:
    """Append a (symbols, k) block of closed bars, right-aligned (a row's bars follow its NaN
    left padding; a row of NaN has none), and return their outputs as
    :func:`compute_batch` with ``tail = k`` (na / False where a symbol has no bar;
    last_event and bars_since_event over the whole history). ``src`` is given exactly when
    the states have one. Invalid input raises ``ValueError(message, field)`` naming the
    row and column before any state changes.
    """

def incremental_forming(
    states: IncrementalStates,
    forming_bars: _F64,
    src: _F64 | None,
) -> tuple[_F64, _F64, _F64, _Bool, _Bool, npt.NDArray[np.int8], npt.NDArray[np.int64], _F64]:
    """Outputs of each symbol's forming bar ((symbols,), NaN for none) as if it closed now,
    as :func:`compute_batch` with ``tail = 1``; the states are not changed."""

def incremental_detail(
    states: IncrementalStates,
    symbol: int,
    closes: _F64,
    src: _F64 | None,
    commit: bool,
) -> tuple[
    _F64, _F64, _F64, _F64, _F64, _Bool, _Bool, _Bool, _Bool,
    _F64, npt.NDArray[np.int8], _F64, _F64,
]:
    """Bars ``closes`` (all prices) of one symbol with every output: :func:`compute`'s
    tuple with detail for those bars, then R (n,). With ``commit`` they are appended to
    that symbol's state; without, evaluated on a copy (forming bars)."""
