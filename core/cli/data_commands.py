"""`atc fetch SYMBOL... [--interval 1d] [--source bundled|yahoo|csv:DIR|synthetic]`.

Fetches bars into the local bar store (incrementally when the store already has them),
prints one line per symbol and the cleaner's findings, and reports each failing symbol on
stderr with its reason. Exit status: 0 when every symbol was fetched, 1 when some failed,
2 when all failed or the request itself was impossible (an empty symbol, an unknown
source). A bar store that had to be recovered is reported once, by the store's warning.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.cli.exit_status import for_symbols
from core.data import SOURCES_HELP, BarStore, make_provider, refresh
from core.data.bars import format_timestamp
from core.data.intervals import INTERVALS, is_intraday
from core.errors import ATCInputError


def register(subparsers: Any) -> None:
    """Add the ``fetch`` subcommand to the ``atc`` parser's subparsers."""
    p = subparsers.add_parser(
        "fetch", help="fetch bars into the local bar store",
        description="Fetch bars into the local bar store (only the new ones when some are "
                    "stored already). Read them back with `atc compute --symbol SYMBOL`.",
        epilog="exit status: 0 all fetched, 1 some symbols failed, 2 all failed")
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")
    p.add_argument("--interval", default="1d", choices=INTERVALS, help="bar interval (default 1d)")
    p.add_argument("--source", default="bundled",
                   help=f"where bars come from: {SOURCES_HELP} (default bundled, offline)")
    p.add_argument("--db", type=Path, default=None, metavar="FILE",
                   help="bar store file (default: bars.sqlite3 in the user data folder)")
    p.set_defaults(func=cmd_fetch)


def cmd_fetch(args: argparse.Namespace) -> int:
    """Run ``atc fetch``; returns the exit status."""
    for k, symbol in enumerate(args.symbols, 1):
        if not symbol.strip():
            raise ATCInputError(f"SYMBOL {k} is empty ({symbol!r}); give a ticker such as AAPL",
                                field="symbols")
    provider = make_provider(args.source)
    with BarStore(args.db) as store:
        report = refresh(store, provider, args.symbols, args.interval)
        daily = not is_intraday(args.interval)
        for sym, changed in report.updated.items():
            info = store.info(sym, args.interval)
            span = "-"
            if info is not None:
                first, last = (format_timestamp(t, info.tz, date_only=daily)
                               for t in (info.first_ts, info.last_ts))
                span = f"{info.n_bars} stored, {first} .. {last}"
            label = "SYNTHETIC data" if info is not None and info.synthetic else provider.name
            print(f"{sym:<10} {args.interval:<4} {changed:>6} new/changed  {span}  [{label}]")
            cleaning = report.cleaning.get(sym)
            if cleaning is not None and not cleaning.is_clean:
                print(f"  cleaned: {cleaning.summary()}")
        for sym, reason in report.failures.items():
            print(f"atc: {sym}: {reason}", file=sys.stderr)
        print(f"store: {store.path}")
    return for_symbols(len(report.updated), len(report.failures))
