"""Where symbol suggestions come from (no Qt; the blocking calls run on the worker pool).

Local: the symbols of the bundled data, of the current provider when it can list them (a
CSV folder) and of the user's watchlists. Remote: Yahoo's search, only when the data
source is Yahoo (online).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from core.data.symbols import normalise_symbol, symbol_syntax_error

log = logging.getLogger(__name__)

#: Suggestions shown at most.
MAX_SUGGESTIONS = 12
#: Seconds a Yahoo search may take before it counts as failed.
SEARCH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Suggestion:
    symbol: str
    name: str = ""
    where: str = ""          # an exchange, "bundled data", "CSV folder", "watchlist"

    def label(self) -> str:
        extra = " · ".join(p for p in (self.name, self.where) if p)
        return f"{self.symbol}  —  {extra}" if extra else self.symbol


def _usable(symbols: Iterable[Any], where: str) -> list[Suggestion]:
    out = []
    for raw in symbols:
        sym = normalise_symbol(raw)
        if symbol_syntax_error(sym) is None:
            out.append(Suggestion(sym, where=where))
    return out


_WHERE = {"csv": "CSV folder", "bundled": "bundled data", "synthetic": "synthetic data"}


def local_index(provider: Any) -> list[Suggestion]:
    """The symbols that can be suggested without a network: the provider's own list (a
    CSV folder, the bundled file, synthetic names) and the bundled file's. Blocking (reads
    files): call it on the worker pool."""
    found: list[Suggestion] = []
    name = str(getattr(provider, "name", ""))
    lister = getattr(provider, "symbols", None)
    if callable(lister):
        found += _usable(lister(), _WHERE.get(name, name))
    if name != "bundled":
        try:
            from core.data import make_provider

            bundled: Any = make_provider("bundled", replay=False)     # lists its symbols
            found += _usable(bundled.symbols(), _WHERE["bundled"])
        except Exception as exc:         # a missing bundled file only shortens the list
            log.debug("no bundled symbols to suggest: %s", exc)
    return merge(found, limit=None)


def yahoo_search(query: str, limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    """Yahoo's symbol search for ``query`` (a ticker or a company name). Blocking, raises
    when Yahoo cannot be reached."""
    import yfinance as yf

    from core.data.providers.yahoo import use_app_cache_for_yfinance

    use_app_cache_for_yfinance()          # yfinance's cookie files with the app's other caches
    found = yf.Search(query, max_results=limit, news_count=0, lists_count=0, include_cb=False,
                      recommended=0, timeout=SEARCH_TIMEOUT_S, raise_errors=True)
    out = []
    for quote in found.quotes:
        sym = normalise_symbol(quote.get("symbol", ""))
        if symbol_syntax_error(sym) is not None:
            continue
        name = quote.get("shortname") or quote.get("longname") or ""
        where = quote.get("exchDisp") or quote.get("exchange") or ""
        out.append(Suggestion(sym, str(name), str(where)))
    return out


def match(query: str, index: Sequence[Suggestion], limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    """Suggestions for ``query``: symbols starting with it first, then symbols and names
    containing it."""
    q = query.strip().upper()
    if not q:
        return []
    starts = [s for s in index if s.symbol.startswith(q)]
    contains = [s for s in index if not s.symbol.startswith(q)
                and (q in s.symbol or q in s.name.upper())]
    return merge(starts + contains, limit=limit)


def merge(suggestions: Iterable[Suggestion], limit: int | None = MAX_SUGGESTIONS) -> list[Suggestion]:
    """One suggestion per symbol in the order first seen (a later one with a name
    replaces a nameless one), at most ``limit``."""
    seen: dict[str, Suggestion] = {}
    for s in suggestions:
        had = seen.get(s.symbol)
        if had is None:
            if limit is not None and len(seen) >= limit:
                continue
            seen[s.symbol] = s
        elif not had.name and s.name:
            seen[s.symbol] = s
    return list(seen.values())
