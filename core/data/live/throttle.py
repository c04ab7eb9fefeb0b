"""``Throttle``: coalesce a burst of updates so that a consumer repaints at most N times
per second. Pure logic with an injectable clock; the GUI schedules its own timer.

Use::

    throttle.push(symbol, bar)          # every update; keeps only the latest per key
    wait = throttle.due_in()            # None: nothing pending; 0: repaint now
    if wait == 0:
        repaint(throttle.take())        # {key: latest value} since the last take
    elif wait is not None:
        start_single_shot_timer(wait)   # the timer calls take() and repaints
"""
from __future__ import annotations

import math
import time
from typing import Callable, Generic, Hashable, TypeVar

from core.errors import ATCInputError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Throttle(Generic[K, V]):
    """Latest value per key, released at most ``max_per_second`` times per second.

    Not thread-safe: it belongs to the consumer's thread (the GUI thread).
    """

    def __init__(self, max_per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (isinstance(max_per_second, (int, float)) and math.isfinite(max_per_second)
                and max_per_second > 0):
            raise ATCInputError(f"max_per_second must be a finite number > 0, got "
                                f"{max_per_second!r}", field="max_per_second")
        self.period_s = 1.0 / max_per_second
        self._clock = clock
        self._pending: dict[K, V] = {}
        self._last: float | None = None

    def push(self, key: K, value: V) -> None:
        """Record an update; an earlier pending value for ``key`` is replaced."""
        self._pending[key] = value

    def due_in(self) -> float | None:
        """Seconds until ``take()`` releases the pending updates; None when there are none."""
        if not self._pending:
            return None
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.period_s - self._clock())

    def take(self) -> dict[K, V]:
        """The pending updates if one period has passed since the last release, else {}."""
        if self.due_in() != 0.0:
            return {}
        out, self._pending = self._pending, {}
        self._last = self._clock()
        return out
