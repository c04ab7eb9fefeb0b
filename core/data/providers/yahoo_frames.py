"""Reading what ``yfinance.download`` returns: history limits, frames and error reports.

Kept apart from the provider so that the shape knowledge is in one place and testable
without any network.

Shape of ``yf.download(tickers, group_by=..., auto_adjust=True, ignore_tz=False)``
(yfinance 1.x): a DataFrame with a DatetimeIndex in the most common exchange timezone of
the batch (tz-aware), MultiIndex columns ``(Price, Ticker)`` for ``group_by="column"`` or
``(Ticker, Price)`` for ``group_by="ticker"``; every ticker is reindexed onto the union of
all tickers' timestamps, so rows where a ticker has no bar are all-NaN for it. A ticker
that failed has all-NaN columns (including an ``Adj Close`` column that successful tickers
lack when ``auto_adjust=True``); its reason is only logged by the ``yfinance`` logger as
``"['SYM', ...]: ExceptionName('reason')"`` (0.2.x also kept it in
``yfinance.shared._ERRORS``). ``multi_level_index=False`` with one ticker gives flat
columns.

With ``actions=True`` each ticker also has ``Dividends`` and ``Stock Splits`` columns (funds
add ``Capital Gains``): 0.0 on ordinary rows, the cash dividend per share or the split ratio
(new shares per old, ``4.0`` for 4:1) on the ex-date's row, NaN on the batch's padding
rows. An event on a day without prices can arrive on a row whose prices are all NaN.
"""
from __future__ import annotations

import ast
import datetime as dt
import logging
import re
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import numpy.typing as npt

from core.data.actions import DIVIDEND, SPLIT, CorporateAction
from core.errors import DataError

_DAY = dt.timedelta(days=1)
#: How far back Yahoo serves intraday bars, and how much one request may span.
LOOKBACK: dict[str, dt.timedelta] = {
    "1m": 30 * _DAY, "2m": 60 * _DAY, "5m": 60 * _DAY, "15m": 60 * _DAY, "30m": 60 * _DAY,
    "90m": 60 * _DAY, "60m": 730 * _DAY, "1h": 730 * _DAY,
}
PER_REQUEST: dict[str, dt.timedelta] = {"1m": 7 * _DAY}
#: Requests start this much inside the limit so that they are still valid when Yahoo
#: receives them.
_MARGIN = dt.timedelta(hours=1)
PRICE_LEVEL = {"Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends",
               "Stock Splits", "Capital Gains", "Repaired?"}
_LOG_LINE = re.compile(r"^\s*(\[.*?\]):\s*(.*)$", re.S)
_WRAPPED = re.compile(r"^(\w+)\((['\"])(.*)\2\)$", re.S)


def earliest_start(interval: str, now: dt.datetime) -> dt.datetime | None:
    """The earliest start Yahoo accepts for ``interval`` (None: no limit)."""
    limit = LOOKBACK.get(interval)
    return None if limit is None else now - limit + _MARGIN


def request_windows(interval: str, start: dt.datetime | None,
                    now: dt.datetime) -> list[tuple[dt.datetime | None, dt.datetime | None]]:
    """Split a request into ``(start, end)`` windows Yahoo will serve, or raise.

    ``start=None`` asks for everything: the whole history for daily and longer bars
    (``(None, None)``, i.e. ``period="max"``), the longest allowed span for intraday bars.
    A window with ``end=None`` runs up to now.

    Raises
    ------
    DataError
        If ``start`` is further back than Yahoo keeps bars of this interval.
    """
    limit = LOOKBACK.get(interval)
    if limit is None:
        return [(start, None)]
    span = PER_REQUEST.get(interval, limit)
    earliest = now - limit + _MARGIN
    if start is None:
        start = now - span + _MARGIN
    elif start < earliest:
        days_back = (now - start).total_seconds() / 86_400
        coarser = {"1m": "5m (60 days) or 1h (730 days)", "60m": "1d", "1h": "1d"}.get(
            interval, "1h (730 days) or 1d")
        raise DataError(
            f"Yahoo keeps {interval} bars for about {limit.days} days, but bars from "
            f"{start:%Y-%m-%d %H:%M} UTC ({days_back:.0f} days back) were asked for; "
            f"use a start after {earliest:%Y-%m-%d %H:%M} UTC or a coarser interval such as "
            f"{coarser}"
        )
    windows: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    lo = start
    while lo + span < now:
        windows.append((lo, lo + span))
        lo = lo + span
    windows.append((lo, None))
    return windows


def split_frame(frame: Any, requested: list[str]) -> dict[str, Any]:
    """Cut a ``yf.download`` frame into one frame per ticker (flat price columns).

    Tickers absent from the frame are absent from the result.
    """
    if frame is None or getattr(frame, "shape", (0, 0))[1] == 0:
        return {}
    import pandas as pd

    cols = frame.columns
    if isinstance(cols, pd.MultiIndex) and cols.nlevels == 2:
        level0 = {str(v) for v in cols.get_level_values(0)}
        ticker_level = 1 if level0 <= PRICE_LEVEL else 0
        out = {}
        for ticker in dict.fromkeys(cols.get_level_values(ticker_level)):
            out[str(ticker).upper()] = frame.xs(ticker, axis=1, level=ticker_level)
        return out
    if len(requested) == 1:
        return {requested[0]: frame}
    raise DataError(f"unexpected yfinance frame: flat columns {list(cols)} for "
                    f"{len(requested)} tickers")


def frame_arrays(sub: Any) -> tuple[dict[str, np.ndarray], str] | None:
    """``(columns, tz)`` of one ticker's frame, dropping the batch's all-NaN padding rows.

    Returns None when the ticker has no rows at all. Timestamps are int64 ns UTC; a
    tz-naive index is taken to be UTC.
    """
    import pandas as pd

    lower = {str(c).strip().lower(): c for c in sub.columns}
    if "close" not in lower:
        raise DataError(f"yfinance frame without a Close column: {list(sub.columns)}")
    ohlc = [lower.get(k, lower["close"]) for k in ("open", "high", "low", "close")]
    prices = sub[ohlc].to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.isnan(prices).all(axis=1)
    if not present.any():
        return None
    index = pd.DatetimeIndex(sub.index)
    tz = "UTC" if index.tz is None else str(index.tz)
    ts = _utc_ns(index)[present]
    volume = (sub[lower["volume"]].to_numpy(dtype=np.float64, na_value=np.nan)[present]
              if "volume" in lower else np.zeros(int(present.sum())))
    p = prices[present]
    return ({"timestamps": ts, "open": p[:, 0], "high": p[:, 1], "low": p[:, 2],
             "close": p[:, 3], "volume": volume}, tz)


def _utc_ns(index: Any) -> npt.NDArray[np.int64]:
    """A frame's DatetimeIndex as int64 ns UTC (a tz-naive index is taken to be UTC)."""
    import pandas as pd

    index = pd.DatetimeIndex(index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    ns: npt.NDArray[np.int64] = index.as_unit("ns").asi8
    return ns


def frame_actions(sub: Any) -> list[CorporateAction]:
    """The splits and dividends in one ticker's frame (its ``Stock Splits`` and
    ``Dividends`` columns), oldest first; empty when the frame has neither column.

    Zero, NaN (padding) and negative entries are not actions. Rows whose prices are all
    NaN still count: Yahoo may report an event on a day it has no bar for.
    """
    lower = {str(c).strip().lower(): c for c in sub.columns}
    ts = None
    out: list[CorporateAction] = []
    for column, kind in (("stock splits", SPLIT), ("dividends", DIVIDEND)):
        if column not in lower:
            continue
        values = sub[lower[column]].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            hits = np.flatnonzero(np.isfinite(values) & (values > 0))
        if hits.size:
            ts = _utc_ns(sub.index) if ts is None else ts
            out.extend(CorporateAction(int(ts[i]), kind, float(values[i])) for i in hits)
    return sorted(out, key=lambda a: (a.timestamp, a.kind))


def describe_error(raw: str) -> str:
    """``"YFTzMissingError('possibly delisted; no timezone found')"`` -> the plain reason."""
    text = raw.strip()
    m = _WRAPPED.match(text)
    return m.group(3) if m else text


def is_rate_limit(raw: str) -> bool:
    """Whether a yfinance error text is Yahoo's rate limiting."""
    low = raw.lower()
    return "ratelimit" in low or "too many requests" in low or "rate limited" in low


#: Fragments of the texts that curl (yfinance's transport), requests and the OS give a
#: request that never reached a server.
_CONNECTION_TEXTS = (
    "could not resolve", "name resolution", "name or service not known", "nodename nor servname",
    "dnserror", "connectionerror", "connecterror", "connection refused", "connection reset",
    "connection aborted", "network is unreachable", "no route to host", "failed to connect",
    "couldn't connect", "timed out", "timeout", "proxyerror", "ssl connect error",
)


def is_connection_error(raw: str) -> bool:
    """Whether an error text says the request never reached Yahoo (DNS, connect,
    timeout), as opposed to Yahoo answering that something is wrong with a symbol."""
    low = raw.lower()
    return any(t in low for t in _CONNECTION_TEXTS)


class Captured(dict[str, str]):
    """Per-ticker error texts of one ``yf.download`` call (ticker → text), and in
    ``connection`` every text yfinance logged during the call that names a failed
    connection (a timezone lookup or the cookie fetch that never reached Yahoo)."""

    def __init__(self) -> None:
        super().__init__()
        self.connection: list[str] = []


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: dict[str, str] = {}
        self.connection: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if is_connection_error(text):
            self.connection.append(text.strip())
        if record.levelno < logging.ERROR:
            return
        m = _LOG_LINE.match(text)
        if not m:
            return
        try:
            tickers = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return
        for t in tickers if isinstance(tickers, (list, tuple)) else [tickers]:
            self.errors[str(t).upper()] = m.group(2)


@contextmanager
def captured_errors() -> Iterator[Captured]:
    """Collect the per-ticker errors one ``yf.download`` call reports, and the connection
    failures it logged (see :class:`Captured`).

    yfinance 1.x only logs them; 0.2.x also filled ``yfinance.shared._ERRORS``. Both are
    read. Downloads are serialised by the provider, so the handler sees only this call.
    """
    handler = _Collect()
    logger = logging.getLogger("yfinance")
    logger.addHandler(handler)
    errors = Captured()
    try:
        yield errors
    finally:
        logger.removeHandler(handler)
        try:
            from yfinance import shared

            errors.update({str(k).upper(): str(v) for k, v in getattr(shared, "_ERRORS", {}).items()})
        except ImportError:
            pass
        errors.update(handler.errors)
        errors.connection.extend(handler.connection)
