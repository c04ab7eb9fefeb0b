"""What the scan and sweep tasks share: the backend they run on, the rows a batch cannot
take (named per symbol, so one bad series never sinks its task), and chunked batch calls
whose outputs stay small enough to be recycled by the backend."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from core.backends.registry import default_registry
from core.errors import ATCInputError
from core.types import PRICE_MAX, PRICE_MIN, bad_price_bar

#: Output bytes one full-mode batch call may produce per symbol-bar (signals and equities of
#: six families, average, direction, two event flags), and the most per call: chunks this
#: small come back from the Rust backend's recycled buffers instead of fresh pages.
_BYTES_PER_SYMBOL_BAR = 6 * 8 * 2 + 8 + 8 + 2
CHUNK_OUTPUT_BYTES = 16 << 20
#: Backends a task may use, preferred first: compiled Rust, else the numba JIT.
WORKER_BACKENDS: tuple[str, ...] = ("rust", "numba")


def worker_backend(preferred: str | None = None) -> str:
    """The backend this process runs tasks on: ``preferred`` when given, else Rust when it
    is available here, else numba."""
    registry = default_registry()
    if preferred and preferred != "auto":
        registry.get(preferred)            # unknown or unavailable: an error naming it
        return preferred
    for name in WORKER_BACKENDS:
        if registry.probe(name).available:
            return name
    return registry.active()


def row_problem(values: np.ndarray) -> str | None:
    """Why one right-aligned row cannot be computed (None when it can)."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size < 2:
        return f"{finite.size} bar(s); at least 2 are needed"
    start = int(finite[0])
    bar = bad_price_bar(values, start)
    if bar is None:
        return None
    return (f"close at bar {bar - start} is {float(values[bar])!r}; prices must be finite and "
            f"within {PRICE_MIN:g} … {PRICE_MAX:g}")


def usable_rows(closes: np.ndarray, symbols: Sequence[str]) -> tuple[np.ndarray, dict[str, str]]:
    """Indices of the rows a batch can take, and the reason for each symbol left out."""
    if closes.size and closes.shape[1] >= 2 and np.nanmin(closes) >= PRICE_MIN \
            and np.nanmax(closes) <= PRICE_MAX and not np.isnan(closes[:, -1]).any() \
            and _left_padded(closes):
        return np.arange(closes.shape[0]), {}
    good, failures = [], {}
    for i, symbol in enumerate(symbols):
        problem = row_problem(closes[i])
        if problem is None:
            good.append(i)
        else:
            failures[symbol] = problem
    return np.array(good, dtype=np.int64), failures


def _left_padded(closes: np.ndarray) -> bool:
    """True when every row's NaNs are all on its left (no gap inside a history)."""
    present = ~np.isnan(closes)
    return bool(np.all(present[:, 1:] >= present[:, :-1]))


def chunks(rows: np.ndarray, bars: int) -> Iterator[np.ndarray]:
    """``rows`` in pieces whose full-mode outputs stay within ``CHUNK_OUTPUT_BYTES``."""
    size = max(1, CHUNK_OUTPUT_BYTES // max(bars * _BYTES_PER_SYMBOL_BAR, 1))
    for i in range(0, rows.size, size):
        yield rows[i:i + size]


def trim_left(block: np.ndarray) -> int:
    """The first column where some row of ``block`` has a price (leading all-NaN columns
    hold no bar of any symbol and need no computing)."""
    present = np.isfinite(block).any(axis=0)
    if not present.any():
        raise ATCInputError("a batch without any price", field="closes")
    return int(np.argmax(present))
