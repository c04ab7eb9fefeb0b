"""Old-versus-new engine timings, paired: ``python -m benchmarks.paired BASELINE_DIR``.

A shared machine's speed drifts between runs (by up to 1.5× on the 2-core VM this project
is measured on), so absolute timings from two runs cannot tell a 10 % change. This starts
one worker process in each source tree (this checkout and BASELINE_DIR, e.g. a
``git worktree`` of an earlier commit with its Rust extension built), asks them in turn,
alternating which goes first, to time the same workload, and reports the median over
rounds of the paired ratios new/old. Both trees must offer ``core.backends.registry`` and
``benchmarks.engine_bench.walks``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: workload → (backend, call, repetitions per round); the call sees b, cfg and the inputs.
WORKLOADS = {
    "rust-detail": ("rust", "b.compute(one, cfg, detail=True)", 200),
    "rust-100k": ("rust", "b.compute(long, cfg)", 20),
    "rust-518": ("rust", "b.compute_batch(b518, cfg)", 10),
    "rust-5000-tail1": ("rust", "b.compute_batch(b5000, cfg, tail=1)", 3),
    "rust-ema-only": ("rust", "b.compute_batch(b5000, cfg, mode='ema_only')", 5),
    "numba-detail": ("numba", "b.compute(one, cfg, detail=True)", 100),
    "numba-518": ("numba", "b.compute_batch(b518, cfg)", 5),
    "numba-ema-only": ("numba", "b.compute_batch(b5000, cfg, mode='ema_only')", 3),
}

_WORKER = r"""
import json, sys, time
from benchmarks.engine_bench import walks
from core.backends.registry import Registry
from core.config import ATCConfig
registry, cfg = Registry(), ATCConfig()
one, long = walks(1, 1500)[0], walks(1, 100_000, seed=3)[0]
b518, b5000 = walks(518, 1500), walks(5000, 1500, seed=11)
print("ready", flush=True)
for line in sys.stdin:
    backend, reps, call = line.rstrip("\n").split(" ", 2)
    b = registry.get(backend)
    eval(call)                                   # warm-up (JIT compile, caches)
    times = []
    for _ in range(int(reps)):
        t0 = time.perf_counter()
        eval(call)
        times.append(time.perf_counter() - t0)
    print(json.dumps(sorted(times)[len(times) // 2]), flush=True)
"""


def start(tree: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=tree, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def ask(proc: subprocess.Popen, workload: str) -> float:
    backend, call, reps = WORKLOADS[workload]
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{backend} {reps} {call}\n")
    proc.stdin.flush()
    return float(json.loads(proc.stdout.readline()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="source tree of the earlier version")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help="comma-separated workloads: " + ", ".join(WORKLOADS))
    args = parser.parse_args(argv)
    old, new = start(args.baseline.resolve()), start(REPO)
    print(f"{'workload':18s} {'old median':>11s} {'new median':>11s} {'new/old (paired)':>17s}  range")
    for workload in args.only.split(","):
        olds, news, ratios = [], [], []
        for r in range(args.rounds):
            first, second = (old, new) if r % 2 == 0 else (new, old)
            t = {id(first): ask(first, workload), id(second): ask(second, workload)}
            olds.append(t[id(old)])
            news.append(t[id(new)])
            ratios.append(t[id(new)] / t[id(old)])
        print(f"{workload:18s} {statistics.median(olds) * 1e3:9.3f}ms {statistics.median(news) * 1e3:9.3f}ms "
              f"{statistics.median(ratios):17.3f}  {min(ratios):.2f}–{max(ratios):.2f}", flush=True)
    for proc in (old, new):
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
