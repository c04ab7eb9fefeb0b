"""A backtest of the ATC signal, defined in the spec's terms, and its numpy reference.

The rules (README "Scale out" and docs/scaling.md repeat them):

* **Position.** A long event (spec §9.3, alert *long*) sets the target position to +1, a
  short event to −1 (``long_only``: to 0); between events the target stays. Before the
  first event it is 0. An event on a series' last bar is ignored: no bar is left to hold it.
* **Entry.** ``entry="next_open"``: the position changes at the next bar's open, so bar u
  earns the old position from close[u−1] to open[u] and the new one from open[u] to
  close[u]. ``entry="close"``: it changes at the event bar's close, so bar u earns the new
  position over close[u−1] → close[u]. A position's return over a stretch is position ×
  price return, compounded bar by bar (a short rebalanced each bar, as vectorised
  backtests do).
* **Cost.** ``cost_bps`` per side: every unit of position change multiplies equity by
  (1 − cost_bps/10 000); a flip from +1 to −1 pays twice (exit and entry). The cost is booked
  in the first bar that holds the new position.
* **Metrics** over a symbol's bars from its first one (n bars, n − 1 bar returns R):
  total return = equity − 1; CAGR = equity^(periods_per_year / (n − 1)) − 1; max drawdown
  = the largest fall from a running peak of equity, as a fraction; Sharpe = mean(R) /
  std(R, ddof 1) × √periods_per_year (NaN when std is 0); trades = positions entered;
  hit rate = share of trades whose own growth (entry and exit costs included, the last
  one valued at the last close) is above 1 (NaN without trades); exposure = share of bars
  holding a position.

:func:`backtest_reference` is the readable numpy version that the fast path
(:mod:`core.jit.backtest`) is tested against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.intervals import INTERVAL_SECONDS
from core.errors import ATCInputError

ENTRIES: tuple[str, ...] = ("next_open", "close")
METRICS: tuple[str, ...] = ("total_return", "cagr", "max_drawdown", "sharpe", "trades",
                            "hit_rate", "exposure")
#: Trading periods in a year per interval: 252 sessions of 6.5 hours for intraday bars.
_SESSION_SECONDS = 6.5 * 3600


def periods_per_year(interval: str) -> float:
    """Bars in a year at ``interval`` (stock sessions: 252 days, 52 weeks, 12 months)."""
    if interval not in INTERVAL_SECONDS:
        raise ATCInputError(f"interval = {interval!r} is unknown: choose one of "
                            f"{', '.join(INTERVAL_SECONDS)}", field="interval")
    fixed = {"1d": 252.0, "5d": 252.0 / 5, "1wk": 52.0, "1mo": 12.0}
    if interval in fixed:
        return fixed[interval]
    return 252.0 * _SESSION_SECONDS / INTERVAL_SECONDS[interval]


@dataclass(frozen=True)
class BacktestOptions:
    """How events become positions and returns (see the module docstring)."""

    entry: str = "next_open"
    long_only: bool = False
    cost_bps: float = 0.0
    #: Bars per year for CAGR and Sharpe; None: from the interval (:func:`periods_per_year`).
    periods_per_year: float | None = None

    def __post_init__(self) -> None:
        if self.entry not in ENTRIES:
            raise ATCInputError(f"entry = {self.entry!r} is not allowed: choose one of "
                                f"{' | '.join(ENTRIES)}", field="entry")
        if not isinstance(self.long_only, bool):
            raise ATCInputError(f"long_only = {self.long_only!r} must be true or false",
                                field="long_only")
        cost = self.cost_bps
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 <= cost <= 1000:
            raise ATCInputError(f"cost_bps = {cost!r} is out of range: allowed 0 … 1000",
                                field="cost_bps")
        ppy = self.periods_per_year
        if ppy is not None and (isinstance(ppy, bool) or not isinstance(ppy, (int, float))
                                or not 1 <= ppy <= 1e7):
            raise ATCInputError(f"periods_per_year = {ppy!r} is out of range: allowed 1 … 1e7",
                                field="periods_per_year")

    def annualisation(self, interval: str) -> float:
        return float(self.periods_per_year) if self.periods_per_year else periods_per_year(interval)

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "long_only": self.long_only, "cost_bps": float(self.cost_bps),
                "periods_per_year": self.periods_per_year}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BacktestOptions:
        known = {"entry", "long_only", "cost_bps", "periods_per_year"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ATCInputError(f"unknown backtest option {unknown[0]!r}; known: "
                                f"{', '.join(sorted(known))}", field=unknown[0])
        return cls(**values)


def target_positions(long: np.ndarray, short: np.ndarray, long_only: bool) -> np.ndarray:
    """The target after each bar's close: the latest event's side, 0 before any (events on
    the last bar ignored)."""
    n = long.shape[0]
    event = np.where(long, 1.0, np.where(short, 0.0 if long_only else -1.0, np.nan))
    if n:
        event[n - 1] = np.nan
    idx = np.where(np.isnan(event), -1, np.arange(n))
    idx = np.maximum.accumulate(idx) if n else idx
    return np.where(idx >= 0, event[np.maximum(idx, 0)], 0.0)


def backtest_reference(open_: np.ndarray, close: np.ndarray, long: np.ndarray, short: np.ndarray,
                       options: BacktestOptions, ppy: float) -> dict[str, float]:
    """The metrics of one series (no padding) by the module's rules, in plain numpy."""
    n = close.shape[0]
    out = dict.fromkeys(METRICS, math.nan)
    out["trades"] = 0.0
    if n < 2:
        return out
    target = target_positions(np.asarray(long, bool), np.asarray(short, bool), options.long_only)
    held = target[:-1]                                  # T[u] = target[u−1], u = 1 … n−1
    before = np.concatenate(([0.0], target[:-2]))       # P[u] = target[u−2]
    keep = 1.0 - options.cost_bps / 10_000.0
    cost = keep ** np.abs(held - before)
    if options.entry == "close":
        gap = np.ones(n - 1)
        body = 1.0 + held * (close[1:] / close[:-1] - 1.0)
    else:
        gap = 1.0 + before * (open_[1:] / close[:-1] - 1.0)
        body = 1.0 + held * (close[1:] / open_[1:] - 1.0)
    growth = gap * cost * body
    equity = np.cumprod(growth)
    returns = growth - 1.0
    peak = np.maximum.accumulate(np.concatenate(([1.0], equity)))[1:]
    out["total_return"] = equity[-1] - 1.0
    out["cagr"] = equity[-1] ** (ppy / (n - 1)) - 1.0 if equity[-1] > 0 else -1.0
    out["max_drawdown"] = float(np.max(1.0 - equity / peak))
    if n - 1 >= 2:
        sd = float(np.std(returns, ddof=1))
        out["sharpe"] = float(np.mean(returns)) / sd * math.sqrt(ppy) if sd > 0 else math.nan
    out["exposure"] = float(np.mean(held != 0.0))
    # Trades: a run of bars holding one nonzero position, from its entry bar to the bar
    # before the next change, plus that bar's gap and exit cost when it was closed.
    entries = np.flatnonzero((held != 0.0) & (held != before))
    wins = 0
    for u0 in entries.tolist():
        changes = np.flatnonzero(held[u0 + 1:] != held[u0])
        u1 = u0 + 1 + int(changes[0]) if changes.size else n - 1
        g = keep * float(np.prod(_trade_factors(body, gap, u0, u1)))
        if u1 < n - 1:                                   # closed: its exit bar's gap and cost
            g *= gap[u1] * keep
        wins += g > 1.0
    out["trades"] = float(entries.size)
    out["hit_rate"] = wins / entries.size if entries.size else math.nan
    return out


def _trade_factors(body: np.ndarray, gap: np.ndarray, u0: int, u1: int) -> np.ndarray:
    """Growth factors of the bars a trade holds from its entry bar u0 up to (not including)
    the next change u1: the body of each, and the gap of each after the first."""
    return np.concatenate((body[u0:u1], gap[u0 + 1:u1]))


def backtest_many_reference(opens: np.ndarray, closes: np.ndarray, long: np.ndarray,
                            short: np.ndarray, options: BacktestOptions, ppy: float) -> np.ndarray:
    """(symbols, len(METRICS)) metrics of a right-aligned, NaN-left-padded batch."""
    out = np.empty((closes.shape[0], len(METRICS)))
    for i in range(closes.shape[0]):
        finite = np.flatnonzero(np.isfinite(closes[i]))
        s = int(finite[0]) if finite.size else closes.shape[1]
        m = backtest_reference(opens[i, s:], closes[i, s:], long[i, s:], short[i, s:], options, ppy)
        out[i] = [m[k] for k in METRICS]
    return out
