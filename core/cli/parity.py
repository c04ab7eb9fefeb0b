"""`atc parity EXPORT.csv [--params FILE] [--set NAME=VALUE ...] [--backend NAME] [--src SOURCE]`.

Compares our computation with a TradingView "Export chart data" CSV (see ``core.parity``):
one row per recognised plot column with the bars compared, the bit-identical and the
within-1e-9 shares, and the first differing bar with its time and both values. Exit status:
0 when every recognised column agrees, 1 when some column differs, 2 when the file or the
parameters are unusable (one line on stderr naming the file, line and column).
"""
from __future__ import annotations

import argparse
from typing import Any

from core.backends.registry import BACKEND_CHOICES
from core.parity import ROW_HEADINGS, SOURCES, compare_export, report_rows, summary

EPILOG = """\
recognised plot titles (case-insensitive):
  ATC outputs under the project's names: Average_Signal, EMA_Signal … KAMA_Signal,
  EMA_S … KAMA_S, EMA_Cut … KAMA_Cut, signal_base, direction, arrow_long, arrow_short,
  long, short, R, the 54 MAs (EMA, EMA1 … EMA4, EMA_1 … EMA_4, HMA …, KAMA_4), sig.NAME,
  eq.NAME; aliases: a space for an underscore outside MA names ("Average Signal",
  "EMA S", "EMA Cut", "arrow long"), "Average", and HULL for the HMA family's Signal/S/Cut.
  Built-in MA plots: ta.sma(SRC, N), ta.ema(SRC, N), ta.wma(SRC, N), ta.linreg(SRC, N, 0),
  math.sum(SRC, N) with SRC one of close, open, high, low, hl2, hlc3, ohlc4, hlcc4.
  Other columns are ignored with a note.

agreement: discrete columns (states, Layer-1 signals, Cut, direction, events) identical;
moving averages (the 54 MAs and every built-in plot) bit-identical; other continuous
columns within 1e-9 relative. The ATC is computed from the export's first bar.

exit status: 0 every recognised column agrees, 1 some column differs, 2 bad input"""


def register(subparsers: Any) -> None:
    """Add the ``parity`` subcommand to the ``atc`` parser's subparsers."""
    p = subparsers.add_parser(
        "parity", help="compare our numbers with a TradingView chart-data export",
        description="Compare our computation with a TradingView \"Export chart data\" CSV "
                    "(time,open,high,low,close, then one column per plot, titled as the plot).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", metavar="EXPORT.csv", help="the file TradingView exported")
    p.add_argument("--params", metavar="FILE.json", help="parameters as JSON (spec names)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="one parameter, e.g. --set La=0.05 --set robustness=Wide")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                   help="backend that computes the ATC (default: the preferred one)")
    p.add_argument("--src", default="close", choices=tuple(SOURCES),
                   help="the ATC's Calculation Source, from the export's prices (default close)")
    p.set_defaults(func=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    from core.backends.registry import default_registry
    from core.cli.main import build_config, format_table

    config = build_config(args.params, args.set)
    registry = default_registry()
    backend = None if args.backend == "auto" else args.backend
    report = compare_export(args.export, config, compute=registry.compute, src=args.src,
                            backend=backend)
    where = f"; ATC on backend {report.backend}" if report.backend else ""
    print(f"{report.path}: {report.bars} bars, {report.first_time} … {report.last_time}{where}")
    for note in report.notes:
        print(f"note: {note}")
    if report.ignored:
        print("note: ignored (not recognised): "
              + "; ".join(f"{title!r} ({why})" for title, why in report.ignored))
    print()
    print(format_table([ROW_HEADINGS, *report_rows(report)]))
    print()
    print(summary(report))
    return 0 if report.agrees else 1
