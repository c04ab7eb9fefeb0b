"""The bar store's file: schema, opening, and what to do with a file that cannot be used.

The schema version lives in ``PRAGMA user_version`` and ``PRAGMA application_id`` marks the
file as an ATC bar store. A file that is not a database, is damaged, belongs to another
application or has a newer schema is renamed aside, never deleted.
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
    PRIMARY KEY (symbol, interval, chunk)
);
CREATE TABLE IF NOT EXISTS fetches (
    symbol     TEXT NOT NULL,
    interval   TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    PRIMARY KEY (symbol, interval)
);
"""
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
    except BaseException:
        conn.close()
        raise
    return conn


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
