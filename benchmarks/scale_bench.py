"""Sweep benchmarks: 500 symbols × 1,500 daily bars × 64 parameter sets, full ATC and the
backtest, in-process and on a LocalCluster of 2 worker processes; the per-task overhead
and the bytes a task moves.

``python -m benchmarks.scale_bench [--repeats N]`` prints the rows; ``python -m benchmarks``
includes them (suite ``scale``). Every run writes a fresh output folder; the first run of
each engine is a warm-up (workers load the kernels and read their partition once).
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.timing import median_time, row

from core.data.providers.synthetic import SyntheticProvider
from core.distribute import InProcess, open_engine
from core.grid import parse_grid
from core.batch_tasks import worker_backend
from core.sweep import plan, read_results, run_sweep, run_sweep_task
from core.universe import bars_from_provider, export_universe, open_universe

SYMBOLS, BARS = 500, 1500
GRID = """
[grid]
ema_len = [14, 20, 28, 36]
La = [0.01, 0.02, 0.03, 0.04]
De = [0.02, 0.03, 0.05, 0.08]
[backtest]
cost_bps = 5
"""
WORK = SYMBOLS * BARS * 64
#: Targets: ≥ 40 M symbol-bar-sets/s in-process (Rust), LocalCluster ≥ 0.85× of that.
TARGET_RATE = 40e6
TARGET_CLUSTER_RATIO = 0.85


def _noop(x: int) -> int:
    return x


def _timed_sweep(universe, grid, engine, out: Path) -> float:
    t0 = time.perf_counter()
    report = run_sweep(universe, grid, out, engine)
    seconds = time.perf_counter() - t0
    assert not report.failed_tasks, report.failed_tasks
    return seconds


def paired_sweeps(universe, grid, cluster, folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    """In-process and cluster runs alternated (after one warm-up each), so that a machine
    whose speed drifts affects both alike; fresh output folders every time."""
    here, there = [], []
    for i in range(repeats + 1):
        h = _timed_sweep(universe, grid, InProcess(), folder / f"here-{i}.parquet")
        t = _timed_sweep(universe, grid, cluster, folder / f"there-{i}.parquet")
        if i:
            here.append(h)
            there.append(t)
    return here, there


def per_task_overhead(engine, tasks: int = 400) -> float:
    """Seconds of scheduling per task: a round of empty tasks, divided by their number."""
    list(engine.run(_noop, list(range(20))))           # connections warm
    t0 = time.perf_counter()
    list(engine.run(_noop, list(range(tasks))))
    return (time.perf_counter() - t0) / tasks


def run(repeats: int = 7) -> list[dict]:
    repeats = max(1, min(repeats, 5))                  # each run is seconds long
    grid = parse_grid(GRID)
    rows = []
    with tempfile.TemporaryDirectory(prefix="atc-scale-bench-") as tmp:
        folder = Path(tmp)
        provider = SyntheticProvider(count=SYMBOLS, bars=BARS, seed=11)
        export_universe(str(folder / "u"), bars_from_provider(provider, "1d"), "1d",
                        source="synthetic", symbols_per_file=SYMBOLS)
        universe = open_universe(str(folder / "u"))
        tasks = plan(universe, grid, worker_backend())
        task_bytes = len(pickle.dumps(tasks[0]))
        result = run_sweep_task(tasks[0])
        result_bytes = len(pickle.dumps(result))
        with open_engine("local:2") as engine:
            here, there = paired_sweeps(universe, grid, engine, folder, repeats)
            overhead = per_task_overhead(engine)
        here_s, there_s = statistics.median(here), statistics.median(there)
        ratio = statistics.median(h / t for h, t in zip(here, there))
        last = len(here)
        same = read_results(folder / f"here-{last}.parquet").equals(
            read_results(folder / f"there-{last}.parquet"))
        backend = result.backend
        rows.append(row("sweep 500×1500×64 (full ATC + backtest)", f"{backend} in-process",
                        here_s, WORK / TARGET_RATE,
                        f"{WORK / here_s / 1e6:.1f} M symbol-bar-sets/s (target ≥ "
                        f"{TARGET_RATE / 1e6:.0f} M)"))
        rows.append(row("sweep 500×1500×64 (full ATC + backtest)", f"{backend} LocalCluster 2 procs",
                        there_s, here_s / TARGET_CLUSTER_RATIO,
                        f"{WORK / there_s / 1e6:.1f} M/s; {ratio:.2f}× in-process, median of "
                        f"{len(here)} alternated pairs (target ≥ {TARGET_CLUSTER_RATIO}×); "
                        f"bit-identical: {'yes' if same else 'NO'}"))
        per_task = result.symbol_bars
        rows.append(row("Dask per-task overhead (empty task, 2 procs)", "dask", overhead, None,
                        f"{len(tasks)} tasks of {per_task:,} symbol-bars; {task_bytes:,} B "
                        f"pickled task in, {result_bytes:,} B result out (the worker reads its "
                        "partition itself)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_bench")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from benchmarks.__main__ import render_text, table

    print(render_text(table(run(args.repeats))))


if __name__ == "__main__":
    main()
