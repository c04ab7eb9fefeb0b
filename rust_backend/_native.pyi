"""Type stub of the compiled extension (``src/lib.rs``).

Arrays are borrowed without copying: float64 inputs must be C-contiguous (the adapter in
``backend.py`` guarantees this). Invalid input raises ``ValueError(message, field)`` or
``TypeError``; an internal failure raises ``RuntimeError``. The GIL is released while
computing.
"""
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.kernel_params import KernelParams

__version__: str

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

def compute(
    close: F64,
    src: F64 | None,
    params: KernelParams,
    detail: bool,
) -> tuple[
    F64, F64, F64, F64, F64, Bool, Bool, Bool, Bool,
    F64 | None, npt.NDArray[np.int8] | None, F64 | None,
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
    closes: F64,
    starts: npt.NDArray[np.int64],
    params: KernelParams,
    tail: int,
) -> tuple[F64, F64, F64, Bool, Bool, npt.NDArray[np.int8], npt.NDArray[np.int64], F64 | None]:
    """ATC of a right-aligned (symbols, bars) batch whose row i starts at ``starts[i]``,
    with ``params.families`` families (6 full, 1 EMA only).

    Returns, for the last ``tail`` bars: signals and family equities (symbols, families,
    tail), direction, long, short (symbols, tail), last_event (symbols,) int8,
    bars_since_event (symbols,) int64, and Average_Signal (symbols, tail) with six
    families (None with one).
    """

def thread_count() -> int:
    """Threads in the pool the kernels run on."""

def simd_level() -> Literal["baseline", "avx2", "avx512"]:
    """Instruction-set level the kernels dispatch to on this CPU."""

def _panic_for_tests() -> None:
    """Panic inside the kernels' error boundary; raises RuntimeError (tests only)."""
