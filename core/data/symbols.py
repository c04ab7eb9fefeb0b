"""What a ticker symbol may look like: one rule for every place a symbol enters the
program (typed into the watchlist or the CLI, read from a file's Symbol column).

A symbol also names rows in the store and files the user may export, so the rule is a
whitelist: letters, digits and the punctuation real tickers use (BRK-B, BRK.B, ^GSPC,
EURUSD=X, M&M.NS). Slashes, spaces and ``..`` can never get in (``../../etc/passwd``).
"""
from __future__ import annotations

import re

from core.errors import ATCInputError

#: Longest accepted ticker; option symbols (OCC style) reach 21 characters.
MAX_SYMBOL_LENGTH = 32
#: The rule in words, for error messages.
SYMBOL_RULE = f"letters, digits and . - ^ = & _ only, at most {MAX_SYMBOL_LENGTH} characters"
_SYMBOL_RE = re.compile(
    rf"[A-Z0-9][A-Z0-9.\-^=&_]{{0,{MAX_SYMBOL_LENGTH - 1}}}"
    rf"|\^[A-Z0-9.\-=]{{1,{MAX_SYMBOL_LENGTH - 1}}}")


def normalise_symbol(symbol: str) -> str:
    """Upper-cased, stripped ticker (no validation; see :func:`valid_symbol`)."""
    return str(symbol).strip().upper()


def symbol_syntax_error(symbol: str) -> str | None:
    """Why the normalised ``symbol`` cannot be a ticker, or None when it looks like one."""
    if not symbol:
        return "empty symbol"
    if not _SYMBOL_RE.fullmatch(symbol):  # fullmatch: no trailing newline
        return f"{symbol!r} is not a valid ticker ({SYMBOL_RULE})"
    return None


def valid_symbol(text: str) -> str:
    """``text`` normalised; raises ``ATCInputError`` (a ValueError, field "symbol") when it
    cannot be a ticker."""
    sym = normalise_symbol(text)
    reason = symbol_syntax_error(sym)
    if reason is not None:
        raise ATCInputError(reason, field="symbol")
    return sym
