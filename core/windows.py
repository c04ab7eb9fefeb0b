"""Which stored bars an indicator run starts from.

The ATC's equities depend on the first bar computed (spec §10), so the start must not
slide with every new bar: a live state that appends bars would then disagree with a fresh
computation after a restart. The start is therefore anchored in blocks of
``history_bars``: with n stored bars the computation covers bars from
``history_start(n, history_bars)`` on — between ``history_bars`` and
``2·history_bars − 1`` bars (all of them while fewer are stored) — and the start moves on
by a whole block only when n crosses the next multiple of ``history_bars``. The same n
always gives the same start, so a state grown bar by bar equals a restart's computation.
"""
from __future__ import annotations


def history_start(n_bars: int, history_bars: int) -> int:
    """Index of the first of ``n_bars`` stored bars that a computation uses."""
    if history_bars < 1:
        raise ValueError(f"history_bars = {history_bars} must be ≥ 1")
    if n_bars <= history_bars:
        return 0
    return (n_bars - history_bars) // history_bars * history_bars
