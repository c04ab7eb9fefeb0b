"""One watchlist row's values, as a refresh job produces them (plain data, no Qt)."""
from __future__ import annotations

import math
from dataclasses import dataclass

NAN = float("nan")


@dataclass(frozen=True)
class RowState:
    """What the watchlist shows for one symbol.

    ``signal`` is the last bar's Layer-1 signal of the screened ``family`` (EMA_Signal by
    default: the one-family screening output), ``direction`` the spec §9 direction with
    that signal as base, ``last_event`` +1 long / −1 short / 0
    none over the whole loaded history and ``bars_since`` how many bars ago (−1 none).
    ``data_time`` is the last bar's time (ns, UTC). ``error`` is empty when the last refresh
    of this symbol worked; ``stale`` says the numbers are not from a fresh fetch. ``source``
    names where the shown bars came from (which may not be the source now chosen: the row
    is stale then). ``note`` says what else is known about the data, one line each: what
    the cleaner did to it, or that the source has no bars for the symbol yet (no error).
    """

    symbol: str
    last: float = NAN
    change_pct: float = NAN
    signal: float = NAN
    direction: float = NAN
    last_event: int = 0
    bars_since: int = -1
    data_time: int | None = None
    bars: int = 0
    interval: str = ""
    tz: str = "UTC"
    stale: bool = False
    stale_reason: str = ""
    error: str = ""
    source: str = ""
    synthetic: bool = False
    note: str = ""
    family: str = "EMA"

    @property
    def trend(self) -> str:
        """Layer-1 state of the screened family: the sign of its signal."""
        if math.isnan(self.signal):
            return ""
        return "bull" if self.signal > 0 else "bear" if self.signal < 0 else "neutral"

    @property
    def has_values(self) -> bool:
        return not math.isnan(self.signal)

    @property
    def symbol_tip(self) -> str:
        """The symbol cell's tooltip: bars loaded, then the notes."""
        head = f"{self.symbol}: {self.bars} bars loaded ({self.interval})" if self.bars else self.symbol
        return f"{head}\n{self.note}" if self.note else head
