"""Measure a built bundle: its unpacked size (with the largest parts) and the time from
launching it to a painted watchlist with values.

    python packaging/measure.py                     # dist/ATC-Desktop, 5 launches
    python packaging/measure.py --runs 3 --home /tmp/atc-measure

Launches use ``--home`` (a profile of their own) and ``--exit-when-painted``, offscreen.
The first launch in a fresh home compiles numba's kernels into that home's cache (cold);
the launches after it are the warm-cache figure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def size_breakdown(app_dir: Path, depth: int = 2) -> tuple[int, list[tuple[int, str]]]:
    """Total bytes of regular files, and bytes per path prefix of ``depth`` components
    below ``_internal`` (or the bundle root)."""
    parts: Counter[str] = Counter()
    total = 0
    for path in app_dir.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.lstat().st_size
        total += size
        rel = path.relative_to(app_dir).parts
        key = rel[: depth + 1] if rel[0] == "_internal" else rel[:depth]
        parts["/".join(key)] += size
    return total, sorted(((v, k) for k, v in parts.items()), reverse=True)


def start_times(app_dir: Path, home: Path, runs: int) -> list[float]:
    """Seconds from launching the executable to the app's "painted" line, per launch."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for key in ("PYTHONPATH", "NUMBA_CACHE_DIR", "ATC_DESKTOP_HOME"):
        env.pop(key, None)
    times = []
    for _ in range(runs):
        t0 = time.time()
        run = subprocess.run([str(app_dir / "ATC-Desktop"), "--home", str(home), "--exit-when-painted"],
                             env=env, capture_output=True, text=True, timeout=600, cwd=home)
        line = next((x for x in run.stdout.splitlines() if x.startswith("painted ")), None)
        if run.returncode != 0 or line is None:
            raise SystemExit(f"launch failed (exit {run.returncode}): {run.stderr[-2000:]}")
        times.append(float(line.split()[1]) - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app_dir", nargs="?", type=Path, default=ROOT / "dist" / "ATC-Desktop")
    parser.add_argument("--runs", type=int, default=5, help="launches (the first may be cold)")
    parser.add_argument("--home", type=Path, help="profile folder (default: a new temporary one)")
    parser.add_argument("--top", type=int, default=15, help="largest parts to list")
    args = parser.parse_args()
    total, parts = size_breakdown(args.app_dir)
    print(f"{args.app_dir}: {total / 1e6:.1f} MB ({total / 2**20:.1f} MiB) unpacked")
    for size, name in parts[: args.top]:
        print(f"  {size / 1e6:8.1f} MB  {name}")
    if args.runs > 0:
        home = args.home or Path(tempfile.mkdtemp(prefix="atc-measure-"))
        home.mkdir(parents=True, exist_ok=True)
        times = start_times(args.app_dir, home, args.runs)
        print("start to painted watchlist: " + ", ".join(f"{t:.2f}" for t in times) + " s")
        if len(times) > 1:
            print(f"  first launch {times[0]:.2f} s; later launches (warm cache): median "
                  f"{statistics.median(times[1:]):.2f} s, best {min(times[1:]):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
