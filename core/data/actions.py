"""Corporate actions a provider reports with its bars (splits and dividends).

Adjusted prices (Yahoo's ``auto_adjust=True``, a CSV's ``Adj Close``) rescale every bar
*before* an action's ex-date, so an action means stored history may no longer match the
provider's; :mod:`core.data.rewrites` decides when the stored history must be replaced.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from core.data.bars import format_timestamp

SPLIT = "split"
DIVIDEND = "dividend"


@dataclass(frozen=True)
class CorporateAction:
    """One split or dividend.

    Attributes
    ----------
    timestamp : int
        The bar it takes effect on (the ex-date), int64 ns since the epoch, UTC.
    kind : str
        ``"split"`` or ``"dividend"``.
    value : float
        Split: new shares per old share (4.0 is a 4:1 split, 0.1 a 1:10 reverse split).
        Dividend: cash per share, in the price's currency.
    """

    timestamp: int
    kind: str
    value: float

    def describe(self, tz: str = "UTC", *, date_only: bool = True) -> str:
        """``"4:1 split on 2024-06-10"``, ``"dividend 0.24 on 2024-08-09"``."""
        when = format_timestamp(self.timestamp, tz, date_only=date_only)
        if self.kind == SPLIT:
            ratio = Fraction(self.value).limit_denominator(1000)
            reverse = " reverse" if ratio < 1 else ""
            return f"{ratio.numerator}:{ratio.denominator}{reverse} split on {when}"
        return f"{self.kind} {self.value:g} on {when}"
