"""``Quote``: one streamed price, and the decoder that turns yfinance's decoded messages
into quotes or rejects them.

yfinance's ``WebSocket._decode_message`` turns a frame's base64 ``PricingData`` protobuf
into a dict with the proto field names (``MessageToDict(preserving_proto_field_name=True)``):
``id`` (the ticker), ``price`` (float32 as a JSON number; ``"NaN"``/``"Infinity"`` strings
for non-finite values), ``time`` (epoch milliseconds as a *string*, int64 in JSON),
``day_volume`` (also an int64 string), and many optional fields. Fields holding their
default value (``price`` 0, empty ``id``) are absent. Undecodable input comes back as
``{"error": ..., "raw_base64": ...}`` (or raises, depending on ``YfConfig``).

The decoder never raises: whatever a server sends, a message is either a valid ``Quote``
or ``None`` with the reason counted, so one bad frame cannot stop the stream.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TypeAlias

from core.data.symbols import normalise_symbol, symbol_syntax_error
from core.types import PRICE_MAX, PRICE_MIN

#: Latest quote time accepted: int64 nanoseconds (the bar timestamps) end in 2262.
_MAX_TIME_MS = 9_223_372_036_854
_INT64_TEXT = re.compile(r"-?[0-9]{1,19}")

#: A decoded message: field name → value, values of any JSON type until checked.
Message: TypeAlias = dict[str, object]


@dataclass(frozen=True, slots=True)
class Quote:
    """One traded price.

    Attributes
    ----------
    symbol : str
        Ticker, upper case as the store keeps it.
    price : float
        Finite, within ``core.types.PRICE_MIN … PRICE_MAX``.
    time : float
        Trade time, seconds since the epoch (UTC), millisecond resolution.
    day_volume : float or None
        Cumulative volume of the trading day so far, when the message carries it.
    """

    symbol: str
    price: float
    time: float
    day_volume: float | None = None


class _Reject(Exception):
    """Why a message is not a quote (the message of the exception is the counted reason)."""


def _symbol(message: Message) -> str:
    raw = message.get("id")
    if not isinstance(raw, str):
        raise _Reject("no symbol")
    symbol = normalise_symbol(raw)
    if symbol_syntax_error(symbol) is not None:
        raise _Reject("bad symbol")
    return symbol


def _price(message: Message) -> float:
    raw = message.get("price")
    if raw is None:
        raise _Reject("no price")          # proto3 drops a 0.0 price, so absent means 0
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise _Reject("price not a number")  # includes MessageToDict's "NaN"/"Infinity"
    price = float(raw)
    if not (math.isfinite(price) and PRICE_MIN <= price <= PRICE_MAX):
        raise _Reject("price out of range")
    return price


def _int_field(message: Message, name: str) -> int | None:
    """An int64 field: an int or a string of digits (JSON's int64 encoding), or None."""
    raw = message.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise _Reject(f"bad {name}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INT64_TEXT.fullmatch(raw):
        return int(raw)
    raise _Reject(f"bad {name}")


def _time(message: Message) -> float:
    ms = _int_field(message, "time")
    if ms is None:
        raise _Reject("no time")
    if not 0 < ms <= _MAX_TIME_MS:
        raise _Reject("time out of range")
    return ms / 1000.0


def quote_from_message(message: object) -> Quote:
    """The quote in a decoded message; raises ``_Reject`` naming what is wrong."""
    if not isinstance(message, dict):
        raise _Reject("not a message")
    if "error" in message and "raw_base64" in message:
        raise _Reject("undecodable")
    volume = _int_field(message, "day_volume")
    if volume is not None and volume < 0:
        raise _Reject("bad day_volume")
    return Quote(_symbol(message), _price(message), _time(message),
                 None if volume is None else float(volume))


class QuoteDecoder:
    """Turns decoded messages into quotes, counting the ones it rejects.

    Not thread-safe: one decoder belongs to one stream thread.

    Attributes
    ----------
    rejected : int
        Messages that were not a usable quote.
    reasons : collections.Counter
        The same, by reason (``"no price"``, ``"price out of range"``, ``"bad symbol"`` ...).
    """

    def __init__(self) -> None:
        self.rejected = 0
        self.reasons: Counter[str] = Counter()

    def decode(self, message: object) -> Quote | None:
        """The quote, or None (counted) when the message is malformed or out of range."""
        try:
            return quote_from_message(message)
        except _Reject as why:
            self.rejected += 1
            self.reasons[str(why)] += 1
            return None
