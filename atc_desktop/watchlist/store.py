"""Named watchlists on disk: one JSON file, rewritten atomically on every edit."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from atc_desktop.persist import SetAside, ShapeError, expect, load_json, member, write_json
from core.data.symbols import valid_symbol
from core.errors import ATCInputError

log = logging.getLogger(__name__)

#: The bundled data's symbols: the first-start watchlist, so the app works offline.
DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
DEFAULT_NAME = "Default"


def normalise_symbol(text: str) -> str:
    """Upper-cased, trimmed symbol; raises ValueError when it cannot be a ticker at all
    (the rule is core's, shared with the CLI and the CSV provider)."""
    return valid_symbol(text)


def _saved_symbol(value: Any, what: str) -> str:
    """A symbol read from the file, held to the rule a typed one meets (normalised), or a
    ShapeError naming its list."""
    try:
        return normalise_symbol(expect(value, str, f"a symbol of {what}"))
    except ATCInputError as exc:
        raise ShapeError(f"a symbol of {what}: {exc}") from None


def parse_watchlists(data: Any) -> tuple[dict[str, list[str]], str | None]:
    """(lists, active name) of a saved file: ``{"lists": {name: [symbol]}, "active": name}``;
    anything else, a symbol that fails the ticker rule included, is a ShapeError. Symbols
    are normalised as typed ones are; duplicates are dropped, order kept."""
    expect(data, dict, "the watchlists file")
    lists: dict[str, list[str]] = {}
    for name, symbols in member(data, "lists", dict).items():
        what = f"watchlist {name!r}"
        lists[name] = list(dict.fromkeys(_saved_symbol(s, what) for s in expect(symbols, list, what)))
    return lists, member(data, "active", str, None)


class WatchlistStore:
    """Several named, ordered symbol lists and which one is active.

    Every mutating call saves at once (atomic replace), so a crash never loses an edit. An
    unusable file is kept aside by :func:`load_json` (``set_aside`` says where) and the
    default watchlist is used.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lists: dict[str, list[str]] = {}
        self._active = DEFAULT_NAME
        self.set_aside: SetAside | None = None
        self._load()

    # -- reading ------------------------------------------------------------------------------
    @property
    def active(self) -> str:
        return self._active

    def names(self) -> list[str]:
        return list(self._lists)

    def symbols(self, name: str | None = None) -> list[str]:
        return list(self._lists[name or self._active])

    def all_symbols(self) -> list[str]:
        """Every list's symbols, each once (the add field suggests them)."""
        return list(dict.fromkeys(s for symbols in self._lists.values() for s in symbols))

    # -- editing ------------------------------------------------------------------------------
    def set_active(self, name: str) -> None:
        self._require(name)
        self._active = name
        self.save()

    def set_symbols(self, symbols: list[str], name: str | None = None) -> None:
        """Replace a list's symbols (order kept, duplicates dropped)."""
        key = name or self._active
        self._require(key)
        self._lists[key] = list(dict.fromkeys(symbols))
        self.save()

    def create(self, name: str, symbols: list[str] | None = None) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a watchlist needs a name")
        if name in self._lists:
            raise ValueError(f"a watchlist named {name!r} exists already")
        self._lists[name] = list(dict.fromkeys(symbols or []))
        self._active = name
        self.save()

    def rename(self, old: str, new: str) -> None:
        self._require(old)
        new = new.strip()
        if not new:
            raise ValueError("a watchlist needs a name")
        if new != old and new in self._lists:
            raise ValueError(f"a watchlist named {new!r} exists already")
        self._lists = {(new if k == old else k): v for k, v in self._lists.items()}
        if self._active == old:
            self._active = new
        self.save()

    def delete(self, name: str) -> None:
        self._require(name)
        if len(self._lists) == 1:
            raise ValueError("the last watchlist cannot be deleted")
        del self._lists[name]
        if self._active == name:
            self._active = next(iter(self._lists))
        self.save()

    # -- disk ---------------------------------------------------------------------------------
    def save(self) -> None:
        write_json(self.path, {"version": 1, "active": self._active, "lists": self._lists})

    def _load(self) -> None:
        loaded, self.set_aside = load_json(self.path, parse_watchlists)
        lists, active = loaded or ({}, None)
        fresh = not lists
        if fresh:
            lists = {DEFAULT_NAME: list(DEFAULT_SYMBOLS)}
        self._lists = lists
        self._active = active if active in lists else next(iter(lists))
        if fresh and not self.path.exists():   # a file that could not be moved aside stays
            try:
                self.save()          # the user can find (and edit) the file from the start
            except OSError as exc:
                log.error("cannot write %s: %s", self.path, exc)

    def _require(self, name: str) -> None:
        if name not in self._lists:
            raise KeyError(f"no watchlist named {name!r}")
