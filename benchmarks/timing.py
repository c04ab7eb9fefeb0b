"""Timing and memory helpers shared by the benchmark modules."""
from __future__ import annotations

import statistics
import threading
import time
from typing import Callable

import psutil


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1,
                setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn`` over ``repeats`` timed runs after ``warmup`` untimed ones;
    ``setup`` runs untimed before every run."""
    times = []
    for i in range(warmup + max(1, repeats)):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_above(fn: Callable[[], object], interval: float = 0.0005) -> float:
    """Peak resident memory (bytes) above the level before ``fn`` ran, sampled in a thread.

    Catches allocations that tracemalloc does not see (numba's and Rust's allocators).
    """
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        peak = max(peak, proc.memory_info().rss)
        done.set()
        thread.join()
    return float(max(0, peak - base))


def row(workload: str, backend: str, median_s: float | None, target_s: float | None = None,
        note: str = "", **extra: object) -> dict:
    return {"workload": workload, "backend": backend, "median_s": median_s,
            "target_s": target_s, "note": note, **extra}
