"""Timings of the Rust backend on the issue's workloads (not a test: no asserts).

Run from the repository root: ``PYTHONPATH=. python tests/rust/timing_rust.py [--numba]``.
Prints the median of ``--repeats`` runs after a warm-up per workload; ``--numba`` adds
the numba generic path on 518×1500 for the speed-up ratio.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from core.config import ATCConfig  # noqa: E402
from rust_backend import create_backend  # noqa: E402


def walks(symbols: int, bars: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, (symbols, bars)), axis=1)))


def median(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


_PEAK = """
import sys, threading, time
import numpy as np, psutil
sys.path.insert(0, {repo!r})
from core.config import ATCConfig
from rust_backend import create_backend
b = create_backend()
rng = np.random.default_rng(11)
x = np.ascontiguousarray(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, (5000, 1500)), axis=1)))
b.compute_batch(x[:4], ATCConfig(), tail=1)
proc = psutil.Process()
base = peak = proc.memory_info().rss
done = threading.Event()
def sample():
    global peak
    while not done.is_set():
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.0005)
t = threading.Thread(target=sample)
t.start()
b.compute_batch(x, ATCConfig(), tail=1)
done.set()
t.join()
print((max(peak, proc.memory_info().rss) - base) / 2**20)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--numba", action="store_true")
    args = parser.parse_args()
    b = create_backend()
    probe = b.probe()
    print(f"rust {probe.version} {probe.device} {probe.extra}")
    cfg = ATCConfig()
    one = walks(1, 1500)[0]
    long_series = walks(1, 100_000, seed=3)[0]
    b518 = walks(518, 1500)
    b5000 = walks(5000, 1500, seed=11)
    r = args.repeats
    rows = [
        ("1×1500 detail", median(lambda: b.compute(one, cfg, detail=True), r * 5), 0.3e-3),
        ("1×100,000", median(lambda: b.compute(long_series, cfg), r), 10e-3),
        ("518×1500 full tail=1", median(lambda: b.compute_batch(b518, cfg), r), 25e-3),
        ("518×1500 full tail=1500", median(lambda: b.compute_batch(b518, cfg, tail=1500), r), None),
        ("5000×1500 full tail=1", median(lambda: b.compute_batch(b5000, cfg), max(3, r // 2)), 0.25),
        ("5000×1500 ema_only", median(lambda: b.compute_batch(b5000, cfg, mode="ema_only"), r), None),
    ]
    if args.numba:
        from core.jit.backend import NumbaBackend
        nb = NumbaBackend()
        rows.append(("518×1500 numba generic", median(lambda: nb.compute_batch(b518, cfg.replace(
            use_codegen_specialization=False)), r), None))
    for name, t, target in rows:
        goal = f"(target ≤ {target * 1e3:g} ms)" if target else ""
        print(f"{name:28s} {t * 1e3:9.3f} ms {goal}")
    peak = subprocess.run([sys.executable, "-c", _PEAK.format(repo=str(REPO))],
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"5000×1500 tail=1 peak RSS above the 60 MB input: {float(peak):.1f} MB (target ≤ 100 MB)")


if __name__ == "__main__":
    main()
