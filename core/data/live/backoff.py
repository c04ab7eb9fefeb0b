"""Reconnect delays: exponential back-off with jitter, reset after a healthy connection."""
from __future__ import annotations

import random

from core.errors import ATCInputError


class Backoff:
    """Delays between reconnect attempts: ``base``, ``base*factor``, ... capped at ``cap``.

    Each delay is spread by ``±jitter`` (a fraction) so that many clients dropped at once
    do not all come back in the same second. ``reset()`` starts again from ``base``; the
    stream calls it when a connection stayed up for its ``healthy_s``.

    Parameters
    ----------
    base_s, cap_s : float
        First delay and the longest one, in seconds (``0 < base_s <= cap_s``).
    factor : float
        Growth per failed attempt (``>= 1``).
    jitter : float
        Relative spread of each delay, ``0 <= jitter < 1``.
    rng : random.Random, optional
        Source of the jitter (tests pass a seeded one or use ``jitter=0``).
    """

    def __init__(self, base_s: float = 1.0, cap_s: float = 60.0, factor: float = 2.0,
                 jitter: float = 0.2, rng: random.Random | None = None) -> None:
        if not 0 < base_s <= cap_s:
            raise ATCInputError(f"base_s must be > 0 and <= cap_s ({cap_s}), got {base_s}",
                                field="base_s")
        if factor < 1:
            raise ATCInputError(f"factor must be >= 1, got {factor}", field="factor")
        if not 0 <= jitter < 1:
            raise ATCInputError(f"jitter must be within 0 … 1 (exclusive), got {jitter}",
                                field="jitter")
        self.base_s, self.cap_s, self.factor, self.jitter = base_s, cap_s, factor, jitter
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        nominal = min(self.base_s * self.factor ** min(self._attempt, 64), self.cap_s)
        self._attempt += 1
        if self.jitter:
            nominal *= 1 + self._rng.uniform(-self.jitter, self.jitter)
        return nominal

    def reset(self) -> None:
        """Back to ``base_s`` (the connection was healthy)."""
        self._attempt = 0
