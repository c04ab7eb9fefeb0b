"""The provider contract shared by Yahoo, CSV folders, the bundled data and the synthetic
universe, and the small helpers they have in common."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol, Sequence, overload, runtime_checkable

from core.data.actions import CorporateAction
from core.data.bars import Bars
from core.data.cleaning import CleaningReport
from core.data.symbols import normalise_symbol, symbol_syntax_error
from core.errors import DataError

# The symbol helpers live in core.data.symbols; providers import them from here too.
__all__ = ["FetchResult", "ListsSymbols", "NoBarsYet", "Provider", "check_interval",
           "normalise_symbol", "start_ns", "symbol_syntax_error", "to_utc"]


class NoBarsYet(str):
    """A failure reason that is no error: the source knows the symbol but has no bars for
    it yet (a listing after the bundled replay's day). Reported like any reason; the app
    shows it as a plain note instead of an error."""


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
    actions : dict[str, list[CorporateAction]]
        Splits and dividends the source reported within the fetched range, oldest first,
        per symbol in ``bars`` (absent: none reported, or the source does not say).
    """

    bars: dict[str, Bars] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cleaning: dict[str, CleaningReport] = field(default_factory=dict)
    actions: dict[str, list[CorporateAction]] = field(default_factory=dict)

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
        self.actions.pop(symbol, None)


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


@runtime_checkable
class ListsSymbols(Protocol):
    """A provider that knows every symbol it serves (CSV folders, the bundled data, the
    synthetic universe); Yahoo does not, so its symbols must always be named."""

    def symbols(self) -> list[str]:
        """Every symbol the source can fetch."""
        ...


def check_interval(provider_name: str, interval: str, supported: tuple[str, ...]) -> None:
    """Raise ``DataError`` when ``interval`` is not one the provider serves."""
    if interval not in supported:
        raise DataError(
            f"the {provider_name} source has no {interval!r} bars; use one of {', '.join(supported)}"
        )


@overload
def to_utc(start: dt.datetime) -> dt.datetime: ...


@overload
def to_utc(start: None) -> None: ...


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
