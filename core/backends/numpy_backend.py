"""The numpy reference as a backend: always available, slow, the yardstick."""
from __future__ import annotations

import numpy as np

from core.atc.reference import compute_reference
from core.backends.base import ProbeResult
from core.config import ATCConfig
from core.kernel_params import mode_families
from core.types import ATCResult, BatchResult, as_batch, as_close_and_src, check_tail


def last_event(long: np.ndarray, short: np.ndarray) -> tuple[int, int]:
    """(+1 long / −1 short / 0 none, bars since it or −1) over a whole history."""
    hits = np.flatnonzero(long | short)
    if hits.size == 0:
        return 0, -1
    i = int(hits[-1])
    return (1 if long[i] else -1), long.shape[0] - 1 - i


class NumpyBackend:
    """Runs :func:`core.atc.compute_reference` per series."""

    name = "numpy"

    def probe(self) -> ProbeResult:
        return ProbeResult(True, "reference implementation", version=np.__version__,
                           device="CPU (1 thread)", threads=1)

    def compute(self, close: np.ndarray, config: ATCConfig, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        close, x = as_close_and_src(close, src)
        return compute_reference(close, config, detail=detail, src=x)

    def compute_batch(self, closes: np.ndarray, config: ATCConfig, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        first, families = mode_families(mode)
        closes, starts = as_batch(closes)
        n_sym, n_bars = closes.shape
        tail = check_tail(tail, n_bars)
        nf = families
        out = BatchResult.allocate(mode, n_sym, tail, self.name)
        for i in range(n_sym):
            s = int(starts[i])
            res = compute_reference(closes[i, s:], config, families=families, family=first)
            k = min(tail, n_bars - s)          # bars of this row inside the tail
            out.signals[i, :, tail - k:] = res.signals[first:first + nf, -k:]
            out.family_equities[i, :, tail - k:] = res.family_equities[first:first + nf, -k:]
            out.direction[i, tail - k:] = res.direction[-k:]
            out.long[i, tail - k:] = res.long[-k:]
            out.short[i, tail - k:] = res.short[-k:]
            if out.average_signal is not None:
                out.average_signal[i, tail - k:] = res.average_signal[-k:]
            out.last_event[i], out.bars_since_event[i] = last_event(res.long, res.short)
        return out
