"""Parameter sweeps: every parameter set of a grid × every symbol of a universe, backtested.

One task is one universe partition (thousands of symbols) × one parameter set: one
backend call per chunk of symbols with every bar's events, then the compiled backtest.
Tasks run in-process or on Dask (:mod:`core.distribute`); each finished task is written at
once as its own Parquet file, atomically (a temporary name, then a rename), so the output
folder is always a readable Parquet dataset, a rerun skips what is already there, and a
stopped run, a dead worker or a failed task costs only the unfinished tasks.

Output folder ``OUT.parquet/``::

    _sweep.json                        what was swept (grid, backtest, universe, backend)
    set-00000-part-00000.parquet       one row per symbol of partition 0 under set 0
    …
    _best_per_symbol.csv               written at the end: each symbol's best set

``pandas.read_parquet("OUT.parquet")`` reads every row (files starting with ``_`` or ``.``
are skipped by Parquet readers).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.backends.registry import default_registry
from core.backtest import METRICS, BacktestOptions
from core.batch_tasks import chunks, trim_left, usable_rows, worker_backend
from core.config import ATCConfig
from core.distribute import Engine
from core.errors import ATCInputError
from core.grid import Grid
from core.universe import Universe, panel_cache

FORMAT = "atc-sweep"
VERSION = 1
MANIFEST = "_sweep.json"
BEST_FILE = "_best_per_symbol.csv"
#: Metrics where lower is better (the rest: higher is better).
LOWER_IS_BETTER = ("max_drawdown",)


@dataclass(frozen=True)
class SweepTask:
    """One partition × one parameter set (picklable; what a worker receives)."""

    url: str
    partition: int
    set_index: int
    config: ATCConfig
    backtest: BacktestOptions
    periods_per_year: float
    backend: str

    @property
    def file_name(self) -> str:
        return part_name(self.set_index, self.partition)


@dataclass
class SweepPart:
    """What a task returns: per symbol metrics (rows in ``symbols`` order), the symbols it
    had to leave out with their reasons, and the time it took."""

    set_index: int
    partition: int
    symbols: list[str]
    metrics: np.ndarray          # (symbols, len(METRICS))
    bars: np.ndarray             # (symbols,)
    failures: dict[str, str]
    backend: str
    seconds: float
    symbol_bars: int


def part_name(set_index: int, partition: int) -> str:
    return f"set-{set_index:05d}-part-{partition:05d}.parquet"


def run_sweep_task(task: SweepTask) -> SweepPart:
    """Compute one task (runs on a worker, or here in-process)."""
    t0 = time.perf_counter()
    panel = panel_cache.get(task.url)
    rows, failures = usable_rows(panel.close, panel.symbols)
    metrics = np.full((panel.close.shape[0], len(METRICS)), np.nan)
    registry = default_registry()
    from core.jit.backtest import backtest_batch

    used = task.backend
    for part in chunks(rows, panel.close.shape[1]):
        block = panel.close[part]
        left = trim_left(block)
        block = block[:, left:]
        result = registry.compute_batch(block, task.config, tail=block.shape[1], mode="full",
                                        backend=task.backend)
        used = result.backend
        metrics[part] = backtest_batch(panel.open[part, left:], block, result.long, result.short,
                                       task.backtest, task.periods_per_year)
    return SweepPart(task.set_index, task.partition, [panel.symbols[i] for i in rows],
                     metrics[rows], panel.bars[rows], failures, used,
                     time.perf_counter() - t0, int(panel.bars[rows].sum()))


@dataclass
class SweepReport:
    """How a sweep went."""

    tasks: int
    skipped: int                                  # finished by an earlier run
    written: int
    failed_tasks: dict[str, str] = field(default_factory=dict)   # task name → reason
    failed_symbols: dict[str, str] = field(default_factory=dict)  # symbol → reason
    seconds: float = 0.0
    symbol_bar_sets: int = 0                      # computed by this run
    task_seconds: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Symbol-bar-parameter-sets per second of this run's wall time."""
        return self.symbol_bar_sets / self.seconds if self.seconds > 0 else 0.0


def plan(universe: Universe, grid: Grid, backend: str) -> list[SweepTask]:
    ppy = grid.backtest.annualisation(universe.interval)
    return [SweepTask(universe.url(p), k, s, grid.configs[s], grid.backtest, ppy, backend)
            for s in range(len(grid)) for k, p in enumerate(universe.partitions)]


def _manifest(universe: Universe, grid: Grid, backend: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "grid": grid.fingerprint(),
            "fields": list(grid.fields), "sets": [list(v) for v in grid.values],
            "backtest": grid.backtest.to_dict(), "universe": universe.fingerprint(),
            "backend": backend}


def prepare_output(out: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Create the output folder, or check that an existing one holds this very sweep (so
    its finished parts may be kept); anything else there is refused, never overwritten."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ATCInputError(f"{out}: is a file; a sweep writes a folder of Parquet files "
                            "(choose another -o)", field="output")
    if not path.parent.is_dir():
        raise ATCInputError(f"{out}: the folder {path.parent} does not exist", field="output")
    mf = path / MANIFEST
    if path.is_dir():
        if mf.exists():
            try:
                old = json.loads(mf.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ATCInputError(f"{mf}: unreadable ({exc}); choose another -o", field="output") from None
            if old != manifest:
                what = [k for k in ("grid", "backtest", "universe", "backend") if old.get(k) != manifest.get(k)]
                raise ATCInputError(f"{out} holds a sweep of another {' and '.join(what) or 'kind'}; "
                                    "choose another -o (or delete that folder to start over)",
                                    field="output")
            return path
        if any(path.iterdir()):
            raise ATCInputError(f"{out}: the folder exists and is not a sweep's output; "
                                "choose another -o", field="output")
    path.mkdir(exist_ok=True)
    _write_atomically(mf, json.dumps(manifest, indent=1).encode())
    return path


def _write_atomically(target: Path, data: bytes | None = None,
                      fill: Callable[[str], None] | None = None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if data is not None:
                fh.write(data)
        if fill is not None:
            fill(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def part_table(part: SweepPart, grid: Grid) -> Any:
    """A finished task's rows as an Arrow table."""
    import pyarrow as pa

    n = len(part.symbols)
    cols: dict[str, Any] = {"symbol": pa.array(part.symbols, pa.string()),
                            "set": pa.array(np.full(n, part.set_index, np.int32))}
    for name, value in zip(grid.fields, grid.values[part.set_index]):
        cols[name] = pa.array([value] * n)
    for k, name in enumerate(METRICS):
        values = part.metrics[:, k]
        cols[name] = pa.array(values.astype(np.int64) if name == "trades" else values)
    cols["bars"] = pa.array(part.bars.astype(np.int64))
    cols["backend"] = pa.array([part.backend] * n, pa.string())
    return pa.table(cols)


def run_sweep(universe: Universe, grid: Grid, out: str | os.PathLike[str], engine: Engine, *,
              backend: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> SweepReport:
    """Run (or resume) a sweep into the folder ``out``; see the module docstring."""
    import pyarrow.parquet as pq

    name = worker_backend(backend)
    folder = prepare_output(out, _manifest(universe, grid, name))
    tasks = plan(universe, grid, name)
    todo = [t for t in tasks if not (folder / t.file_name).exists()]
    report = SweepReport(len(tasks), len(tasks) - len(todo), 0)
    done = report.skipped
    if progress:
        progress(done, len(tasks))
    t0 = time.perf_counter()
    for outcome in engine.run(run_sweep_task, todo):
        task = todo[outcome.index]
        if outcome.error is not None:
            where = (f"set {task.set_index} ({grid.describe(task.set_index)}), partition "
                     f"{universe.partitions[task.partition].path}")
            report.failed_tasks[where] = outcome.error
        else:
            part: SweepPart = outcome.value
            table = part_table(part, grid)
            _write_atomically(folder / task.file_name, fill=partial(pq.write_table, table))
            report.written += 1
            report.failed_symbols.update(part.failures)
            report.symbol_bar_sets += part.symbol_bars
            report.task_seconds.append(part.seconds)
        done += 1
        if progress:
            progress(done, len(tasks))
    report.seconds = time.perf_counter() - t0
    if not report.failed_tasks:
        best = best_per_symbol(folder)
        if best is not None:
            _write_atomically(folder / BEST_FILE, best.to_csv(index=False).encode())
    return report


def read_results(folder: str | os.PathLike[str]) -> Any:
    """Every row of a sweep's output as a pandas DataFrame (sorted by set, then symbol)."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(folder), format="parquet")
    frame = dataset.to_table().to_pandas()
    return frame.sort_values(["set", "symbol"], kind="stable").reset_index(drop=True)


def best_per_symbol(folder: str | os.PathLike[str], metric: str = "sharpe") -> Any:
    """Each symbol's best parameter set by ``metric`` (ties: the lower set number)."""
    frame = read_results(folder)
    if frame.empty:
        return None
    ascending = metric in LOWER_IS_BETTER
    ranked = frame.dropna(subset=[metric]).sort_values(["symbol", metric, "set"],
                                                       ascending=[True, ascending, True])
    return ranked.groupby("symbol", sort=True).head(1).reset_index(drop=True)


def universe_summary(frame: Any, grid_fields: list[str], metric: str = "sharpe") -> Any:
    """Per parameter set across the universe: median and mean of ``metric``, mean total
    return and drawdown, trades, and how many symbols it is best for; best sets first."""
    ascending = metric in LOWER_IS_BETTER
    by = frame.groupby("set", sort=True)
    table = by[grid_fields].first() if grid_fields else by[["symbol"]].count().iloc[:, :0]
    table[f"median_{metric}"] = by[metric].median()
    table[f"mean_{metric}"] = by[metric].mean()
    table["mean_total_return"] = by["total_return"].mean()
    table["mean_max_drawdown"] = by["max_drawdown"].mean()
    table["trades"] = by["trades"].sum()
    ranked = frame.dropna(subset=[metric]).sort_values(["symbol", metric, "set"],
                                                       ascending=[True, ascending, True])
    wins = ranked.groupby("symbol").head(1)["set"].value_counts()
    table["best_for"] = wins.reindex(table.index).fillna(0).astype(int)
    return table.sort_values(f"median_{metric}", ascending=ascending, kind="stable")
