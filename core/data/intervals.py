"""Bar intervals: their names, nominal lengths and the thresholds derived from them.

One table serves the cleaner (what counts as a gap), the store (how many bars share a
chunk) and the staleness policy, so that they cannot disagree about what ``"1h"`` means.
"""
from __future__ import annotations

from core.errors import DataError

_MINUTE = 60
_HOUR = 3600
_DAY = 86_400

#: Nominal length in seconds of every interval the data layer knows, shortest first.
#: Months are taken as 30 days: the value only sizes thresholds, never computes dates.
INTERVAL_SECONDS: dict[str, int] = {
    "1m": _MINUTE,
    "2m": 2 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "60m": _HOUR,
    "90m": 90 * _MINUTE,
    "1h": _HOUR,
    "1d": _DAY,
    "5d": 5 * _DAY,
    "1wk": 7 * _DAY,
    "1mo": 30 * _DAY,
}

INTERVALS: tuple[str, ...] = tuple(INTERVAL_SECONDS)


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
            f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}"
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
