"""How the bar store packs bars into SQLite rows.

A row per bar would cost a Python tuple and a B-tree entry per bar: writing 2.5 million
daily bars that way takes several seconds and reading them back a few more. The store
therefore keeps each series in *chunks*: the bars whose timestamp falls in one fixed,
epoch-aligned time bucket (``CHUNK_BARS`` nominal bars long) share one BLOB holding six
little-endian 8-byte columns (timestamp, open, high, low, close, volume). The logical key
is still (symbol, interval, timestamp): an upsert merges the new bars into the chunks they
touch, replacing bars with equal timestamps, so incremental refreshes rewrite only the
newest chunk.
"""
from __future__ import annotations

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


def decode(blob: bytes) -> np.ndarray:
    """Inverse of :func:`encode`: a read-only ``(6, n)`` int64 view of the BLOB."""
    flat = np.frombuffer(blob, dtype=_DTYPE)
    return flat.reshape(_COLUMNS, flat.size // _COLUMNS)


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
