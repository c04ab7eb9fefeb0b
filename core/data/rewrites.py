"""Whether a provider has rewritten the history already stored, and why.

Adjusted prices (Yahoo's ``auto_adjust=True``, a CSV's ``Adj Close``) rescale every bar
before a split or dividend. A refresh that only appended new bars would then store a fake
crash: ``[100 x 9]`` stored, ``[25, 25, 25]`` appended after a 4:1 split. So each
incremental fetch asks again for the newest :data:`OVERLAP_BARS` + 1 stored bars and
:func:`rewrite_cause` compares them with what comes back. The newest stored bar is refetched
but not compared: it may have been stored while still forming, and its change is an update,
not a rewrite. The others are closed bars, which only change when the source rewrote its
history; then the whole history is fetched again and replaces the stored one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from core.data.actions import CorporateAction
from core.data.bars import Bars, format_timestamp
from core.data.intervals import is_intraday

#: Closed stored bars an incremental fetch asks for again and compares (at least 1).
OVERLAP_BARS = 5
#: Relative difference of an open/high/low/close beyond which a stored bar has changed.
#: Re-downloading the same adjusted prices differs by float rounding (~1e-12) at most, while
#: the smallest real adjustment, a dividend, moves prices by ~1e-4 or more.
RTOL = 1e-9
#: Stored bars a refresh reads and asks for again: the compared ones and the newest.
TAIL_BARS = max(1, OVERLAP_BARS) + 1
_FIELDS = ("close", "open", "high", "low")


def rewrite_cause(stored_tail: Bars, fetched: Bars, actions: Sequence[CorporateAction],
                  *, since: int) -> str | None:
    """Why the provider's history no longer matches the stored one, or None if it does.

    Parameters
    ----------
    stored_tail : Bars
        The newest :data:`TAIL_BARS` stored bars.
    fetched : Bars
        What the incremental fetch returned, from ``since`` on.
    actions : sequence of CorporateAction
        Splits and dividends the provider reported in the fetched range.
    since : int
        The start the fetch asked for (ns, UTC); stored bars before it were not refetched.

    Returns
    -------
    str or None
        ``"4:1 split on 2024-06-10"``, ``"dividend 0.24 on 2024-08-09"`` (an action reported
        alongside a change names the change's cause), ``"stored bar 2024-06-07 changed
        (close 100 → 25)"``, ``"stored bar 2024-06-07 is missing from the refetched bars"``.
        Also a cause: an action reported when no closed stored bar was refetched to show
        whether it is already applied. An action whose compared bars are unchanged is
        already in the stored history, so it is not a cause.
    """
    tz, daily = stored_tail.tz, not is_intraday(stored_tail.interval)
    in_range = [a for a in actions if a.timestamp >= since]
    named = "; ".join(a.describe(tz, date_only=daily) for a in in_range)
    compared = stored_tail.slice(0, max(len(stored_tail) - 1, 0)).since(since)
    if len(compared) == 0:
        return named or None
    change = _first_change(compared, fetched, tz, daily)
    if change is None:
        return None
    return named or change


def _first_change(compared: Bars, fetched: Bars, tz: str, daily: bool) -> str | None:
    """The oldest compared bar that is missing from ``fetched`` or differs, described."""
    ts = compared.timestamps
    pos = np.minimum(np.searchsorted(fetched.timestamps, ts), max(len(fetched) - 1, 0))
    found = (fetched.timestamps[pos] == ts) if len(fetched) else np.zeros(ts.size, dtype=bool)
    old = np.vstack([getattr(compared, f) for f in _FIELDS])
    new = np.vstack([getattr(fetched, f)[pos] for f in _FIELDS]) if len(fetched) else old
    differs = ~np.isclose(new, old, rtol=RTOL, atol=0.0)
    bad = ~found | differs.any(axis=0)
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    when = format_timestamp(int(ts[i]), tz, date_only=daily)
    if not found[i]:
        return f"stored bar {when} is missing from the refetched bars"
    k = int(np.argmax(differs[:, i]))
    return f"stored bar {when} changed ({_FIELDS[k]} {old[k, i]:.6g} → {new[k, i]:.6g})"
