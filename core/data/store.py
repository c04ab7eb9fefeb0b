"""``BarStore``: the local, on-disk cache of bars (SQLite, stdlib ``sqlite3``).

* One file, by default ``<user data dir>/bars.sqlite3`` (``core.paths.data_dir``).
* WAL journal with ``synchronous=NORMAL``: a committed transaction survives the app being
  killed at any moment (only a power cut or OS crash may roll back the last commits, and
  even then the file stays consistent). Writes are single transactions, so a writer killed
  mid-way leaves the previous state intact.
* ``PRAGMA application_id`` marks the file as ours and ``PRAGMA user_version`` holds the
  schema version. A file that is corrupt, not a database, someone else's database, or from
  a newer schema is moved aside (renamed, never deleted) with a logged warning, an empty
  store is built in its place and ``recovered_from`` tells the UI where the old file went.
  Damage to the file's structure discovered later, while reading or writing, is handled
  the same way.
* Damage inside one series (a chunk failing its checksum, size or invariants) costs only
  that series: it is set aside into the quarantine tables with the reason (see
  :meth:`BarStore.quarantined`), reading it raises a ``DataError`` saying so, and as it is
  no longer stored the next refresh fetches its whole history again. Other series stay.
* Bars are kept in time-bucketed chunks (see ``core.data.chunks``); the logical key is
  (symbol, interval, timestamp) and upserts replace bars with equal timestamps.
* One connection guarded by a re-entrant lock: calls are short, it keeps recovery simple,
  and any worker thread may use the store.
* A series holds bars from one source: upserting bars from another source (say Yahoo after
  the bundled demo data) replaces the series instead of mixing differently adjusted prices.
* :meth:`BarStore.replace_series` swaps a whole series for new bars in one transaction
  (a provider that rewrote its adjusted history after a split or dividend): readers see
  the old series or the new one, never a mix.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np

from core.data import chunks
from core.data.bars import Bars
from core.data.store_file import (
    APPLICATION_ID, DB_NAME, SCHEMA_VERSION, default_path, is_corruption, move_aside,
    open_connection,
)
from core.errors import DataError

log = logging.getLogger(__name__)
_T = TypeVar("_T")
__all__ = ["APPLICATION_ID", "DB_NAME", "SCHEMA_VERSION", "BarStore", "Quarantined", "SeriesInfo",
           "default_path"]


@dataclass(frozen=True)
class SeriesInfo:
    """Summary of one stored series: where it came from and the range it covers."""

    symbol: str
    interval: str
    tz: str
    source: str
    synthetic: bool
    n_bars: int
    first_ts: int
    last_ts: int


@dataclass(frozen=True)
class Quarantined:
    """A series whose stored bars were found damaged and set aside."""

    symbol: str
    interval: str
    found_at: float
    reason: str


class SeriesDamaged(Exception):
    """A stored chunk of one series failed its checks (internal: becomes a quarantine)."""

    def __init__(self, symbol: str, interval: str, reason: str) -> None:
        super().__init__(f"{symbol} {interval}: {reason}")
        self.symbol, self.interval, self.reason = symbol, interval, reason


def _verified(symbol: str, interval: str, chunk: int, n: int, blob: bytes,
              crc: int | None) -> np.ndarray:
    try:
        return chunks.read(symbol, interval, chunk, n, blob, crc)
    except chunks.ChunkCorrupt as exc:
        raise SeriesDamaged(symbol, interval, str(exc)) from exc


def _checked(symbol: str, interval: str, block: np.ndarray) -> None:
    try:
        chunks.check(block)
    except chunks.ChunkCorrupt as exc:
        raise SeriesDamaged(symbol, interval, str(exc)) from exc


class BarStore:
    """The local bar cache.

    Parameters
    ----------
    path : pathlib.Path, optional
        Database file; None uses ``default_path()``. Parent folders are created.

    Attributes
    ----------
    path : pathlib.Path
        The database file.
    recovered_from : pathlib.Path or None
        Where an unusable file was moved to when this store rebuilt it, else None.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the folder of the bar store {self.path}: {exc}") from exc
        self.recovered_from: Path | None = None
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = open_connection(self.path)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc, self.path):
                raise DataError(f"cannot open the bar store {self.path}: {exc}") from exc
            self.recovered_from = move_aside(self.path, exc)
            self._conn = open_connection(self.path)

    # -- opening and recovery -------------------------------------------------------------

    def _recover(self, exc: BaseException) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None
        self.recovered_from = move_aside(self.path, exc)
        self._conn = open_connection(self.path)

    def _run(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``op`` under the lock; on corruption rebuild the store and run it once more."""
        with self._lock:
            if self._conn is None:
                raise DataError(f"the bar store {self.path} is closed")
            try:
                return op(self._conn)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc, self.path):
                    raise DataError(f"bar store {self.path}: {exc}") from exc
                self._recover(exc)
                try:
                    return op(self._conn)
                except sqlite3.DatabaseError as again:
                    raise DataError(f"bar store {self.path}: {again}") from again

    def close(self) -> None:
        """Close the database (idempotent); later calls raise ``DataError``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> BarStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self) -> bool:
        """Run SQLite's ``quick_check`` over the whole file (slow on big stores).

        Returns True when the file is sound. A damaged file is moved aside and rebuilt
        (``recovered_from`` is set) and False is returned.
        """
        with self._lock:
            recovered = self.recovered_from
            rows = self._run(lambda c: c.execute("PRAGMA quick_check").fetchall())
            if self.recovered_from is not recovered:
                return False  # the check itself hit corruption and _run rebuilt the store
            if rows == [("ok",)]:
                return True
            self._recover(sqlite3.DatabaseError(f"quick_check: {rows[0][0]}"))
            return False

    # -- damaged series -------------------------------------------------------------------

    def _set_aside(self, damage: SeriesDamaged) -> None:
        """Move one series' chunks to the quarantine tables and forget the series, so that
        reads no longer see it and the next refresh fetches all of it again."""
        key = (damage.symbol, damage.interval)

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM quarantined_chunks WHERE symbol=? AND interval=?", key)
                conn.execute(
                    "INSERT INTO quarantined_chunks (symbol, interval, chunk, n, data, crc) "
                    "SELECT symbol, interval, chunk, n, data, crc FROM chunks "
                    "WHERE symbol=? AND interval=?", key)
                meta = conn.execute("SELECT source, n_bars FROM series WHERE symbol=? AND interval=?",
                                    key).fetchone() or (None, None)
                conn.execute("INSERT OR REPLACE INTO quarantine VALUES (?,?,?,?,?,?)",
                             (*key, time.time(), damage.reason, *meta))
                for table in ("chunks", "series", "fetches"):
                    conn.execute(f"DELETE FROM {table} WHERE symbol=? AND interval=?", key)

        self._run(op)
        log.warning("bar store %s: the stored %s bars of %s are damaged (%s); set them aside, "
                    "the next refresh fetches them again", self.path, damage.interval,
                    damage.symbol, damage.reason)

    def _damage_error(self, damage: SeriesDamaged) -> DataError:
        return DataError(
            f"the stored {damage.interval} bars of {damage.symbol} were damaged ({damage.reason}); "
            f"they were set aside in the bar store {self.path} and the next refresh fetches them "
            f"again (or run `atc fetch {damage.symbol} --interval {damage.interval}`)",
            symbol=damage.symbol)

    def quarantined(self, interval: str | None = None) -> list[Quarantined]:
        """Series set aside as damaged (at ``interval``, or any), oldest finding first.

        A record stays after the series is fetched again; :meth:`delete` clears it.
        """
        sql = "SELECT symbol, interval, found_at, reason FROM quarantine"
        args: tuple[str, ...] = ()
        if interval is not None:
            sql, args = sql + " WHERE interval=?", (interval,)
        rows = self._run(lambda c: c.execute(sql + " ORDER BY found_at, symbol", args).fetchall())
        return [Quarantined(sym, iv, float(at), reason) for sym, iv, at, reason in rows]

    # -- writing --------------------------------------------------------------------------

    def upsert(self, bars: Bars) -> int:
        """Insert or replace ``bars`` keyed by (symbol, interval, timestamp).

        Returns
        -------
        int
            Bars that were new or whose values changed (0 when nothing changed).

        Raises
        ------
        DataError
            If the stored bars they merge into were damaged: those are set aside and
            nothing is written (fetch the whole history again).
        """
        out, damaged = self._upsert([bars])
        if damaged:
            raise self._damage_error(damaged[0])
        return out[bars.symbol]

    def upsert_many(self, many: Iterable[Bars], *, replace: Iterable[Bars] = ()) -> dict[str, int]:
        """Upsert several series in one transaction; returns new/changed bars per symbol.

        Either every series is written or, if anything fails (or the process dies), none.
        A series whose stored bars turn out damaged while merging is the exception: it is
        set aside (see :meth:`quarantined`), its new bars are not written and its symbol is
        absent from the result, so the caller can fetch its whole history again.

        ``replace`` holds whole series that replace what is stored of them (see
        :meth:`replace_series`), in the same transaction; every bar of theirs counts as new.
        """
        return self._upsert(many, replace)[0]

    def replace_series(self, bars: Bars) -> int:
        """Replace the stored series ``(bars.symbol, bars.interval)`` with ``bars``.

        One transaction deletes the old bars and writes the new ones, so a failure at any
        point (or the process dying) leaves the old series exactly as it was. Fetch times
        and quarantine records are kept. Returns the number of bars written.

        Raises
        ------
        DataError
            If ``bars`` is empty: replacing a history with nothing would only lose it.
        """
        return self._upsert((), [bars])[0][bars.symbol]

    def _upsert(self, many: Iterable[Bars], replace: Iterable[Bars] = ()
                ) -> tuple[dict[str, int], list[SeriesDamaged]]:
        # Lists, because a rebuilt store runs the operation a second time.
        series = [(b, False) for b in many] + [(b, True) for b in replace]
        for bars, whole in series:
            if whole and len(bars) == 0:
                raise DataError(f"refusing to replace the stored {bars.interval} bars of "
                                f"{bars.symbol} with no bars", symbol=bars.symbol)
        damaged: list[SeriesDamaged] = []
        with self._lock:
            while True:
                try:
                    return self._run(lambda conn: self._write_all(conn, series)), damaged
                except SeriesDamaged as damage:  # the transaction was rolled back
                    key = (damage.symbol, damage.interval)
                    if any((d.symbol, d.interval) == key for d in damaged):
                        raise self._damage_error(damage) from damage  # set aside, yet still there
                    self._set_aside(damage)
                    damaged.append(damage)
                    series = [(b, w) for b, w in series if (b.symbol, b.interval) != key]

    def _write_all(self, conn: sqlite3.Connection, series: list[tuple[Bars, bool]]
                   ) -> dict[str, int]:
        out: dict[str, int] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            for bars, whole in series:
                out[bars.symbol] = out.get(bars.symbol, 0) + self._write(conn, bars, whole)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error says more than a failed rollback
            raise
        return out

    def _write(self, conn: sqlite3.Connection, bars: Bars, whole: bool = False) -> int:
        """Merge ``bars`` into their series, or replace the series when ``whole``."""
        if len(bars) == 0:
            return 0
        key = (bars.symbol, bars.interval)
        row = conn.execute(
            "SELECT source, synthetic, n_bars, first_ts, last_ts FROM series "
            "WHERE symbol=? AND interval=?", key).fetchone()
        if row is not None and (row[0] != bars.source or bool(row[1]) != bars.synthetic):
            log.info("%s %s: replacing %s bars with %s bars", *key, row[0], bars.source)
            whole = True
        if row is not None and whole:
            # The old chunks are deleted unread: damage in them cannot stop a replacement.
            conn.execute("DELETE FROM chunks WHERE symbol=? AND interval=?", key)
            row = None
        total = row[2] if row else 0
        block = chunks.pack_columns(bars.timestamps, bars.open, bars.high, bars.low,
                                    bars.close, bars.volume)
        pieces = list(chunks.split_by_bucket(block, bars.interval))
        existing: dict[int, tuple[int, bytes, int | None]] = {}
        if row is not None:
            cur = conn.execute(
                "SELECT chunk, n, data, crc FROM chunks WHERE symbol=? AND interval=? "
                "AND chunk BETWEEN ? AND ?", (*key, pieces[0][0], pieces[-1][0]))
            existing = {c: (n, data, crc) for c, n, data, crc in cur}
        changed = 0
        writes = []
        for chunk_key, new in pieces:
            if chunk_key in existing:
                old_n, blob, crc = existing[chunk_key]
                old = _verified(*key, chunk_key, old_n, blob, crc)
                _checked(*key, old)
                merged, n_changed = chunks.merge(old, new)
                total += merged.shape[1] - old_n
            else:
                merged, n_changed = new, new.shape[1]
                total += n_changed
            if n_changed:
                n, blob = merged.shape[1], chunks.encode(merged)
                writes.append((*key, chunk_key, n, blob, chunks.checksum(*key, chunk_key, n, blob)))
                changed += n_changed
        conn.executemany(
            "INSERT OR REPLACE INTO chunks (symbol, interval, chunk, n, data, crc) "
            "VALUES (?,?,?,?,?,?)", writes)
        first = int(bars.timestamps[0]) if row is None else min(row[3], int(bars.timestamps[0]))
        last = int(bars.timestamps[-1]) if row is None else max(row[4], int(bars.timestamps[-1]))
        conn.execute(
            "INSERT OR REPLACE INTO series VALUES (?,?,?,?,?,?,?,?)",
            (*key, bars.tz, bars.source, int(bars.synthetic), total, first, last))
        return changed

    def delete(self, symbol: str, interval: str | None = None) -> None:
        """Forget a symbol's bars, fetch times and quarantine records (one interval, or all)."""
        where, args = ("symbol=?", (symbol,)) if interval is None else (
            "symbol=? AND interval=?", (symbol, interval))

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                for table in ("chunks", "series", "fetches", "quarantine", "quarantined_chunks"):
                    conn.execute(f"DELETE FROM {table} WHERE {where}", args)

        self._run(op)

    def mark_fetched(self, symbol: str, interval: str, when: float) -> None:
        """Record a successful fetch of ``symbol`` at unix time ``when`` (seconds)."""
        self.mark_fetched_many([symbol], interval, when)

    def mark_fetched_many(self, symbols: Iterable[str], interval: str, when: float) -> None:
        """Record one fetch time for several symbols in one transaction."""
        rows = [(s, interval, float(when)) for s in symbols]

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO fetches VALUES (?,?,?)", rows)

        self._run(op)

    # -- reading --------------------------------------------------------------------------

    def last_fetch(self, symbol: str, interval: str) -> float | None:
        """Unix time of the last successful fetch, or None if never fetched."""
        row = self._run(lambda c: c.execute(
            "SELECT fetched_at FROM fetches WHERE symbol=? AND interval=?",
            (symbol, interval)).fetchone())
        return float(row[0]) if row else None

    def last_timestamp(self, symbol: str, interval: str) -> int | None:
        """Timestamp (ns, UTC) of the newest stored bar, or None."""
        row = self._run(lambda c: c.execute(
            "SELECT last_ts FROM series WHERE symbol=? AND interval=?",
            (symbol, interval)).fetchone())
        return int(row[0]) if row else None

    def symbols(self, interval: str | None = None) -> list[str]:
        """Symbols with stored bars (at ``interval``, or at any interval), sorted."""
        args: tuple[str, ...] = ()
        if interval is None:
            sql = "SELECT DISTINCT symbol FROM series ORDER BY symbol"
        else:
            sql, args = "SELECT symbol FROM series WHERE interval=? ORDER BY symbol", (interval,)
        return [r[0] for r in self._run(lambda c: c.execute(sql, args).fetchall())]

    def info(self, symbol: str, interval: str) -> SeriesInfo | None:
        """What is stored for one series (no bars are read), or None."""
        row = self._run(lambda c: c.execute(
            "SELECT tz, source, synthetic, n_bars, first_ts, last_ts FROM series "
            "WHERE symbol=? AND interval=?", (symbol, interval)).fetchone())
        if row is None:
            return None
        tz, source, synthetic, n, first, last = row
        return SeriesInfo(symbol, interval, tz, source, bool(synthetic), int(n), int(first), int(last))

    def count(self, symbol: str, interval: str) -> int:
        """Number of stored bars of one series (0 if none)."""
        row = self._run(lambda c: c.execute(
            "SELECT n_bars FROM series WHERE symbol=? AND interval=?",
            (symbol, interval)).fetchone())
        return int(row[0]) if row else 0

    def load(self, symbol: str, interval: str = "1d", last: int | None = None) -> Bars | None:
        """One series, oldest bar first, or None if nothing is stored.

        Parameters
        ----------
        symbol, interval : str
            The series.
        last : int, optional
            Return only the newest ``last`` bars (reads only the chunks needed).

        Raises
        ------
        DataError
            If the stored bars are damaged; they are set aside (:meth:`quarantined`) and
            the next refresh fetches them again.
        """
        def op(conn: sqlite3.Connection) -> Bars | None:
            meta = conn.execute("SELECT tz, source, synthetic FROM series "
                                "WHERE symbol=? AND interval=?", (symbol, interval)).fetchone()
            if meta is None:
                return None
            cur = conn.execute("SELECT chunk, n, data, crc FROM chunks WHERE symbol=? AND interval=? "
                               "ORDER BY chunk DESC", (symbol, interval))
            blocks: list[np.ndarray] = []
            have = 0
            for chunk, n, data, crc in cur:
                blocks.append(_verified(symbol, interval, chunk, n, data, crc))
                have += n
                if last is not None and have >= last:
                    break
            return self._bars(symbol, interval, meta, chunks.concat_blocks(blocks[::-1]), last)

        with self._lock:  # held until set aside: no other thread may rewrite it meanwhile
            try:
                return self._run(op)
            except SeriesDamaged as damage:
                self._set_aside(damage)
                raise self._damage_error(damage) from None

    def load_many(self, symbols: Sequence[str], interval: str = "1d") -> dict[str, Bars]:
        """Several series at one interval; symbols without stored bars are left out.

        Damaged series are left out too: they are set aside (:meth:`quarantined` says why)
        and the next refresh fetches them again, while the intact ones load as usual.
        """
        wanted = list(dict.fromkeys(symbols))
        damaged: list[SeriesDamaged] = []

        def op(conn: sqlite3.Connection) -> dict[str, Bars]:
            damaged.clear()  # a rebuilt store runs this again
            out: dict[str, Bars] = {}
            # 500 bound parameters per query stays under every SQLite build's limit.
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                marks = ",".join("?" * len(part))
                metas = {r[0]: r[1:] for r in conn.execute(
                    f"SELECT symbol, tz, source, synthetic FROM series WHERE interval=? "
                    f"AND symbol IN ({marks})", (interval, *part))}
                blobs: dict[str, list[np.ndarray]] = {s: [] for s in metas}
                bad: dict[str, SeriesDamaged] = {}
                for sym, chunk, n, data, crc in conn.execute(
                        f"SELECT symbol, chunk, n, data, crc FROM chunks WHERE interval=? "
                        f"AND symbol IN ({marks}) ORDER BY symbol, chunk", (interval, *part)):
                    if sym in bad:
                        continue
                    if sym not in blobs:
                        bad[sym] = SeriesDamaged(sym, interval, "chunks without a series row")
                        continue
                    try:
                        blobs[sym].append(_verified(sym, interval, chunk, n, data, crc))
                    except SeriesDamaged as damage:
                        bad[sym] = damage
                for sym in part:
                    if sym in metas and sym not in bad:
                        try:
                            out[sym] = self._bars(sym, interval, metas[sym],
                                                  chunks.concat_blocks(blobs[sym]), None)
                        except SeriesDamaged as damage:
                            bad[sym] = damage
                damaged.extend(bad.values())
            return out

        with self._lock:
            out = self._run(op)
            for damage in damaged:
                self._set_aside(damage)
            return out

    @staticmethod
    def _bars(symbol: str, interval: str, meta: tuple[str, str, int], block: np.ndarray,
              last: int | None) -> Bars:
        if last is not None:
            block = block[:, max(block.shape[1] - max(int(last), 0), 0):]
        _checked(symbol, interval, block)
        ts, o, h, lo, c, v = chunks.unpack(block)
        tz, source, synthetic = meta
        return Bars(symbol, interval, ts, o, h, lo, c, v, tz=tz, source=source,
                    synthetic=bool(synthetic), _checked=False)
