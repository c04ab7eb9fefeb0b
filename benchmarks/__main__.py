"""`python -m benchmarks [--repeats N] [--only engine,data,app,chart,live,scale] [--markdown FILE]`

Prints one table: workload, backend, median time over N runs after warm-up, the target,
and the speed-up against the previous (slower) backend on the same workload.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import sys
from pathlib import Path

SUITES = {
    "engine": "benchmarks.engine_bench",
    "data": "benchmarks.data_bench",
    "app": "benchmarks.app_bench",
    "chart": "benchmarks.chart_bench",
    "live": "benchmarks.live_bench",
    "layout": "benchmarks.layout_bench",
    "scale": "benchmarks.scale_bench",
}
BACKEND_ORDER = ["numpy", "numba generic", "numba", "numba specialised", "rust", "cuda"]


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def with_ratios(rows: list[dict]) -> list[dict]:
    """Add 'vs previous': speed-up over the next slower backend measured on the workload."""
    by_workload: dict[str, list[dict]] = {}
    for r in rows:
        by_workload.setdefault(r["workload"], []).append(r)
    for group in by_workload.values():
        ranked = sorted(group, key=lambda r: BACKEND_ORDER.index(r["backend"])
                        if r["backend"] in BACKEND_ORDER else len(BACKEND_ORDER))
        for prev, cur in zip(ranked, ranked[1:]):
            if prev["median_s"] and cur["median_s"] and prev["backend"] in BACKEND_ORDER:
                cur["vs_previous"] = f"{prev['median_s'] / cur['median_s']:.1f}× vs {prev['backend']}"
    return rows


def table(rows: list[dict]) -> list[list[str]]:
    out = [["workload", "backend", "median", "target", "meets", "vs previous", "note"]]
    for r in rows:
        target = r.get("target_s")
        meets = "-" if target is None or r["median_s"] is None else (
            "yes" if r["median_s"] <= target else "NO")
        if r.get("peak_target_mb") is not None and r.get("peak_mb") is not None:
            meets += "/mem " + ("yes" if r["peak_mb"] <= r["peak_target_mb"] else "NO")
        out.append([r["workload"], r["backend"], fmt_time(r["median_s"]),
                    "≤ " + fmt_time(target) if target else "-", meets,
                    r.get("vs_previous", ""), r.get("note", "")])
    return out


def render_text(cells: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    import numpy
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, numba {numba.__version__}, {platform.system()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites")
    parser.add_argument("--backends", help="comma-separated backends for the engine suite")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    skipped = []
    for suite in args.only.split(","):
        try:
            module = importlib.import_module(SUITES[suite.strip()])
        except ModuleNotFoundError as exc:
            skipped.append(f"{suite}: {exc}")
            continue
        print(f"running {suite} …", file=sys.stderr, flush=True)
        if suite == "engine":
            rows += module.run(args.repeats, args.backends.split(",") if args.backends else None)
        else:
            rows += module.run(args.repeats)
    cells = table(with_ratios(rows))
    header = f"Machine: {machine()}\nDate: {dt.date.today().isoformat()}, median of {args.repeats} runs after warm-up"
    print(header)
    print(render_text(cells))
    for s in skipped:
        print(f"skipped {s}")
    if args.markdown:
        notes = Path(__file__).with_name("notes.md")
        Path(args.markdown).write_text(
            "# Benchmarks\n\n`python -m benchmarks --markdown BENCHMARKS.md` regenerates this "
            "file.\n\n" + header.replace("\n", "  \n") + "\n\n" + render_markdown(cells) + "\n"
            + ("\n" + notes.read_text() if notes.exists() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
