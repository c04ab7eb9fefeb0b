"""How the bar store packs bars into SQLite rows.

A row per bar would cost a Python tuple and a B-tree entry per bar: writing 2.5 million
daily bars that way takes several seconds and reading them back a few more. The store
therefore keeps each series in *chunks*: the bars whose timestamp falls in one fixed,
epoch-aligned time bucket (``CHUNK_BARS`` nominal bars long) share one BLOB holding six
little-endian 8-byte columns (timestamp, open, high, low, close, volume). The logical key
is still (symbol, interval, timestamp): an upsert merges the new bars into the chunks they
touch, replacing bars with equal timestamps, so incremental refreshes rewrite only the
newest chunk.

SQLite checks its B-tree pages but not what a BLOB holds, so each chunk row carries a CRC32
of its BLOB (seeded with the row's key and bar count): a flipped bit in a stored price is
found when the chunk is read, and the store sets that one series aside.
"""
from __future__ import annotations

import sqlite3
import zlib
from typing import Iterator

import numpy as np

from core.data.bars import ARRAY_FIELDS
from core.data.intervals import interval_seconds

#: Nominal bars per chunk: ~1-2 years of daily bars (~8-17 KB), one trading day of 1m bars.
CHUNK_BARS = 512
_COLUMNS = len(ARRAY_FIELDS)
_DTYPE = np.dtype("<i8")


def bucket_ns(interval: str) -> int:
    """Length of one chunk's time bucket in nanoseconds."""
    return interval_seconds(interval) * CHUNK_BARS * 1_000_000_000


def pack_columns(timestamps: np.ndarray, *values: np.ndarray) -> np.ndarray:
    """Stack the six columns into one ``(6, n)`` int64 block (floats kept bit for bit)."""
    block = np.empty((_COLUMNS, timestamps.size), dtype=_DTYPE)
    block[0] = timestamps
    block[1:] = np.vstack(values).view(_DTYPE) if timestamps.size else 0
    return block


def split_by_bucket(block: np.ndarray, interval: str) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(chunk_key, sub_block)`` for the buckets that ``block``'s bars fall in."""
    if block.shape[1] == 0:
        return
    keys = block[0] // bucket_ns(interval)  # floor division: correct before 1970 too
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [keys.size]))
    for lo, hi in zip(starts.tolist(), stops.tolist()):
        yield int(keys[lo]), block[:, lo:hi]


def encode(block: np.ndarray) -> bytes:
    """The BLOB stored for a chunk."""
    return np.ascontiguousarray(block, dtype=_DTYPE).tobytes()


class ChunkCorrupt(sqlite3.DatabaseError):
    """A chunk read back from the file is not what the store wrote (damaged pages)."""


def decode(blob: bytes, n: int | None = None) -> np.ndarray:
    """Inverse of :func:`encode`: a read-only ``(6, n)`` int64 view of the BLOB.

    Raises ``ChunkCorrupt`` when the BLOB's size does not match ``n`` bars.
    """
    if not isinstance(blob, bytes) or len(blob) % (_COLUMNS * 8) or (
            n is not None and len(blob) != n * _COLUMNS * 8):
        raise ChunkCorrupt(f"chunk of {n} bars has a BLOB of {len(blob) if isinstance(blob, bytes) else '?'} bytes")
    flat = np.frombuffer(blob, dtype=_DTYPE)
    return flat.reshape(_COLUMNS, flat.size // _COLUMNS)


def checksum(symbol: str, interval: str, chunk: int, n: int, blob: bytes) -> int:
    """CRC32 stored with a chunk: of the BLOB, seeded with the key and the bar count so that
    a BLOB read under the wrong row fails too. CRC32 finds every burst of damage up to 32
    bits and runs at GB/s in zlib (a cryptographic hash costs ~5x more per read)."""
    seed = zlib.crc32(f"{symbol}\x00{interval}\x00{chunk}\x00{n}".encode())
    return zlib.crc32(blob, seed)


def read(symbol: str, interval: str, chunk: int, n: int, blob: bytes, crc: int | None) -> np.ndarray:
    """A stored chunk, decoded after its checksum is checked.

    ``crc`` None marks a chunk without a checksum (written by a version that predates them
    into a file this version already upgraded): it is trusted as far as :func:`check`'s
    invariants go, as all chunks were before.

    Raises ``ChunkCorrupt`` on a checksum mismatch or a BLOB of the wrong size.
    """
    if crc is not None and checksum(symbol, interval, chunk, n, blob) != crc:
        start = np.datetime64(chunk * bucket_ns(interval), "ns").astype("datetime64[s]")
        raise ChunkCorrupt(f"checksum mismatch in the chunk of bars from {start} UTC on")
    return decode(blob, n)


def check(block: np.ndarray) -> None:
    """Raise ``ChunkCorrupt`` unless ``block`` could have been written by the store.

    A second line of defence behind the checksums (and the only one for chunks without a
    checksum). The store only ever receives cleaned bars, so ascending timestamps, finite
    positive prices and finite non-negative volumes are invariants; random damage breaks
    them with near certainty, and checking them costs a few vectorised passes.
    """
    ts = block[0]
    floats = block[1:].view(np.float64)
    with np.errstate(invalid="ignore"):
        ok = (bool(np.all(ts[1:] > ts[:-1]))
              and bool(np.isfinite(floats).all())
              and bool((floats[:4] > 0).all()) and bool((floats[4] >= 0).all()))
    if not ok:
        raise ChunkCorrupt("stored bars fail the store's invariants (damaged file)")


def merge(old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, int]:
    """Merge ``new`` bars into a chunk's ``old`` bars; equal timestamps take the new values.

    Returns
    -------
    (numpy.ndarray, int)
        The merged ``(6, n)`` block, sorted by timestamp, and how many bars are new or
        changed (0 means the chunk need not be rewritten).
    """
    old_ts, new_ts = old[0], new[0]
    pos = np.searchsorted(old_ts, new_ts)
    inside = pos < old_ts.size
    matched = np.zeros(new_ts.size, dtype=bool)
    matched[inside] = old_ts[pos[inside]] == new_ts[inside]
    # Bit-for-bit comparison: a re-fetched bar counts as changed only if a value differs.
    differs = np.zeros(new_ts.size, dtype=bool)
    differs[matched] = (old[:, pos[matched]] != new[:, matched]).any(axis=0)
    changed = int((~matched).sum() + differs.sum())
    if changed == 0:
        return old, 0
    survivors = np.ones(old_ts.size, dtype=bool)
    survivors[pos[matched]] = False
    combined = np.concatenate((old[:, survivors], new), axis=1)
    order = np.argsort(combined[0], kind="stable")
    return combined[:, order], changed


def concat_blocks(blocks: list[np.ndarray]) -> np.ndarray:
    """Join chunk blocks (already in time order) into one C-contiguous ``(6, n)`` block."""
    if not blocks:
        return np.empty((_COLUMNS, 0), dtype=_DTYPE)
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks, axis=1)


def unpack(block: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(timestamps, open, high, low, close, volume)`` views of a block."""
    block = np.ascontiguousarray(block)
    floats = block[1:].view(np.float64)
    return (block[0], *floats)
