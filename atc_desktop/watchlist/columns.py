"""The watchlist's columns, declared once: title, text, sort key, tone and tooltip, and
whether a too narrow column may elide its text (names) or must widen (numbers, times)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

from atc_desktop.watchlist.row import RowState
from core.data.bars import format_timestamp

SortKey = float | str
#: Sort key of a missing number; a real number keeps Qt's ordering strict (NaN would not).
MISSING = float("-inf")


def _num(v: float) -> SortKey:
    return MISSING if math.isnan(v) else v


def _fmt(v: float, spec: str) -> str:
    return "" if math.isnan(v) else format(v, spec)


def format_time(ns: int | None, interval: str = "", tz: str = "UTC") -> str:
    """A bar's time in its exchange timezone: the date for daily and longer bars."""
    if ns is None:
        return ""
    daily = interval.endswith(("d", "wk", "mo")) or interval == ""
    return format_timestamp(ns, tz, date_only=daily)


def _trend_tip(r: RowState) -> str:
    if not r.has_values:
        return ""
    return (f"{r.family} family Layer-1 state: {r.trend} ({r.family}_Signal {r.signal:+.4f}); "
            "bull > 0, bear < 0, neutral = 0")


def _direction(r: RowState) -> str:
    if math.isnan(r.direction):
        return ""
    return "long" if r.direction > 0 else "short"


def _event(r: RowState) -> str:
    return {1: "long", -1: "short"}.get(r.last_event, "—" if r.has_values else "")


def _tone_of(v: float) -> str | None:
    if math.isnan(v):
        return None
    return "bull" if v > 0 else "bear" if v < 0 else "neutral"


def _source(r: RowState) -> str:
    return r.source + (" (synthetic)" if r.synthetic and "synthetic" not in r.source else "")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    text: Callable[[RowState], str]
    sort: Callable[[RowState], SortKey]
    tone: Callable[[RowState], str | None] = lambda r: None
    tip: Callable[[RowState], str] = lambda r: ""
    align: str = "left"
    header_tip: str = ""
    #: Numbers and times are never cut: the column widens to its widest cell.
    whole: bool = False

    # The declared texts name EMA, the default screening family; these name the one chosen.
    def title_for(self, family: str) -> str:
        return self.title.replace("EMA", family)

    def header_tip_for(self, family: str) -> str:
        return self.header_tip.replace("EMA", family)


#: The list-order column: its value is the row's position, which the model fills in.
ORDER_KEY = "order"

COLUMNS: tuple[Column, ...] = (
    Column(ORDER_KEY, "#", lambda r: "", lambda r: 0.0, align="right", whole=True,
           header_tip="position in the watchlist (sort by it to see and edit the list order)"),
    Column("symbol", "Symbol", lambda r: r.symbol, lambda r: r.symbol,
           tip=lambda r: r.symbol_tip),
    Column("error", "⚠", lambda r: "⚠" if r.error else "", lambda r: r.error,
           tone=lambda r: "error" if r.error else None, tip=lambda r: r.error, align="center",
           header_tip="the last refresh of this symbol failed (hover for what failed)"),
    Column("stale", "Stale", lambda r: "stale" if r.stale else "", lambda r: float(r.stale),
           tone=lambda r: "warn" if r.stale else None, tip=lambda r: r.stale_reason, align="center",
           header_tip="the numbers are not from a fresh fetch (hover for why)"),
    Column("last", "Last", lambda r: _fmt(r.last, ",.2f"), lambda r: _num(r.last), align="right", whole=True,
           header_tip="last close"),
    Column("change", "Chg %", lambda r: _fmt(r.change_pct, "+.2f"), lambda r: _num(r.change_pct),
           tone=lambda r: _tone_of(r.change_pct), align="right", whole=True,
           header_tip="change of the last close against the previous bar's close"),
    Column("signal", "EMA_Signal", lambda r: _fmt(r.signal, "+.3f"), lambda r: _num(r.signal),
           tone=lambda r: _tone_of(r.signal), tip=_trend_tip, align="right", whole=True,
           header_tip="EMA-only screening signal (Layer 1 of the EMA family), last bar"),
    Column("trend", "Trend", lambda r: r.trend, lambda r: _num(r.signal),
           tone=lambda r: _tone_of(r.signal), tip=_trend_tip, align="center",
           header_tip="Layer-1 trend state: sign of EMA_Signal"),
    Column("direction", "Direction", _direction, lambda r: _num(r.direction),
           tone=lambda r: _tone_of(r.direction), align="center",
           header_tip="direction (spec §9) with EMA_Signal as base"),
    Column("event", "Last event", _event, lambda r: float(r.last_event),
           tone=lambda r: {1: "bull", -1: "bear"}.get(r.last_event), align="center",
           header_tip="last long/short event of the EMA-only screening (spec §9.3)"),
    Column("bars_ago", "Bars ago", lambda r: str(r.bars_since) if r.bars_since >= 0 else "",
           lambda r: float(r.bars_since) if r.bars_since >= 0 else float("inf"), align="right", whole=True,
           header_tip="bars since the last event"),
    Column("time", "Data time", lambda r: format_time(r.data_time, r.interval, r.tz),
           lambda r: float(r.data_time) if r.data_time is not None else MISSING,
           tone=lambda r: "warn" if r.stale else None, whole=True,
           tip=lambda r: f"last closed bar ({r.tz} time)" if r.data_time else "",
           header_tip="time of the last bar, exchange time"),
    Column("source", "Source", _source, _source,
           tone=lambda r: "muted", tip=lambda r: "synthetic data: not a real market" if r.synthetic
           else f"data source: {r.source}", header_tip="where the bars came from"),
)
COLUMN_INDEX: dict[str, int] = {c.key: i for i, c in enumerate(COLUMNS)}


class Cell(NamedTuple):
    """One formatted cell: what the model hands to the views."""

    text: str
    sort: SortKey
    tone: str | None
    tip: str


def cells_of(state: RowState) -> tuple[Cell, ...]:
    """Every cell of a row (pure Python: the refresh job formats rows off the GUI thread)."""
    return tuple(Cell(c.text(state), c.sort(state), c.tone(state), c.tip(state)) for c in COLUMNS)
