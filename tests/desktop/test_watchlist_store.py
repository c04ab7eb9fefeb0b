"""Named watchlists on disk: every edit saved atomically, corrupt files survived."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from atc_desktop.watchlist.store import DEFAULT_SYMBOLS, WatchlistStore, normalise_symbol


def test_first_start_is_the_bundled_symbols(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.json")
    assert store.symbols() == ["AAPL", "FB", "GOOG", "IBM", "MSFT"] == list(DEFAULT_SYMBOLS)
    assert store.names() == ["Default"]


def test_every_edit_is_on_disk_at_once(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    store = WatchlistStore(path)
    store.set_symbols(["MSFT", "AAPL", "MSFT", "IBM"])
    assert json.loads(path.read_text())["lists"]["Default"] == ["MSFT", "AAPL", "IBM"]
    store.create("Tech", ["GOOG"])
    store.rename("Tech", "Growth")
    again = WatchlistStore(path)
    assert again.names() == ["Default", "Growth"]
    assert again.active == "Growth" and again.symbols() == ["GOOG"]
    again.delete("Growth")
    assert WatchlistStore(path).names() == ["Default"]
    assert not list(tmp_path.glob("*.tmp")), "an atomic write leaves no temporary file"


def test_list_rules(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.json")
    with pytest.raises(ValueError, match="exists"):
        store.create("Default")
    with pytest.raises(ValueError, match="last watchlist"):
        store.delete("Default")
    with pytest.raises(KeyError):
        store.set_active("nope")


def test_corrupt_file_is_kept_aside_and_defaults_used(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text("{not json")
    store = WatchlistStore(path)
    assert store.symbols() == list(DEFAULT_SYMBOLS)
    aside = list(tmp_path.glob("w.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"


def test_symbol_syntax() -> None:
    assert normalise_symbol(" aapl ") == "AAPL"
    assert normalise_symbol("brk-b") == "BRK-B"
    for bad in ("", "a b", "$$$", "X" * 33):  # the core rule allows 32
        with pytest.raises(ValueError):
            normalise_symbol(bad)
