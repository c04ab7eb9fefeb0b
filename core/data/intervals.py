"""Bar intervals: their names, nominal lengths and the thresholds derived from them.

One table serves the cleaner (what counts as a gap), the store (how many bars share a
chunk) and the staleness policy, so that they cannot disagree about what ``"1h"`` means.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from core.errors import DataError

_MINUTE = 60
_HOUR = 3600
_DAY = 86_400

#: Nominal length in seconds of every interval the data layer knows (the fetched ones and
#: the resampled ones). Months are taken as 30 days: the value only sizes thresholds,
#: never computes dates.
INTERVAL_SECONDS: dict[str, int] = {
    "1m": _MINUTE,
    "2m": 2 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "60m": _HOUR,
    "90m": 90 * _MINUTE,
    "1h": _HOUR,
    "2h": 2 * _HOUR,
    "4h": 4 * _HOUR,
    "1d": _DAY,
    "5d": 5 * _DAY,
    "1wk": 7 * _DAY,
    "1mo": 30 * _DAY,
}

#: Intervals that exist only as resamples: no provider is asked for them.
RESAMPLED_ONLY: tuple[str, ...] = ("2h", "4h")

#: The intervals a provider may be asked for.
INTERVALS: tuple[str, ...] = tuple(i for i in INTERVAL_SECONDS if i not in RESAMPLED_ONLY)

#: The timeframes traders use that ``core.data.resample`` builds from a finer interval
#: when a provider does not offer them, with the bases to build each from, preferred first
#: (the coarsest, so the fewest bars are read). Weeks and months come from days only: a
#: week straddles month ends, so months cannot be built from weeks.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "15m": ("5m", "1m"),
    "30m": ("15m", "5m", "1m"),
    "1h": ("30m", "15m", "5m", "1m"),
    "2h": ("1h", "60m", "30m", "15m", "5m"),
    "4h": ("1h", "60m", "30m", "15m"),
    "1wk": ("1d",),
    "1mo": ("1d",),
}


class Timeframe(NamedTuple):
    """An interval the app can show: ``base`` is the provider's interval it is resampled
    from, or None when the provider delivers it as such."""

    interval: str
    base: str | None = None

    @property
    def resampled(self) -> bool:
        return self.base is not None


def interval_seconds(interval: str) -> int:
    """Nominal length of one bar.

    Parameters
    ----------
    interval : str
        An interval name such as ``"1m"``, ``"1h"`` or ``"1d"``.

    Returns
    -------
    int
        Seconds per bar.

    Raises
    ------
    DataError
        If the interval is unknown; the message lists the known ones.
    """
    try:
        return INTERVAL_SECONDS[interval]
    except KeyError:
        raise DataError(
            f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_SECONDS)}"
        ) from None


def is_intraday(interval: str) -> bool:
    """True for intervals shorter than one day."""
    return interval_seconds(interval) < _DAY


def gap_threshold_seconds(interval: str) -> int:
    """The spacing between two bars above which the cleaner reports a gap.

    Markets close at night, at weekends and on holidays, so a gap is measured against the
    longest normal closure for the bar size rather than against the bar length itself:
    intraday bars may pause over a long weekend (4 days); daily bars over a week (the
    longest market closures in the bundled data, e.g. September 2001, span 7 days);
    weekly and monthly bars tolerate one missing bar.
    """
    seconds = interval_seconds(interval)
    if seconds < _DAY:
        return 4 * _DAY
    if seconds < 7 * _DAY:
        return 7 * _DAY
    return 2 * seconds + 2 * _DAY


def resample_base(interval: str, provider_intervals: Iterable[str]) -> str | None:
    """The interval to resample ``interval`` from, or None when the provider offers
    ``interval`` itself or no base of it."""
    offered = set(provider_intervals)
    if interval in offered:
        return None
    return next((b for b in DERIVED_FROM.get(interval, ()) if b in offered), None)


def available_intervals(provider_intervals: Iterable[str]) -> list[Timeframe]:
    """Every interval the app can show for a provider, shortest first: the provider's own
    (``base`` None) plus each of :data:`DERIVED_FROM` it offers a base of."""
    offered = list(dict.fromkeys(provider_intervals))
    out = [Timeframe(i) for i in offered]
    out += [Timeframe(i, base) for i in DERIVED_FROM
            if (base := resample_base(i, offered)) is not None]
    # Unknown names (a provider's own) go last; ties (60m, 1h) keep the provider's order.
    return sorted(out, key=lambda t: INTERVAL_SECONDS.get(t.interval, 1 << 62))
