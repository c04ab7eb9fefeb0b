"""The bar store's file: schema, opening, and what to do with a file that cannot be used.

The schema version lives in ``PRAGMA user_version`` and ``PRAGMA application_id`` marks the
file as an ATC bar store. A file that is not a database, is damaged, belongs to another
application or has a newer schema is renamed aside, never deleted.

Additive changes keep the version, so a file stays usable by the versions before them:
the chunk checksum column (``crc``) and the quarantine tables were added that way.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from core.data import chunks
from core.errors import DataError

log = logging.getLogger("core.data.store")

SCHEMA_VERSION = 1
APPLICATION_ID = 0x41544344  # "ATCD"
DB_NAME = "bars.sqlite3"

# Series whose stored chunks failed their checks: why, when, and the chunks themselves
# (moved here, never deleted; one copy per series, the latest).
_QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    symbol   TEXT NOT NULL,
    interval TEXT NOT NULL,
    found_at REAL NOT NULL,
    reason   TEXT NOT NULL,
    source   TEXT,
    n_bars   INTEGER,
    PRIMARY KEY (symbol, interval)
);
CREATE TABLE IF NOT EXISTS quarantined_chunks (
    symbol   TEXT NOT NULL,
    interval TEXT NOT NULL,
    chunk    INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    data     BLOB NOT NULL,
    crc      INTEGER,
    PRIMARY KEY (symbol, interval, chunk)
);
"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    symbol    TEXT NOT NULL,
    interval  TEXT NOT NULL,
    tz        TEXT NOT NULL,
    source    TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    n_bars    INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    PRIMARY KEY (symbol, interval)
);
CREATE TABLE IF NOT EXISTS chunks (
    symbol   TEXT NOT NULL,
    interval TEXT NOT NULL,
    chunk    INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    data     BLOB NOT NULL,
    crc      INTEGER,
    PRIMARY KEY (symbol, interval, chunk)
);
CREATE TABLE IF NOT EXISTS fetches (
    symbol     TEXT NOT NULL,
    interval   TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    PRIMARY KEY (symbol, interval)
);
""" + _QUARANTINE
# sqlite3 error codes meaning "this file cannot be trusted" (not "busy, try again").
_SQLITE_CORRUPT, _SQLITE_NOTADB, _SQLITE_CANTOPEN = 11, 26, 14


class Incompatible(sqlite3.DatabaseError):
    """The file is a valid SQLite database but not one this version can use."""


def default_path() -> Path:
    """``<user data dir>/bars.sqlite3`` (honours ``ATC_DESKTOP_HOME``, see ``core.paths``)."""
    from core.paths import data_dir

    return data_dir() / DB_NAME


def is_corruption(exc: BaseException, path: Path) -> bool:
    """Whether ``exc`` means the file at ``path`` cannot be trusted (not "busy, retry")."""
    if isinstance(exc, (Incompatible, chunks.ChunkCorrupt)):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        return primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or (
            primary == _SQLITE_CANTOPEN and path.is_file()
        )
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def open_connection(path: Path) -> sqlite3.Connection:
    """Open (creating or upgrading if needed) the store file at ``path``.

    Raises
    ------
    sqlite3.DatabaseError
        If the file is not a database, is damaged, or is not a usable ATC bar store
        (see :func:`is_corruption`).
    """
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                           check_same_thread=False)
    try:
        # Reading the header pages first makes a non-database fail here, not later.
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        if has_tables and app_id != APPLICATION_ID:
            raise Incompatible(f"not an ATC bar store (application_id {app_id:#x})")
        if version > SCHEMA_VERSION:
            raise Incompatible(f"schema version {version} is newer than {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            conn.executescript(
                "BEGIN IMMEDIATE;" + _SCHEMA
                + f"PRAGMA application_id={APPLICATION_ID};"
                + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
        elif not _has_column(conn, "chunks", "crc"):
            add_checksums(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def add_checksums(conn: sqlite3.Connection) -> None:
    """Upgrade a store written before chunk checksums, in one transaction.

    Every chunk gets its checksum now, so old history is protected from here on (it is
    rarely rewritten). A chunk that already fails its size or invariant checks keeps a NULL
    checksum: reading it fails those checks and sets its series aside, as for any damage.
    Checksumming now cannot vouch for damage that happened before and passes the invariants;
    nothing could.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _has_column(conn, "chunks", "crc"):  # another process may have upgraded it
            conn.execute("ALTER TABLE chunks ADD COLUMN crc INTEGER")
            for statement in _QUARANTINE.split(";"):
                if statement.strip():
                    conn.execute(statement)
            done, last = 0, -1
            while True:  # in batches: a store may be larger than memory
                rows = conn.execute("SELECT rowid, symbol, interval, chunk, n, data FROM chunks "
                                    "WHERE rowid > ? ORDER BY rowid LIMIT 1000", (last,)).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                sums = []
                for rowid, symbol, interval, chunk, n, data in rows:
                    try:
                        chunks.check(chunks.decode(data, n))
                    except chunks.ChunkCorrupt:
                        continue
                    sums.append((chunks.checksum(symbol, interval, chunk, n, data), rowid))
                conn.executemany("UPDATE chunks SET crc=? WHERE rowid=?", sums)
                done += len(sums)
            log.info("added checksums to %d chunks of the bar store", done)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def move_aside(path: Path, exc: BaseException) -> Path:
    """Rename an unusable store file (and its WAL/SHM files) aside; returns the new name.

    Raises
    ------
    DataError
        If the files cannot be renamed.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    k = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{k}")
        k += 1
    try:
        # The WAL and shared-memory files belong to the old database: keep them with it,
        # or SQLite would try to replay a foreign log into the new file.
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                side.replace(Path(str(target) + suffix))
        if path.exists():
            path.replace(target)
    except OSError as move_exc:
        raise DataError(
            f"the bar store {path} is unusable ({exc}) and could not be moved aside "
            f"({move_exc}); move or delete it by hand and restart"
        ) from move_exc
    log.warning("bar store %s was unusable (%s); moved it to %s and started an empty store",
                path, exc, target)
    return target
