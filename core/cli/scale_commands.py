"""`atc export`, `atc scan --universe` and `atc sweep`: universes beyond one machine.

* ``atc export DIR`` writes the bar store (or ``--source csv:DIR|bundled|synthetic``) to a
  Parquet universe (:mod:`core.universe`).
* ``atc scan --universe DIR`` screens it (:mod:`core.universe_scan`).
* ``atc sweep --universe DIR --grid GRID.toml -o OUT.parquet`` backtests every parameter
  set on every symbol (:mod:`core.sweep`).

``--cluster`` (scan, sweep): absent, in-process; ``local`` or ``local:N``, a LocalCluster of
N worker processes; an address, an existing Dask scheduler. Exit status: 0 all done, 1
some symbols or tasks failed (each named on stderr), 2 bad input, an unreachable
scheduler, or nothing computed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from core.backends.registry import BACKEND_CHOICES
from core.cli import exit_status
from core.data.intervals import INTERVALS
from core.errors import ATCInputError

_CLUSTER_HELP = ("where tasks run: absent = in this process; local or local:N = a Dask "
                 "LocalCluster of N worker processes; ADDRESS = an existing Dask scheduler "
                 "(tcp://host:8786)")
_BACKEND_HELP = "backend on the workers (default: rust, numba where Rust is missing)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="write bars to a Parquet universe for scans and sweeps",
        description="Write the bar store (or another source) to DIR as a Parquet universe: "
                    "DIR/interval=I/part-NNNNN.parquet files of a few thousand symbols each, "
                    "and a manifest with the interval, adjustment and cleaning reports. DIR "
                    "may be any fsspec URL (a folder, s3://bucket/path, …).")
    p.add_argument("dir", metavar="DIR", help="universe folder or URL")
    p.add_argument("--source", default="store",
                   help="store (default: the local bar store), csv:DIR, bundled or synthetic")
    p.add_argument("--interval", default="1d", choices=INTERVALS, help="bar interval (default 1d)")
    p.add_argument("--db", type=Path, default=None, metavar="FILE",
                   help="bar store file (default: bars.sqlite3 in the user data folder)")
    p.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="only these symbols")
    p.add_argument("--symbols-per-file", type=int, default=2000, metavar="N",
                   help="symbols per partition file, i.e. per task (default 2000)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing universe of this interval")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser(
        "sweep", help="backtest a grid of parameter sets on every symbol of a universe",
        description="Every parameter set of GRID.toml × every symbol of the universe, "
                    "backtested (README 'Scale out'); one Parquet file per finished task "
                    "under OUT.parquet/, so a rerun resumes where the last one stopped.",
        epilog="exit status: 0 all done, 1 some tasks or symbols failed, 2 bad input")
    p.add_argument("--universe", required=True, metavar="DIR", help="universe folder or URL")
    p.add_argument("--grid", required=True, metavar="GRID.toml", help="the parameter grid")
    p.add_argument("--interval", choices=INTERVALS, help="which universe under DIR (when several)")
    p.add_argument("--cluster", metavar="ADDRESS|local[:N]", help=_CLUSTER_HELP)
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for a scheduler at ADDRESS (default 10)")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help=_BACKEND_HELP)
    p.add_argument("--metric", default="sharpe", help="metric that ranks the sets (default sharpe)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="sets shown in the summary")
    p.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="output folder")
    p.set_defaults(func=cmd_sweep)


def add_universe_scan_options(p: argparse.ArgumentParser) -> None:
    """The options `atc scan` takes for a universe (the rest of `scan` is in main.py)."""
    p.add_argument("--universe", metavar="DIR", help="scan a Parquet universe (atc export) "
                                                     "instead of the bundled data")
    p.add_argument("--interval", choices=INTERVALS, help="which universe under DIR (when several)")
    p.add_argument("--mode", choices=("ema_only", "full", "both"),
                   help="EMA-only screening, full ATC, or both (default); --family F instead "
                        "screens on family F alone")
    p.add_argument("--cluster", metavar="ADDRESS|local[:N]", help=_CLUSTER_HELP)
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for a scheduler at ADDRESS (default 10)")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help=_BACKEND_HELP)
    p.add_argument("--top", type=int, default=20, metavar="N", help="rows printed (default 20)")
    p.add_argument("-o", "--output", metavar="OUT.csv|OUT.parquet", help="write the whole table")


class Progress:
    """A one-line progress bar on stderr (only on a terminal: logs get the summary)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or not total:
            return
        width = 30
        fill = int(width * done / total)
        print(f"\r{self.label} {done}/{total} [{'#' * fill}{'.' * (width - fill)}] "
              f"{100 * done / total:3.0f}% {time.perf_counter() - self.t0:6.1f} s",
              end="\n" if done == total else "", file=sys.stderr, flush=True)


def _engine(args: argparse.Namespace) -> Any:
    from core.distribute import open_engine

    if not 0 < args.connect_timeout <= 3600:
        raise ATCInputError(f"--connect-timeout {args.connect_timeout:g}: allowed 0 … 3600 s",
                            field="connect-timeout")
    engine = open_engine(args.cluster, connect_timeout=args.connect_timeout)
    link = engine.dashboard_link
    if args.cluster:
        print(f"atc: running on {engine.description}"
              + (f"; dashboard {link}" if link else ""), file=sys.stderr)
    return engine


def _report_failures(failed_tasks: dict[str, str], failed_symbols: dict[str, str]) -> None:
    for symbol, reason in failed_symbols.items():
        print(f"atc: {symbol}: {reason}", file=sys.stderr)
    for task, reason in failed_tasks.items():
        print(f"atc: task {task} failed: {reason}", file=sys.stderr)


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise ATCInputError(f"--{name} = {value} must be ≥ 1", field=name)
    return value


def cmd_export(args: argparse.Namespace) -> int:
    from core.universe import bars_from_provider, bars_from_store, export_universe

    _positive(args.symbols_per_file, "symbols-per-file")
    if args.source == "store":
        series = bars_from_store(args.db, args.interval, args.symbols)
        source = "store"
    else:
        if args.db is not None:
            raise ATCInputError("--db belongs to --source store", field="db")
        series = bars_from_provider(args.source, args.interval, args.symbols)
        source = args.source
    t0 = time.perf_counter()
    universe = export_universe(args.dir, series, args.interval, source=source,
                               symbols_per_file=args.symbols_per_file, overwrite=args.overwrite)
    unclean = sum(1 for r in universe.cleaning.values() if r.get("counts"))
    print(f"wrote {len(universe.symbols)} symbols ({sum(p.symbol_bars for p in universe.partitions):,} "
          f"bars) of {args.interval} in {len(universe.partitions)} partition(s) to {universe.root} "
          f"in {time.perf_counter() - t0:.1f} s")
    print(f"adjustment: {universe.adjustment}; cleaning: "
          + (f"{unclean} symbol(s) with findings (see the manifest)" if unclean else "all clean"))
    return exit_status.OK


def cmd_scan_universe(args: argparse.Namespace, config: Any) -> int:
    """`atc scan --universe DIR`."""
    from core.cli.main import format_table
    from core.cli.output_file import check_output
    from core.kernel_params import family_mode
    from core.universe import open_universe
    from core.universe_scan import run_scan

    _positive(args.top, "top")
    target = check_output(args.output, [args.params]) if args.output else None
    if target is not None and target.is_stdout:
        raise ATCInputError("-o -: give a file name (OUT.csv or OUT.parquet)", field="output")
    if args.output and Path(args.output).suffix.lower() not in (".csv", ".parquet"):
        raise ATCInputError(f"{args.output}: the output must end in .csv or .parquet", field="output")
    mode = args.mode or "both"
    if args.family is not None:
        if args.mode is not None:
            raise ATCInputError("--family and --mode: give one of them", field="family")
        mode = family_mode(args.family)
    universe = open_universe(args.universe, args.interval)
    with _engine(args) as engine:
        report = run_scan(universe, config, mode, engine,
                          backend=None if args.backend == "auto" else args.backend,
                          progress=Progress("scan"))
    _report_failures(report.failed_tasks, report.failed_symbols)
    table = report.table
    if table.empty:
        print("atc: error: no symbol could be scanned", file=sys.stderr)
        return exit_status.BAD_INPUT
    if target is not None:
        _write_table(table, target)
    shown = table.head(args.top)
    rows = [tuple(shown.columns)] + [tuple(_cell(v, c) for v, c in zip(r, shown.columns))
                                     for r in shown.itertuples(index=False)]
    print(format_table(rows))
    print(f"\n{len(table)} symbols of {universe.interval} in {report.seconds:.2f} s, sorted by "
          f"{report.sort_column}" + (f"; table written to {args.output}" if args.output else ""))
    failed = len(report.failed_symbols) + sum(
        len(p.symbols) for p in universe.partitions if p.path in report.failed_tasks)
    return exit_status.for_symbols(len(table), failed)


def _cell(value: Any, column: str = "") -> str:
    if isinstance(value, float):
        if column.endswith("signal") or column.endswith("direction"):
            return f"{value:+.3f}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    if isinstance(value, dt.datetime):               # pandas' Timestamp (and NaT) too
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    return str(value)


def _write_table(table: Any, target: Any) -> None:
    if target.real.suffix.lower() == ".parquet":
        from core.sweep import _write_atomically

        _write_atomically(target.real, fill=lambda tmp: table.to_parquet(tmp, index=False))
    else:
        target.write(lambda fh: table.to_csv(fh, index=False))


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.backtest import METRICS
    from core.grid import load_grid
    from core.sweep import BEST_FILE, read_results, run_sweep, universe_summary
    from core.universe import open_universe

    _positive(args.top, "top")
    if args.metric not in METRICS:
        raise ATCInputError(f"--metric {args.metric!r}: choose one of {', '.join(METRICS)}",
                            field="metric")
    grid = load_grid(args.grid)
    universe = open_universe(args.universe, args.interval)
    with _engine(args) as engine:
        report = run_sweep(universe, grid, args.output, engine,
                           backend=None if args.backend == "auto" else args.backend,
                           progress=Progress("sweep"))
    _report_failures(report.failed_tasks, report.failed_symbols)
    sets = len(grid)
    print(f"{report.tasks} tasks ({sets} parameter sets × {len(universe.partitions)} partitions of "
          f"{len(universe.symbols)} symbols): {report.written} computed, {report.skipped} already "
          f"done, {len(report.failed_tasks)} failed; {report.seconds:.2f} s, "
          f"{report.throughput / 1e6:.1f} M symbol-bar-sets/s")
    if report.failed_tasks:
        print(f"rerun the same command to compute the {len(report.failed_tasks)} failed task(s); "
              "finished ones are kept", file=sys.stderr)
    frame = read_results(args.output)
    if frame.empty:
        return exit_status.BAD_INPUT
    summary = universe_summary(frame, list(grid.fields), args.metric).head(args.top)
    rows = [("set", *summary.columns)] + [
        (str(i), *(_cell(v, c) for v, c in zip(r, summary.columns)))
        for i, r in zip(summary.index, summary.itertuples(index=False))]
    from core.cli.main import format_table

    print(f"\nbest parameter sets across the universe (by median {args.metric}):")
    print(format_table(rows))
    if not report.failed_tasks:
        print(f"\neach symbol's best set: {Path(args.output) / BEST_FILE}; every row: "
              f"pandas.read_parquet({str(args.output)!r})")
    failed = len(report.failed_tasks) + len(report.failed_symbols)
    return exit_status.PARTIAL if failed else exit_status.OK
