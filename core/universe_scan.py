"""Screening a whole universe: the latest ATC values of every symbol, one task per partition.

Modes: ``ema_only`` (the EMA family alone, the watchlist's screening signal), ``full``
(all six families and the Average_Signal), both, or ``family:F`` (family F alone, as the
watchlist screens with another family; its columns are prefixed ``f_``, e.g.
``kama_signal``, ``kama_direction``). The table is the same whether the
tasks ran in-process or on any cluster: each row depends only on its symbol's bars, the
parameters and the backend, and rows are put in partition order before sorting.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from core.backends.registry import default_registry
from core.batch_tasks import trim_left, usable_rows, worker_backend
from core.config import FAMILIES, ATCConfig
from core.distribute import Engine
from core.errors import ATCInputError
from core.kernel_params import MODE_FAMILIES, mode_families
from core.universe import Universe, panel_cache

#: Scan modes → the batch modes they run: EMA-only screening, the full ATC, both, or one
#: family alone (the batch modes "family:F").
MODES = {"ema_only": ("ema_only",), "full": ("full",), "both": ("ema_only", "full"),
         **{m: (m,) for m in MODE_FAMILIES if m.startswith("family:")}}


def _family_of(mode: str) -> str:
    """The family a one-family batch mode screens on ("ema_only" is EMA's)."""
    return FAMILIES[mode_families(mode)[0]]


@dataclass(frozen=True)
class ScanTask:
    url: str
    partition: int
    config: ATCConfig
    modes: tuple[str, ...]
    backend: str


@dataclass
class ScanPart:
    partition: int
    columns: dict[str, np.ndarray]
    failures: dict[str, str]
    seconds: float


def run_scan_task(task: ScanTask) -> ScanPart:
    """The latest values of one partition's symbols (runs on a worker or here)."""
    t0 = time.perf_counter()
    panel = panel_cache.get(task.url)
    rows, failures = usable_rows(panel.close, panel.symbols)
    cols: dict[str, np.ndarray] = {
        "symbol": np.array([panel.symbols[i] for i in rows], dtype=object),
        "date": panel.last_timestamp[rows].astype("datetime64[ns]"),
        "close": panel.close[rows, -1],
        "bars": panel.bars[rows],
    }
    if rows.size:
        block = panel.close[rows]
        block = block[:, trim_left(block):]
        registry = default_registry()
        for mode in task.modes:
            res = registry.compute_batch(block, task.config, tail=1, mode=mode, backend=task.backend)
            prefix = "" if mode == "full" else _family_of(mode).lower() + "_"
            if mode == "full":
                assert res.average_signal is not None
                cols["average_signal"] = res.average_signal[:, -1]
                for f, name in enumerate(FAMILIES):
                    cols[f"{name.lower()}_signal"] = res.signals[:, f, -1]
            else:
                cols[prefix + "signal"] = res.signals[:, 0, -1]
            cols[prefix + "direction"] = res.direction[:, -1]
            cols[prefix + "last_event"] = res.last_event.astype(np.int64)
            cols[prefix + "bars_since_event"] = res.bars_since_event.astype(np.int64)
            cols["backend"] = np.array([res.backend] * rows.size, dtype=object)
    return ScanPart(task.partition, cols, failures, time.perf_counter() - t0)


@dataclass
class ScanReport:
    table: Any                                        # pandas DataFrame, best signal first
    failed_tasks: dict[str, str] = field(default_factory=dict)
    failed_symbols: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    sort_column: str = ""


def run_scan(universe: Universe, config: ATCConfig, mode: str, engine: Engine, *,
             backend: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> ScanReport:
    import pandas as pd

    if mode not in MODES:
        raise ATCInputError(f"mode = {mode!r} is not allowed: choose one of {' | '.join(MODES)}",
                            field="mode")
    modes = MODES[mode]
    name = worker_backend(backend)
    tasks = [ScanTask(universe.url(p), k, config, modes, name)
             for k, p in enumerate(universe.partitions)]
    parts: list[ScanPart | None] = [None] * len(tasks)
    report = ScanReport(None)
    t0 = time.perf_counter()
    done = 0
    for outcome in engine.run(run_scan_task, tasks):
        if outcome.error is not None:
            report.failed_tasks[universe.partitions[outcome.index].path] = outcome.error
        else:
            parts[outcome.index] = outcome.value
            report.failed_symbols.update(outcome.value.failures)
        done += 1
        if progress:
            progress(done, len(tasks))
    report.seconds = time.perf_counter() - t0
    frames = [pd.DataFrame(p.columns) for p in parts if p is not None and len(p.columns["symbol"])]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    report.sort_column = ("average_signal" if "full" in modes
                          else _family_of(modes[0]).lower() + "_signal")
    if not table.empty:
        first = ["symbol", "date", "close", "bars", report.sort_column]
        table = table[first + [c for c in table.columns if c not in first and c != "backend"]
                      + ["backend"]]
        table = table.sort_values([report.sort_column, "symbol"], ascending=[False, True],
                                  kind="stable", na_position="last").reset_index(drop=True)
    report.table = table
    return report
