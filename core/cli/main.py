"""`atc`: compute the ATC from the command line, list backends, scan bundled data.

Every failure the user can fix (bad file, column, price, parameter, backend) ends with one
line on stderr naming what and where, and exit status 2; nothing is written half. Warnings
of the core (a backend fallback, a recovered bar store) reach stderr once, through the
``core`` logger as ``atc: warning: ...`` lines.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.backends.registry import BACKEND_CHOICES, default_registry
from core.cli import exit_status
from core.cli.data_commands import register as register_data_commands
from core.cli.parity import register as register_parity
from core.cli.scale_commands import add_universe_scan_options, cmd_scan_universe
from core.cli.scale_commands import register as register_scale_commands
from core.cli.output_file import check_output
from core.cli.prices_csv import read_columns, write_columns
from core.config import FAMILIES, ATCConfig
from core.data.intervals import INTERVALS
from core.errors import ATCError, ATCInputError


def build_config(params: str | None, assignments: Sequence[str]) -> ATCConfig:
    """Config from an optional JSON file plus ``name=value`` overrides (spec names).

    Both go through the same conversion and validation (``ATCConfig.parse_value`` gives a
    ``--set`` value the type JSON would give it).
    """
    values: dict[str, Any] = {}
    if params:
        path = Path(params)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise ATCInputError(f"{path}: cannot read parameters: {exc.strerror}", field="params") from None
        except UnicodeDecodeError as exc:
            raise ATCInputError(f"{path}: parameters are not UTF-8 text (byte {exc.start})",
                                field="params") from None
        try:
            values = ATCConfig.from_json(text).to_dict()
        except ATCInputError as exc:
            raise ATCInputError(f"{path}: {exc}", field=exc.field) from None
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ATCInputError(f"--set {item!r}: expected name=value", field="set")
        values[name.strip()] = ATCConfig.parse_value(name.strip(), raw.strip())
    return ATCConfig.from_dict(values)


def cmd_compute(args: argparse.Namespace) -> int:
    if args.symbol:
        from core.data.store_file import default_path
        inputs = [default_path()]
    else:
        inputs = [args.prices]
    inputs.append(args.params)
    target = check_output(args.output, inputs)      # before any work: a bad -o costs nothing
    config = build_config(args.params, args.set)
    registry = default_registry()
    dates = None
    src = None
    if args.symbol:
        from core.data import closes_for_symbol
        close = closes_for_symbol(args.symbol, args.interval)
    elif args.prices:
        prices = read_columns(Path(args.prices), args.column, args.src_column, args.interval)
        close, src, dates = prices.close, prices.src, prices.dates
        if prices.note:
            print(f"atc: {prices.note}", file=sys.stderr)
    else:
        raise ATCInputError("give a PRICES.csv file or --symbol SYMBOL", field="prices")
    backend = None if args.backend == "auto" else args.backend
    result = registry.compute(close, config, detail=args.detail, src=src, backend=backend)
    columns = [("close", close)] + list(result.columns(detail=args.detail))
    rows = write_columns(target.user, columns, dates, inputs)
    warning = result.growth_warning
    if warning:
        print(f"atc: warning: {warning}", file=sys.stderr)
    warn_if_short(close.size, config)
    # With `-o -` the CSV is stdout, so the summary line goes to stderr.
    where = "standard output" if target.is_stdout else args.output
    print(f"wrote {rows} bars × {len(columns)} columns to {where} (backend {result.backend})",
          file=sys.stderr if target.is_stdout else sys.stdout)
    return 0


def warn_if_short(bars: int, config: ATCConfig, symbol: str | None = None) -> None:
    """An ``atc: warning:`` line when the series ends inside the warm-up: its outputs are
    computed, but no bar of it has every moving average settled."""
    warmup = config.warmup_bars()
    if bars <= warmup:
        who = f"{symbol}: " if symbol else ""
        print(f"atc: warning: {who}{bars} bars, no more than the warm-up of {warmup} bars "
              "for these parameters (ATCConfig.warmup_bars): every output is still warming up",
              file=sys.stderr)


def side(value: float) -> str:
    """The app's word for a direction or event: long (> 0) or short (< 0)."""
    return "long" if value > 0 else "short"


def cmd_backends(args: argparse.Namespace) -> int:
    registry = default_registry()
    rows = [("backend", "available", "active", "version", "device", "threads", "reason")]
    for s in registry.status():
        rows.append((s.name, "yes" if s.available else "no", "*" if s.active else "",
                     s.version or "-", s.device or "-", str(s.threads or "-"), s.reason))
    print(format_table(rows))
    for event in registry.fallbacks():
        print(f"fallback: {event.backend} → {event.fallback_to}: {event.reason}")
    from core.jit import codegen            # failed background builds, by any process
    for failure in codegen.recorded_failures():
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(failure.get("time", 0.0)))
        print(f"fallback: numba specialised {failure.get('kernel', 'EMA-only')} kernel → numba "
              "generic kernel: build "
              f"failed at {when} (attempt {failure.get('attempts', 1)}): {failure.get('reason')}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    """Latest signals of every symbol of the bundled data (or the given symbols); the exit
    status says whether some or all symbols could not be read (as for `atc fetch`)."""
    from core.data.providers.bundled import BundledProvider

    config = build_config(args.params, args.set)
    if args.universe:
        if args.symbols:
            raise ATCInputError("symbols and --universe: give one of them", field="symbols")
        return cmd_scan_universe(args, config)
    for option in ("output", "cluster", "mode"):
        if getattr(args, option):
            raise ATCInputError(f"--{option} works with --universe DIR", field=option)
    provider = BundledProvider()
    symbols = args.symbols or list(provider.symbols())
    fetched = provider.fetch(symbols, "1d")
    for symbol, reason in fetched.failures.items():
        print(f"atc: {symbol}: {reason}", file=sys.stderr)
    if not fetched.bars:                # nothing to tabulate: the lines above say why
        return exit_status.for_symbols(0, len(fetched.failures))
    registry = default_registry()
    if args.family is not None:
        return _scan_family(args.family, fetched, config, registry)
    header = ("symbol", "date", "close", "Average", *(f[:4] for f in FAMILIES), "dir", "last event")
    rows = [header]
    for symbol, bars in fetched.bars.items():
        warn_if_short(bars.close.size, config, symbol)
        res = registry.compute(bars.close, config)
        date = np.datetime_as_string(np.datetime64(int(bars.timestamps[-1]), "ns"), unit="D")
        hits = np.flatnonzero(res.long | res.short)
        event = "-"
        if hits.size:
            i = int(hits[-1])
            event = f"{side(1 if res.long[i] else -1)} {bars.close.size - 1 - i} bars ago"
        d = res.direction[-1]
        rows.append((symbol, date, f"{bars.close[-1]:.2f}", f"{res.average_signal[-1]:+.3f}",
                     *(f"{v:+.2f}" for v in res.signals[:, -1]),
                     "-" if np.isnan(d) else side(d), event))
    print(format_table(rows))
    print(f"\n{len(rows) - 1} symbols, backend {registry.active()}; bundled daily data "
          "(adjusted close), history from each symbol's first bar")
    return exit_status.for_symbols(len(fetched.bars), len(fetched.failures))


def _scan_family(family: str, fetched: Any, config: ATCConfig, registry: Any) -> int:
    """`atc scan --family F`: the family alone on every symbol (one batch, mode family:F):
    its last signal and equity, §9's direction and last event with that signal as base."""
    from core.kernel_params import family_mode

    items = list(fetched.bars.items())
    width = max(bars.close.size for _, bars in items)
    closes = np.full((len(items), width), np.nan)
    for i, (symbol, bars) in enumerate(items):
        warn_if_short(bars.close.size, config, symbol)
        closes[i, width - bars.close.size:] = bars.close
    batch = registry.compute_batch(closes, config, tail=1, mode=family_mode(family))
    rows: list[Sequence[str]] = [("symbol", "date", "close", f"{family}_Signal", f"{family}_S",
                                  "dir", "last event")]
    for i, (symbol, bars) in enumerate(items):
        date = np.datetime_as_string(np.datetime64(int(bars.timestamps[-1]), "ns"), unit="D")
        d = batch.direction[i, -1]
        last = int(batch.last_event[i])
        event = f"{side(last)} {int(batch.bars_since_event[i])} bars ago" if last else "-"
        rows.append((symbol, date, f"{bars.close[-1]:.2f}", f"{batch.signals[i, 0, -1]:+.2f}",
                     f"{batch.family_equities[i, 0, -1]:.4f}", "-" if np.isnan(d) else side(d),
                     event))
    print(format_table(rows))
    print(f"\n{len(items)} symbols, {family} family alone, backend {batch.backend}; bundled "
          "daily data (adjusted close), history from each symbol's first bar")
    return exit_status.for_symbols(len(items), len(fetched.failures))


def format_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atc", description="Adaptive Trend Classification")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_params(p: argparse.ArgumentParser) -> None:
        p.add_argument("--params", metavar="FILE.json", help="parameters as JSON (spec names)")
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="one parameter, e.g. --set La=0.05 --set robustness=Wide")

    p = sub.add_parser("compute", help="full ATC of one price series, written to CSV")
    p.add_argument("prices", nargs="?", metavar="PRICES.csv", help="CSV file with a header row")
    p.add_argument("--column", default="Close", help="price column (default Close)")
    p.add_argument("--src-column", help="MA source column, if not the close (e.g. hl2)")
    p.add_argument("--symbol", help="read the close from the local bar store instead")
    p.add_argument("--interval", default="1d", choices=INTERVALS,
                   help="bar interval: of the stored bars with --symbol, of the file's rows "
                        "otherwise (sets the cleaner's gap threshold; default 1d)")
    add_params(p)
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    p.add_argument("--detail", action="store_true", help="also the 54 MAs, states, equities")
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                   help="output CSV file; - for standard output")
    p.set_defaults(func=cmd_compute)

    p = sub.add_parser("backends", help="which compute backends are available, and why not")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("scan", help="latest signals of the bundled symbols",
                       epilog="exit status: 0 all read, 1 some symbols failed, 2 all failed")
    p.add_argument("symbols", nargs="*", help="symbols (default: all bundled)")
    p.add_argument("--family", choices=FAMILIES, help="screen on this family alone (its signal "
                   "is the base of direction and events), e.g. --family KAMA")
    add_params(p)
    add_universe_scan_options(p)
    p.set_defaults(func=cmd_scan)

    register_data_commands(sub)
    register_parity(sub)
    register_scale_commands(sub)
    return parser


class _WarningLines(logging.Handler):
    """Prints the core's warnings as ``atc: warning: ...`` lines on the current stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"atc: warning: {record.getMessage()}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The core's warnings (backend fallbacks, a recovered bar store) are printed by this
    # handler and nowhere else: with a handler on "core", logging's last-resort printer
    # stays silent, and the commands do not print them a second time.
    core_log = logging.getLogger("core")
    handler = _WarningLines()
    core_log.addHandler(handler)
    try:
        return int(args.func(args) or 0)
    except ATCError as exc:
        print(f"atc: error: {exc}", file=sys.stderr)
        return exit_status.BAD_INPUT
    except json.JSONDecodeError as exc:
        print(f"atc: error: invalid JSON: {exc}", file=sys.stderr)
        return exit_status.BAD_INPUT
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"atc: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return exit_status.BAD_INPUT
    except KeyboardInterrupt:
        print("atc: interrupted", file=sys.stderr)
        return exit_status.INTERRUPTED
    finally:
        core_log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
