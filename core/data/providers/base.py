"""The provider contract shared by Yahoo, CSV folders, the bundled data and the synthetic
universe, and the small helpers they have in common."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from core.data.bars import Bars
from core.data.cleaning import CleaningReport
from core.errors import DataError

# Letters, digits and the punctuation real tickers use: BRK-B, BRK.B, ^GSPC, EURUSD=X.
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=&_]{0,31}$|^\^[A-Z0-9.\-=]{1,31}$")


@dataclass
class FetchResult:
    """What one ``Provider.fetch`` call produced.

    Attributes
    ----------
    bars : dict[str, Bars]
        Clean bars per symbol that succeeded (possibly empty for an incremental fetch
        that found nothing new).
    failures : dict[str, str]
        Reason per symbol that failed; the other symbols are unaffected.
    cleaning : dict[str, CleaningReport]
        The cleaner's report per symbol in ``bars``.
    """

    bars: dict[str, Bars] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cleaning: dict[str, CleaningReport] = field(default_factory=dict)

    def add(self, bars: Bars, report: CleaningReport) -> None:
        """Record one symbol's clean bars with their report."""
        self.bars[bars.symbol] = bars
        self.cleaning[bars.symbol] = report
        self.failures.pop(bars.symbol, None)

    def fail(self, symbol: str, reason: str) -> None:
        """Record one symbol's failure (replacing any bars it had)."""
        self.failures[symbol] = reason
        self.bars.pop(symbol, None)
        self.cleaning.pop(symbol, None)


@runtime_checkable
class Provider(Protocol):
    """A source of bars.

    ``fetch`` returns a ``FetchResult``: one symbol failing never fails the others; an
    exception (``DataError``) means the request as a whole was impossible (an unsupported
    interval, a history limit exceeded).
    """

    name: str
    intervals: tuple[str, ...]

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None) -> FetchResult:
        """Bars of ``symbols`` at ``interval`` from ``start`` (inclusive; None = all)."""
        ...

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        """Reason per symbol the provider cannot serve (empty dict when all look fine)."""
        ...


def normalise_symbol(symbol: str) -> str:
    """Upper-cased, stripped ticker."""
    return str(symbol).strip().upper()


def symbol_syntax_error(symbol: str) -> str | None:
    """Why ``symbol`` cannot be a ticker, or None when it looks like one."""
    if not symbol:
        return "empty symbol"
    if not _SYMBOL_RE.match(symbol):
        return (f"{symbol!r} is not a valid ticker (letters, digits and . - ^ = & _ only, "
                "at most 32 characters)")
    return None


def check_interval(provider_name: str, interval: str, supported: tuple[str, ...]) -> None:
    """Raise ``DataError`` when ``interval`` is not one the provider serves."""
    if interval not in supported:
        raise DataError(
            f"the {provider_name} source has no {interval!r} bars; use one of {', '.join(supported)}"
        )


def to_utc(start: dt.datetime | None) -> dt.datetime | None:
    """A timezone-aware UTC datetime; naive datetimes are taken to be UTC already."""
    if start is None:
        return None
    if start.tzinfo is None:
        return start.replace(tzinfo=dt.timezone.utc)
    return start.astimezone(dt.timezone.utc)


def start_ns(start: dt.datetime | None) -> int | None:
    """``start`` as int64 nanoseconds since the epoch (UTC), or None."""
    aware = to_utc(start)
    if aware is None:
        return None
    delta = aware - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
