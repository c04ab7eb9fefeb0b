"""Our numbers against a TradingView "Export chart data" CSV (`atc parity`, the app's
Chart → Compare with TradingView export…).

An export has the columns ``time,open,high,low,close`` and then one column per plot, named
by the plot's title; ``time`` is UNIX seconds or ISO 8601. This module reads such a file
(every number parsed so that a full-precision value round-trips exactly; an empty or NaN
cell is na), recognises the plot columns it can compute — the ATC outputs under the
project's column names (and a few aliases), and plain built-in MA plots titled like
``ta.sma(close, 10)`` — computes them from the export's own first bar (spec §10) and
compares bar by bar.

Agreement rules, per column (:mod:`core.agreement`, the project's rule):

* discrete columns (crossover states ``sig.*``, Layer-1 signals ``*_Signal``, ``*_Cut``,
  ``direction``, the events) must be **identical**;
* moving averages (the 54 ATC MAs and every built-in MA plot) must be **bit-identical**:
  spec §4.8 reproduces TradingView's arithmetic to the last bit, so a last-bit difference
  is a real disagreement;
* every other continuous column (``Average_Signal``, equities, ``R``) must be within 1e-9
  relative (``|ours − theirs| ≤ 1e-9 · max(1, |theirs|)``, the golden tests' tolerance).

A bar where both sides are na is not compared; na on one side only is a difference. Event
columns (``arrow_long``, ``arrow_short``, ``long``, ``short``) read an empty cell as 0,
because TradingView exports a shape plot that draws nothing as an empty cell.

No Qt here: the command line and the desktop dialog both call :func:`compare_export`.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core.agreement import RTOL, is_discrete, is_moving_average, within_rtol
from core.atc import moving_averages as mav
from core.config import DECIMAL, FAMILIES, MAX_LENGTH, ATCConfig
from core.errors import ATCInputError
from core.types import EQUITY_NAMES, EVENT_NAMES, MA_NAMES, PRICE_MAX, PRICE_MIN, SIGNAL_NAMES, bad_price_bar

#: Relative tolerance of continuous columns (as in the golden tests).
TOLERANCE = RTOL
PRICE_COLUMNS = ("open", "high", "low", "close")
#: Price sources a built-in MA title (and ``--src``) may name, with Pine's formulas.
SOURCES: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
    "close": lambda p: p["close"],
    "open": lambda p: p["open"],
    "high": lambda p: p["high"],
    "low": lambda p: p["low"],
    "hl2": lambda p: (p["high"] + p["low"]) / 2.0,
    "hlc3": lambda p: (p["high"] + p["low"] + p["close"]) / 3.0,
    "ohlc4": lambda p: (p["open"] + p["high"] + p["low"] + p["close"]) / 4.0,
    "hlcc4": lambda p: (p["high"] + p["low"] + p["close"] + p["close"]) / 4.0,
}
_SOURCE_NEEDS = {"close": ("close",), "open": ("open",), "high": ("high",), "low": ("low",),
                 "hl2": ("high", "low"), "hlc3": ("high", "low", "close"),
                 "ohlc4": ("open", "high", "low", "close"), "hlcc4": ("high", "low", "close")}
#: Built-in MA plots: title function name → the reference primitive (spec §4.8).
BUILTINS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "ta.sma": mav.sma, "ta.ema": mav.ema, "ta.wma": mav.wma, "ta.linreg": mav.lsma,
    "math.sum": mav.rolling_sum,
}
_NA_CELLS = frozenset({"", "nan", "na", "n/a"})
_BUILTIN_TITLE = re.compile(
    r"(?P<fn>(?:ta\.)?(?:sma|ema|wma|linreg)|math\.sum)\s*\(\s*(?P<src>[a-z0-9]+)\s*,\s*"
    r"(?P<len>\d+)\s*(?:,\s*(?P<off>-?\d+)\s*)?\)", re.IGNORECASE)


# -- which column is which -------------------------------------------------------------------
def atc_column_names() -> tuple[str, ...]:
    """Every ATC output the export may carry, under the project's (golden) names."""
    cuts = tuple(f + "_Cut" for f in FAMILIES)
    return (("Average_Signal",) + SIGNAL_NAMES + EQUITY_NAMES + cuts
            + ("signal_base", "direction") + EVENT_NAMES + ("R",) + MA_NAMES
            + tuple("sig." + m for m in MA_NAMES) + tuple("eq." + m for m in MA_NAMES))


def _atc_aliases() -> dict[str, str]:
    """lower-cased title → canonical ATC column name.

    Canonical names match case-insensitively. Aliases: a space for each underscore in the
    names that are not MA names (``Average Signal``, ``EMA Signal``, ``EMA S``,
    ``EMA Cut``, ``arrow long``, ``signal base``), ``Average`` for ``Average_Signal``, and
    ``HULL``/``Hull`` for the HMA family in the Signal, S and Cut names (the Pine legend
    calls that family HULL). MA names keep their underscores (``EMA_1`` is length L−1,
    ``EMA1`` is L+1), so ``EMA 1`` is not an alias of either.
    """
    table: dict[str, str] = {}
    for name in atc_column_names():
        table[name.lower()] = name
        if name not in MA_NAMES and "." not in name and "_" in name:
            table[name.replace("_", " ").lower()] = name
    table["average"] = "Average_Signal"
    for suffix in ("_Signal", "_S", "_Cut"):
        for sep in ("_", " "):
            table[("HULL" + suffix).replace("_", sep, 1).lower()] = "HMA" + suffix
    return table


ATC_ALIASES: dict[str, str] = _atc_aliases()


@dataclass(frozen=True)
class Target:
    """What one export column is compared with."""

    kind: str                   # "atc" or "builtin"
    name: str                   # canonical ATC column, or the normalised built-in call
    rule: str                   # "exact", "bit-identical" or "1e-9"
    function: str = ""          # built-in: "ta.sma" …
    source: str = ""            # built-in: "close", "hl2" …
    length: int = 0


def recognise(title: str) -> Target | str:
    """The target of a plot title, or (a string) why it is not recognised."""
    key = title.strip()
    canonical = ATC_ALIASES.get(key.lower())
    if canonical is not None:
        if is_moving_average(canonical):
            rule = "bit-identical"
        elif is_discrete(canonical):
            rule = "exact"
        else:
            rule = "1e-9"
        return Target("atc", canonical, rule)
    m = _BUILTIN_TITLE.fullmatch(key)
    if m is None:
        if re.fullmatch(r"plot(\s*\d+)?", key, re.IGNORECASE):
            return ("an untitled plot: give it a title such as ta.sma(close, 10) or an ATC "
                    "column name")
        return "not an ATC output or a built-in MA title"
    fn = m["fn"].lower()
    if not fn.startswith(("ta.", "math.")):
        fn = "ta." + fn
    src, length, off = m["src"].lower(), int(m["len"]), m["off"]
    if src not in SOURCES:
        return f"unknown source {m['src']!r} (known: {', '.join(SOURCES)})"
    if not 1 <= length <= MAX_LENGTH:
        return f"length {length} outside 1…{MAX_LENGTH}"
    if fn == "ta.linreg":
        if off is None or int(off) != 0:
            return "ta.linreg is compared with offset 0 only"
    elif off is not None:
        return f"{fn} takes two arguments"
    label = f"{fn}({src}, {length}" + (", 0)" if fn == "ta.linreg" else ")")
    return Target("builtin", label, "bit-identical", fn, src, length)


# -- reading the export ----------------------------------------------------------------------
@dataclass
class Export:
    """One parsed export: times, prices, and the plot columns in file order."""

    path: Path
    times: list[str]                          # as written in the file
    seconds: np.ndarray                       # UNIX seconds (float64)
    lines: list[int]                          # file line of each bar
    prices: dict[str, np.ndarray]             # the price columns present (open/high/low/close)
    plots: list[tuple[str, np.ndarray]]       # (title, values), na = NaN

    @property
    def bars(self) -> int:
        return len(self.times)

    def source(self, name: str) -> np.ndarray:
        """A price source (``close``, ``hl2`` …) by Pine's formula; every bar must have the
        prices it needs, within ``PRICE_MIN … PRICE_MAX``."""
        for col in _SOURCE_NEEDS[name]:
            if col not in self.prices:
                raise ATCInputError(f"{self.path}: source {name} needs a {col!r} column, which "
                                    "the export lacks", field="src")
            values = self.prices[col]
            k = bad_price_bar(values)
            if k is not None:
                raise ATCInputError(f"{self.path}: line {self.lines[k]}, column {col!r}: no "
                                    f"price within {PRICE_MIN:g} … {PRICE_MAX:g} "
                                    f"({_show(values[k])})", field="prices")
        return np.ascontiguousarray(SOURCES[name](self.prices), dtype=np.float64)


def _show(v: float) -> str:
    return "na" if math.isnan(v) else repr(float(v))


def parse_time(cell: str) -> float:
    """UNIX seconds, or ISO 8601 (a time without offset is UTC); ValueError otherwise."""
    text = cell.strip()
    if DECIMAL.fullmatch(text):
        return float(text)
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def parse_number(cell: str) -> float:
    """A decimal number (exactly as Python reads its repr), or NaN for an empty/NaN cell;
    ValueError for anything else (``inf``, ``1_000``, non-ASCII digits, text)."""
    text = cell.strip()
    if text.lower() in _NA_CELLS:
        return math.nan
    if not DECIMAL.fullmatch(text):
        raise ValueError(text)
    return float(text)


def read_export(path: str | Path) -> Export:
    """Parse a TradingView export; an error names the file, the line and the column."""
    path = Path(path)
    if not path.is_file():
        raise ATCInputError(f"{path}: no such file", field="export")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ATCInputError(f"{path}: cannot read CSV: {exc}", field="export") from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise ATCInputError(f"{path}: the file is empty", field="export")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    for required in ("time", "close"):
        if required not in lowered:
            raise ATCInputError(f"{path}: line 1: no {required!r} column; a TradingView export "
                                f"starts time,open,high,low,close (columns are: "
                                f"{', '.join(header)})", field="export")
    time_i = lowered.index("time")
    price_i = {p: lowered.index(p) for p in PRICE_COLUMNS if p in lowered}
    plot_i = [i for i in range(len(header)) if i != time_i and i not in price_i.values()]
    body = [(k + 2, r) for k, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    if not body:
        raise ATCInputError(f"{path}: no bars after the header", field="export")
    for line, row in body:
        if len(row) != len(header):
            raise ATCInputError(f"{path}: line {line}: {len(row)} cells, the header has "
                                f"{len(header)}", field="export")
    lines = [line for line, _ in body]
    times = [row[time_i].strip() for _, row in body]
    seconds = np.empty(len(body))
    for k, (line, cell) in enumerate(zip(lines, times)):
        try:
            seconds[k] = parse_time(cell)
        except (ValueError, OverflowError, OSError):
            raise ATCInputError(f"{path}: line {line}, column {header[time_i]!r}: {cell!r} is "
                                "neither UNIX seconds nor an ISO 8601 time", field="export") from None
        if k and seconds[k] <= seconds[k - 1]:
            what = "repeats" if seconds[k] == seconds[k - 1] else "is earlier than"
            raise ATCInputError(f"{path}: line {line}, column {header[time_i]!r}: {cell!r} {what} "
                                f"line {lines[k - 1]}'s {times[k - 1]!r}; times must increase",
                                field="export")

    def column(i: int) -> np.ndarray:
        out = np.empty(len(body))
        for k, (line, row) in enumerate(body):
            try:
                out[k] = parse_number(row[i])
            except ValueError:
                raise ATCInputError(f"{path}: line {line}, column {header[i]!r}: {row[i].strip()!r} "
                                    "is not a number", field="export") from None
        return out

    prices = {p: column(i) for p, i in price_i.items()}
    plots = [(header[i], column(i)) for i in plot_i]
    return Export(path, times, seconds, lines, prices, plots)


# -- comparing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnReport:
    """The comparison of one recognised export column."""

    column: str                 # the export's title
    target: Target
    bars: int                   # bars compared (na on both sides is not compared)
    identical: int              # bit-identical (equal floats, or na on both sides)
    within: int                 # within 1e-9 relative (identical included)
    first_bar: int | None       # first bar that breaks the column's rule, None when none
    first_time: str = ""
    ours: float = math.nan
    theirs: float = math.nan

    @property
    def agrees(self) -> bool:
        return self.first_bar is None

    @property
    def identical_pct(self) -> float:
        return _pct(self.identical, self.bars)

    @property
    def within_pct(self) -> float:
        return _pct(self.within, self.bars)


def _pct(part: int, whole: int) -> float:
    return 100.0 if whole == 0 else 100.0 * part / whole


def format_pct(part: int, whole: int) -> str:
    """Two decimals, rounded down: "100.00" only when every bar counts."""
    if whole == 0 or part == whole:
        return "100.00"
    return f"{math.floor(10000.0 * part / whole) / 100.0:.2f}"


@dataclass
class ParityReport:
    path: Path
    bars: int
    first_time: str
    last_time: str
    columns: list[ColumnReport] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)   # (title, why)
    backend: str | None = None          # the backend that computed the ATC, when it did
    notes: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """True when there is at least one recognised column and every one agrees."""
        return bool(self.columns) and all(c.agrees for c in self.columns)

    @property
    def differing(self) -> list[ColumnReport]:
        return [c for c in self.columns if not c.agrees]


def compare_column(title: str, target: Target, ours: np.ndarray, theirs: np.ndarray,
                   times: Sequence[str]) -> ColumnReport:
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if target.kind == "atc" and target.name in EVENT_NAMES:
        theirs = np.where(np.isnan(theirs), 0.0, theirs)
    on, tn = np.isnan(ours), np.isnan(theirs)
    compared = ~(on & tn)
    identical = compared & (ours == theirs)
    close = within_rtol(ours, theirs)
    within = compared & (identical | (~on & ~tn & close))
    ok = identical if target.rule in ("exact", "bit-identical") else within
    bad = np.flatnonzero(compared & ~ok)
    n = int(compared.sum())
    if bad.size == 0:
        return ColumnReport(title, target, n, int(identical.sum()), int(within.sum()), None)
    k = int(bad[0])
    return ColumnReport(title, target, n, int(identical.sum()), int(within.sum()), k, times[k],
                        float(ours[k]), float(theirs[k]))


def compare_export(export: Export | str | Path, config: ATCConfig,
                   compute: Callable[..., object] | None = None, src: str = "close",
                   backend: str | None = None) -> ParityReport:
    """Compare every recognised column of ``export`` with our computation.

    ``compute(close, config, detail=True, src=..., backend=...)`` computes the ATC
    (default: the process-wide backend registry); it runs only when some ATC column is
    recognised, on the export's bars from its first one. Built-in MA plots use the numpy
    reference primitives of spec §4.8. ``src`` is the ATC's "Calculation Source".
    """
    exp = export if isinstance(export, Export) else read_export(export)
    if src not in SOURCES:
        raise ATCInputError(f"--src {src!r}: expected one of {', '.join(SOURCES)}", field="src")
    report = ParityReport(exp.path, exp.bars, exp.times[0], exp.times[-1])
    matched: list[tuple[str, np.ndarray, Target]] = []
    for title, values in exp.plots:
        target = recognise(title)
        if isinstance(target, Target):
            matched.append((title, values, target))
        else:
            report.ignored.append((title, target))
    if not matched:
        raise ATCInputError(
            f"{exp.path}: no recognised plot column (found: "
            f"{', '.join(t for t, _ in exp.plots) or 'none'}); see `atc parity --help` for the "
            "recognised titles", field="export")
    ours: dict[str, np.ndarray] = {}
    if any(t.kind == "atc" for _, _, t in matched):
        close = exp.source("close")
        src_values = None if src == "close" else exp.source(src)
        if compute is None:
            from core.backends.registry import default_registry

            compute = default_registry().compute
        result = compute(close, config, detail=True, src=src_values, backend=backend)
        ours.update(result.columns(detail=True))          # type: ignore[attr-defined]
        report.backend = getattr(result, "backend", None) or backend
        report.notes.append(f"ATC computed from the export's first bar ({exp.times[0]}); "
                            "TradingView computes from its chart's first bar, so export the "
                            "chart's whole history (spec §10)")
    for title, values, target in matched:
        if target.kind == "atc":
            mine = ours.get(target.name)
            if mine is None:
                raise ATCInputError(f"{exp.path}: column {title!r}: the backend "
                                    f"{report.backend} gave no {target.name}", field="export")
        else:
            key = target.name
            if key not in ours:
                ours[key] = BUILTINS[target.function](exp.source(target.source), target.length)
            mine = ours[key]
        report.columns.append(compare_column(title, target, mine, values, exp.times))
    return report


#: Headings of :func:`report_rows`.
ROW_HEADINGS = ("column", "compared as", "bars", "bit-identical %", "within 1e-9 %",
                "first differing bar", "time", "ours", "theirs", "agrees")


def report_rows(report: ParityReport) -> list[tuple[str, ...]]:
    """One row of strings per recognised column (headings: :data:`ROW_HEADINGS`)."""
    rows: list[tuple[str, ...]] = []
    for c in report.columns:
        what = c.target.name if c.column != c.target.name else ""
        how = f"{what} ({c.target.rule})" if what else c.target.rule
        first = "-" if c.first_bar is None else str(c.first_bar)
        rows.append((c.column, how, str(c.bars), format_pct(c.identical, c.bars),
                     format_pct(c.within, c.bars), first,
                     c.first_time if c.first_bar is not None else "-",
                     _show(c.ours) if c.first_bar is not None else "-",
                     _show(c.theirs) if c.first_bar is not None else "-",
                     "yes" if c.agrees else "NO"))
    return rows


def summary(report: ParityReport) -> str:
    """One sentence: the verdict."""
    n = len(report.columns)
    bad = report.differing
    if not bad:
        return f"all {n} recognised column{'s' if n != 1 else ''} agree with TradingView's export"
    return (f"{len(bad)} of {n} recognised columns differ: "
            + ", ".join(f"{c.column} from bar {c.first_bar} ({c.first_time})" for c in bad))
