"""The CUDA results against the numpy reference: the probe's self-check batch and the
row-by-row comparison that the probe (:func:`cuda_backend.backend.self_check`) and the GPU
self-test (``python -m tools.gpu_selftest``) share.
"""
from __future__ import annotations

import importlib
from typing import Any, Iterable

import numpy as np
import numpy.typing as npt

from core import agreement
from core.config import ATCConfig
from core.types import ATCResult, BatchResult


def compute_reference(close: npt.NDArray[np.float64], config: ATCConfig, families: int) -> ATCResult:
    """The numpy reference, loaded by name at run time: the backend package keeps no static
    dependency on core.atc (pyproject.toml's import contracts); only this check uses it."""
    reference: Any = importlib.import_module("core.atc").compute_reference
    result: ATCResult = reference(close, config, families=families)
    return result


def check_batch() -> tuple[npt.NDArray[np.float64], list[int], ATCConfig]:
    """The probe's self-check batch: four 300-bar series full of near-ties — cent prices
    with flat stretches, a 5-decimal FX walk, a constant series, a cent walk starting late —
    and a Narrow parameter set whose WMA and LSMA windows exceed ATC_DIRECT_MAX (so their
    running sums and the safe band are exercised, across an exact re-sum on bar 256)."""
    rng = np.random.default_rng(11)
    bars = 300
    cents = np.round(25.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, bars))), 2)
    cents[60:90] = cents[60]
    cents[200:215] = cents[200]
    fx = np.round(1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0004, bars))), 5)
    late = np.round(3.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars))), 2)
    firsts = [0, 0, 0, 170]
    late[:firsts[3]] = np.nan
    closes = np.vstack([cents, fx, np.full(bars, 12.34), late])
    config = ATCConfig(robustness="Narrow", ema_len=9, hull_len=10, wma_len=14, dema_len=7,
                       lsma_len=13, kama_len=8, cutout=3)
    return closes, firsts, config


def batch_mismatches(out: BatchResult, closes: npt.NDArray[np.float64], firsts: Iterable[int],
                     config: ATCConfig, tail: int, mode: str) -> list[str]:
    """Rows of a batch result that differ from the reference on the row's own history
    (:mod:`core.agreement`: discrete fields exactly, continuous within 1e-9)."""
    nf = 6 if mode == "full" else 1
    n = closes.shape[1]
    bad = []
    for row, first in enumerate(firsts):
        ref = compute_reference(closes[row, first:], config, families=nf)
        k = min(tail, n - first)
        pairs: list[tuple[str, str, Any, Any]] = [
            ("signals", "signals", out.signals[row, :, tail - k:], ref.signals[:nf, -k:]),
            ("equities", "family_equities", out.family_equities[row, :, tail - k:],
             ref.family_equities[:nf, -k:]),
            ("direction", "direction", out.direction[row, tail - k:], ref.direction[-k:]),
            ("long", "long", out.long[row, tail - k:], ref.long[-k:]),
            ("short", "short", out.short[row, tail - k:], ref.short[-k:])]
        if mode == "full":
            assert out.average_signal is not None
            pairs.append(("average", "average_signal", out.average_signal[row, tail - k:],
                          ref.average_signal[-k:]))
        for name, field, got, want in pairs:
            exact = field in agreement.DISCRETE_BATCH_FIELDS
            problem = agreement.column_mismatch(name, got, want, exact)
            if problem:
                bad.append(f"row {row}: {problem}")
        hits = np.flatnonzero(ref.long | ref.short)
        want_event = ((1 if ref.long[hits[-1]] else -1), ref.long.size - 1 - int(hits[-1])) if hits.size else (0, -1)
        got_event = (int(out.last_event[row]), int(out.bars_since_event[row]))
        if got_event != want_event:
            bad.append(f"row {row}: last event {got_event} != {want_event}")
    return bad
