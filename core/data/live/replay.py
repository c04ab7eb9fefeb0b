"""Offline forming bars: the bundled replay's next bar played as a walk of quotes.

Without a network the bundled replay reveals one closed bar per refresh. Between two
refreshes the bar about to be revealed is walked tick by tick — open, then the nearer of
high and low, then the other, then close, with straight steps in between — so the
forming-bar path (quotes → ``FormingBars`` → the forming bar's ATC) runs as with a live
feed. The quotes fall inside the bar's trading day (09:30–16:00 exchange time for daily
bars), so ``FormingBars`` puts them into that bar; the refresh that reveals the bar then
closes it from the history, exactly as a live history poll does.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.data.live.quotes import Quote

#: Seconds after the bar's start (local midnight of its day) of the first and last quote.
SESSION_OPEN_S = 9.5 * 3600
SESSION_CLOSE_S = 16.0 * 3600


def walk_prices(o: float, h: float, lo: float, c: float, steps: int) -> npt.NDArray[np.float64]:
    """About ``steps`` prices from open to close through both extremes."""
    first, second = (lo, h) if abs(o - lo) <= abs(h - o) else (h, lo)
    corners = np.array([o, first, second, c], dtype=np.float64)
    legs = max(steps - 1, 3)
    # Split the steps over the three legs in proportion to their lengths (≥ 1 each).
    length = np.abs(np.diff(corners)) + 1e-12
    per_leg = np.maximum(1, np.round(legs * length / length.sum()).astype(int))
    path = [corners[:1]]
    for k in range(3):
        path.append(np.linspace(corners[k], corners[k + 1], per_leg[k] + 1)[1:])
    prices = np.concatenate(path)
    return np.clip(prices, lo, h)


def bar_quotes(symbol: str, bar: tuple[int, float, float, float, float, float],
               steps: int) -> list[Quote]:
    """The walk of one bar (``(timestamp ns, open, high, low, close, volume)``) as quotes
    spread over its session; the last carries the bar's close and full volume."""
    ts, o, h, lo, c, volume = bar
    prices = walk_prices(o, h, lo, c, steps)
    n = prices.shape[0]
    start_s = ts / 1e9
    times = start_s + SESSION_OPEN_S + (SESSION_CLOSE_S - SESSION_OPEN_S) * np.arange(n) / max(n - 1, 1)
    return [Quote(symbol, float(p), float(t), float(volume) * (k + 1) / n)
            for k, (p, t) in enumerate(zip(prices, times))]
