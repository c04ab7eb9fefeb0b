"""Columnar universes: bars of many symbols as Parquet, partitioned for distributed work.

Layout under a root that any fsspec URL names (a local folder, NFS, ``s3://…``)::

    ROOT/interval=1d/_universe.json      the manifest: interval, adjustment, source, the
                                         partitions with their symbols and bar counts,
                                         each symbol's cleaning report
    ROOT/interval=1d/part-00000.parquet  a few thousand symbols, sorted by symbol, then time
    ROOT/interval=1d/part-00001.parquet  …

A task reads one partition file and nothing else, so a worker reads only its symbols; the
same interval, adjustment and cleaning reports are also in each file's Parquet metadata
(key ``atc.universe``), so a file moved on its own still says what it holds. The folder
name ``interval=…`` makes the root a hive-partitioned dataset that pyarrow and pandas read
whole. The manifest is written last: an export stopped half-way leaves no universe.

pyarrow and fsspec are the ``scale`` extra; they are imported when a universe is used.
"""
from __future__ import annotations

import json
import os
import posixpath
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from core.data.bars import Bars
from core.data.cleaning import CleaningReport
from core.data.symbols import valid_symbol
from core.errors import ATCInputError, DataError

if TYPE_CHECKING:
    from core.data.providers.base import Provider

FORMAT = "atc-universe"
VERSION = 1
MANIFEST = "_universe.json"
METADATA_KEY = b"atc.universe"
#: Symbols per partition file unless told otherwise: thousands per task keep the per-task
#: overhead (scheduling, one file open) small against the work.
DEFAULT_SYMBOLS_PER_FILE = 2000
#: Symbols per Parquet row group, so that a reader asking for a few symbols skips the rest.
ROW_GROUP_SYMBOLS = 64
#: What the prices of each source are, for the manifest (the store keeps the source only).
ADJUSTMENT: dict[str, str] = {
    "yahoo": "split- and dividend-adjusted (Yahoo auto_adjust)",
    "bundled": "adjusted by the file's Adj Close",
    "csv": "adjusted by Adj Close where the file has that column, otherwise as in the file",
    "synthetic": "none (synthetic prices)",
}


def _require() -> tuple[Any, Any]:
    """pyarrow.parquet and fsspec, or an error saying how to install them."""
    try:
        import fsspec
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ATCInputError(f"universes need pyarrow and fsspec ({exc.name} is missing): "
                            "pip install 'atc-desktop[scale]'", field="universe") from None
    return pq, fsspec


def _fs(url: str) -> tuple[Any, str]:
    _, fsspec = _require()
    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(url)   # fsspec is unannotated
    except (ValueError, ImportError) as exc:
        raise ATCInputError(f"{url}: not a path fsspec can open: {exc}", field="universe") from None
    return found


def report_dict(report: CleaningReport | None) -> dict[str, Any]:
    """A cleaning report as JSON-ready values (counts and earliest timestamps per kind)."""
    if report is None:
        return {}
    return {"rows_in": report.rows_in, "rows_out": report.rows_out, "counts": dict(report.counts),
            "first": dict(report.first), "summary": report.summary()}


@dataclass(frozen=True)
class Partition:
    """One partition file: its path below the interval folder and the symbols it holds."""

    path: str
    symbols: tuple[str, ...]
    bars: tuple[int, ...]

    @property
    def symbol_bars(self) -> int:
        return int(sum(self.bars))


@dataclass(frozen=True)
class Universe:
    """An opened universe: where it is and what its manifest says."""

    root: str                 # the interval folder's URL
    interval: str
    adjustment: str
    source: str
    partitions: tuple[Partition, ...]
    cleaning: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: float = 0.0

    @property
    def symbols(self) -> list[str]:
        return [s for p in self.partitions for s in p.symbols]

    @property
    def max_bars(self) -> int:
        return max((b for p in self.partitions for b in p.bars), default=0)

    def url(self, partition: Partition) -> str:
        return posixpath.join(self.root, partition.path)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data (for a resumable run's check that it is the same)."""
        return {"root": self.root, "interval": self.interval, "created": self.created,
                "partitions": [[p.path, list(p.symbols), list(p.bars)] for p in self.partitions]}


def interval_folder(root: str, interval: str) -> str:
    return posixpath.join(root.rstrip("/"), f"interval={interval}")


# -- export ---------------------------------------------------------------------------------
def export_universe(root: str, series: Iterable[tuple[Bars, CleaningReport | None]], interval: str,
                    *, source: str, symbols_per_file: int = DEFAULT_SYMBOLS_PER_FILE,
                    overwrite: bool = False) -> Universe:
    """Write ``series`` (bars with their cleaning reports, any order of symbols) under
    ``root`` as the universe of ``interval``.

    The files are written into a temporary folder beside the final one and moved into place
    with the manifest last, so readers never see half an export. An existing universe of
    the same interval is replaced only with ``overwrite``.
    """
    pq, _ = _require()
    import pyarrow as pa

    if not isinstance(symbols_per_file, int) or symbols_per_file < 1:
        raise ATCInputError(f"symbols_per_file = {symbols_per_file!r} must be ≥ 1",
                            field="symbols_per_file")
    fs, base = _fs(root)
    final = interval_folder(base, interval)
    if fs.exists(final) and not overwrite:
        raise ATCInputError(f"{interval_folder(root, interval)} exists already; pass --overwrite "
                            "to replace that universe", field="universe")
    staging = f"{final}.partial-{uuid.uuid4().hex[:8]}"
    fs.makedirs(staging, exist_ok=True)
    adjustment: set[str] = set()
    sources: set[str] = set()
    cleaning: dict[str, dict[str, Any]] = {}
    partitions: list[Partition] = []
    pending: list[Bars] = []
    try:
        def flush() -> None:
            pending.sort(key=lambda b: b.symbol)
            name = f"part-{len(partitions):05d}.parquet"
            meta = {"interval": interval, "symbols": [b.symbol for b in pending],
                    "cleaning": {b.symbol: cleaning[b.symbol] for b in pending},
                    "adjustment": sorted({ADJUSTMENT.get(b.source, b.source) for b in pending})}
            table = _bars_table(pending, pa).replace_schema_metadata(
                {METADATA_KEY: json.dumps(meta).encode()})
            with fs.open(posixpath.join(staging, name), "wb") as fh:
                pq.write_table(table, fh, row_group_size=_row_group_rows(pending),
                               compression="zstd")
            partitions.append(Partition(name, tuple(b.symbol for b in pending),
                                        tuple(int(b.close.size) for b in pending)))
            pending.clear()

        seen: set[str] = set()
        for bars, report in series:
            if bars.interval != interval:
                raise DataError(f"{bars.symbol}: bars of interval {bars.interval}, the universe "
                                f"is {interval}", symbol=bars.symbol)
            if bars.symbol in seen:
                raise DataError(f"{bars.symbol}: given twice", symbol=bars.symbol)
            seen.add(bars.symbol)
            if bars.close.size == 0:
                continue
            cleaning[bars.symbol] = report_dict(report)
            adjustment.add(ADJUSTMENT.get(bars.source, bars.source))
            sources.add(bars.source)
            pending.append(bars)
            if len(pending) >= symbols_per_file:
                flush()
        if pending:
            flush()
        if not partitions:
            raise DataError("no symbol with bars to export")
        universe = Universe(interval_folder(root, interval), interval, "; ".join(sorted(adjustment)),
                            ", ".join(sorted(sources)), tuple(partitions), cleaning, time.time())
        manifest = json.dumps(_manifest(universe), indent=1)
        if fs.exists(final):
            old = f"{final}.old-{uuid.uuid4().hex[:8]}"
            fs.mv(final, old, recursive=True)
            fs.mv(staging, final, recursive=True)
            fs.rm(old, recursive=True)
        else:
            fs.mv(staging, final, recursive=True)
        with fs.open(posixpath.join(final, MANIFEST), "w") as fh:
            fh.write(manifest)
        return universe
    finally:
        if fs.exists(staging):
            fs.rm(staging, recursive=True)


def _row_group_rows(bars: Sequence[Bars]) -> int:
    mean = sum(int(b.close.size) for b in bars) / max(len(bars), 1)
    return max(int(mean * ROW_GROUP_SYMBOLS), 1024)


def _bars_table(bars: Sequence[Bars], pa: Any) -> Any:
    counts = np.array([b.close.size for b in bars], dtype=np.int64)
    codes = np.repeat(np.arange(len(bars), dtype=np.int32), counts)
    symbol = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array([b.symbol for b in bars]))
    cols: dict[str, Any] = {"symbol": symbol}
    cols["timestamp"] = pa.array(np.concatenate([b.timestamps for b in bars]),
                                 type=pa.timestamp("ns", tz="UTC"))
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = pa.array(np.concatenate([getattr(b, name) for b in bars]))
    return pa.table(cols)


def _manifest(u: Universe) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "interval": u.interval,
            "adjustment": u.adjustment, "source": u.source, "created": u.created,
            "partitions": [{"path": p.path, "symbols": list(p.symbols), "bars": list(p.bars)}
                           for p in u.partitions],
            "cleaning": u.cleaning}


# -- opening ------------------------------------------------------------------------------
def intervals_in(root: str) -> list[str]:
    """The intervals a universe root holds (its ``interval=…`` folders with a manifest)."""
    fs, base = _fs(root)
    try:
        entries = fs.ls(base, detail=False)
    except FileNotFoundError:
        raise ATCInputError(f"{root}: no such universe folder (write one with atc export)",
                            field="universe") from None
    out = []
    for entry in entries:
        name = posixpath.basename(str(entry).rstrip("/"))
        if name.startswith("interval=") and "." not in name.partition("=")[2] \
                and fs.exists(posixpath.join(str(entry), MANIFEST)):
            out.append(name.partition("=")[2])
    return sorted(out)


def open_universe(root: str, interval: str | None = None) -> Universe:
    """The universe of ``interval`` under ``root`` (the only one when ``interval`` is None)."""
    found = intervals_in(root)
    if interval is None:
        if len(found) != 1:
            what = "no universe" if not found else f"universes of {', '.join(found)}"
            raise ATCInputError(f"{root}: {what}; choose one with --interval"
                                if found else f"{root}: {what} (write one with atc export)",
                                field="interval")
        interval = found[0]
    elif interval not in found:
        have = f"it has {', '.join(found)}" if found else "it has none"
        raise ATCInputError(f"{root}: no universe of interval {interval} ({have})", field="interval")
    folder = interval_folder(root, interval)
    fs, base = _fs(folder)
    with fs.open(posixpath.join(base, MANIFEST), "r") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DataError(f"{folder}/{MANIFEST}: not a universe manifest ({exc})") from None
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise DataError(f"{folder}/{MANIFEST}: not a version-{VERSION} {FORMAT} manifest")
    parts = tuple(Partition(p["path"], tuple(p["symbols"]), tuple(int(b) for b in p["bars"]))
                  for p in data["partitions"])
    return Universe(folder, data["interval"], data.get("adjustment", ""), data.get("source", ""),
                    parts, data.get("cleaning", {}), float(data.get("created", 0.0)))


# -- reading one partition ------------------------------------------------------------------
@dataclass(frozen=True)
class Panel:
    """One partition's prices as right-aligned ``(symbols, bars)`` arrays (NaN on the left
    of shorter histories: the batch contract of :mod:`core.types`)."""

    symbols: tuple[str, ...]
    open: np.ndarray
    close: np.ndarray
    last_timestamp: np.ndarray      # (symbols,) int64 ns UTC
    bars: np.ndarray                # (symbols,) int64

    @property
    def nbytes(self) -> int:
        return int(self.open.nbytes + self.close.nbytes)


def read_panel(url: str, symbols: Sequence[str] | None = None) -> Panel:
    """Open and close prices of one partition file (of ``symbols`` only, when given: the
    row groups of the others are skipped)."""
    pq, _ = _require()
    fs, path = _fs(url)
    filters = [("symbol", "in", list(symbols))] if symbols is not None else None
    try:
        table = pq.read_table(path, filesystem=fs, columns=["symbol", "timestamp", "open", "close"],
                              filters=filters)
    except FileNotFoundError:
        raise DataError(f"{url}: partition file not found (was the universe moved?)") from None
    sym = table.column("symbol").combine_chunks()
    codes = sym.indices.to_numpy()
    names = sym.dictionary.to_pylist()
    ts = table.column("timestamp").combine_chunks().cast("int64").to_numpy()
    opens = table.column("open").to_numpy()
    closes = table.column("close").to_numpy()
    if codes.size and np.any(codes[1:] < codes[:-1]):
        raise DataError(f"{url}: rows are not grouped by symbol")
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if codes.size else np.empty(0, int)
    ends = np.r_[starts[1:], codes.size].astype(np.int64)
    counts = ends - starts
    width = int(counts.max()) if counts.size else 0
    o = np.full((starts.size, width), np.nan)
    c = np.full((starts.size, width), np.nan)
    for row, (a, b) in enumerate(zip(starts, ends)):
        o[row, width - (b - a):] = opens[a:b]
        c[row, width - (b - a):] = closes[a:b]
    found = tuple(names[int(codes[a])] for a in starts)
    if symbols is not None:
        order = {s: i for i, s in enumerate(found)}
        missing = [s for s in symbols if s not in order]
        if missing:
            raise DataError(f"{url}: no bars of {missing[0]}", symbol=missing[0])
        take = np.array([order[s] for s in symbols], dtype=np.int64)
        o, c, counts, ends = o[take], c[take], counts[take], ends[take]
        found = tuple(symbols)
    last = ts[ends - 1] if ts.size else np.empty(0, np.int64)
    return Panel(found, o, c, last.astype(np.int64), counts.astype(np.int64))


class _PanelCache:
    """Partitions read by this process, newest used kept, bounded in bytes: each of a
    sweep's parameter sets needs the same partition, read once per worker."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # (url, size, modification stamp): the stamp's type depends on the filesystem.
        self._items: OrderedDict[tuple[str, object, object], Panel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> Panel:
        fs, path = _fs(url)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise DataError(f"{url}: partition file not found (was the universe moved?)") from None
        key = (url, info.get("size"), info.get("mtime") or info.get("ETag") or info.get("LastModified"))
        with self._lock:
            panel = self._items.get(key)
            if panel is not None:
                self._items.move_to_end(key)
                return panel
        panel = read_panel(url)
        with self._lock:
            self._items[key] = panel
            while sum(p.nbytes for p in self._items.values()) > self.max_bytes and len(self._items) > 1:
                self._items.popitem(last=False)
        return panel

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: The process's cache (``ATC_PANEL_CACHE_MB`` sizes it; 1024 MB by default).
panel_cache = _PanelCache(int(os.environ.get("ATC_PANEL_CACHE_MB", "1024")) << 20)


def bars_from_store(db: str | None, interval: str, symbols: Sequence[str] | None = None,
                    chunk: int = 500) -> Iterator[tuple[Bars, CleaningReport]]:
    """Every stored series of ``interval`` (or of ``symbols``), each with the cleaner's
    report on the stored bars (bars enter the store cleaned, so it is normally clean)."""
    from core.data import BarStore, clean_arrays

    with BarStore(db) as store:
        # Named symbols meet the ticker rule and are normalised, as `atc compute --symbol` does.
        names = [valid_symbol(s) for s in symbols] if symbols else store.symbols(interval)
        if not names:
            raise DataError(f"the bar store has no bars of interval {interval} (fetch some with atc fetch)")
        for i in range(0, len(names), chunk):
            loaded = store.load_many(names[i:i + chunk], interval)
            for name in names[i:i + chunk]:
                bars = loaded.get(name)
                if bars is None:
                    raise DataError(f"{name}: no stored bars of interval {interval}", symbol=name)
                _, report = clean_arrays(name, interval, bars.timestamps, bars.open, bars.high,
                                         bars.low, bars.close, bars.volume, tz=bars.tz,
                                         source=bars.source, synthetic=bars.synthetic)
                yield bars, report


def bars_from_provider(source: str | Provider, interval: str, symbols: Sequence[str] | None = None,
                       chunk: int = 500) -> Iterator[tuple[Bars, CleaningReport]]:
    """Every symbol of a provider (a source string, ``csv:DIR``, ``bundled``,
    ``synthetic``, or a provider object), fetched a chunk at a time, with the cleaner's
    reports; a symbol that fails stops the export.

    The source and its symbols are settled on the call, before an export creates anything;
    a source that cannot list its symbols (Yahoo) needs ``symbols``."""
    from core.data import make_provider
    from core.data.providers.base import ListsSymbols

    provider = make_provider(source) if isinstance(source, str) else source
    if symbols:
        names = [valid_symbol(s) for s in symbols]
    elif isinstance(provider, ListsSymbols):
        names = provider.symbols()
    else:
        raise ATCInputError(f"the {provider.name} source cannot list its symbols: name the "
                            "symbols to export (--symbols SYMBOL ...)", field="symbols")
    return _fetched_in_chunks(provider, names, interval, chunk)


def _fetched_in_chunks(provider: Provider, names: list[str], interval: str,
                       chunk: int) -> Iterator[tuple[Bars, CleaningReport]]:
    for i in range(0, len(names), chunk):
        fetched = provider.fetch(names[i:i + chunk], interval)
        for name, reason in fetched.failures.items():
            raise DataError(f"{name}: {reason}", symbol=name)
        for name in names[i:i + chunk]:
            if name in fetched.bars:
                yield fetched.bars[name], fetched.cleaning[name]
