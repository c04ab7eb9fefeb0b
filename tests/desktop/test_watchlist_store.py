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


#: Single tokens (no comma, semicolon or space: the add field splits on those).
TOKENS = (" aapl ", "brk-b", "BRK.B", "^gspc", "eurusd=x", "M&M.NS", "AAPL240119C00150000",
          "AAPL\n", "", "../../etc/passwd", "A/B", "A\\B", "$$$", ".HIDDEN", "^", "X" * 32,
          "X" * 33, "ÄPFEL", "BRK+B")


@pytest.mark.parametrize("token", TOKENS, ids=repr)
def test_a_saved_symbol_meets_the_rule_a_typed_one_does(tmp_path: Path, token: str) -> None:
    """The add field and the watchlists file take the same symbols, normalised the same."""
    from atc_desktop.watchlist.symbol_entry import parse_entry

    typed = parse_entry(token, [])
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"lists": {"Mine": ["IBM", token]}, "active": "Mine"}))
    store = WatchlistStore(path)
    if typed.wanted:
        assert store.set_aside is None and store.symbols() == ["IBM", *typed.wanted]
    else:
        assert store.set_aside is not None and store.symbols() == list(DEFAULT_SYMBOLS)
        if token.strip():
            assert "a symbol of watchlist 'Mine'" in store.set_aside.reason
            assert typed.problems[0] in store.set_aside.reason   # the same words as typed
        (aside,) = tmp_path.glob("w.json.corrupt-*")
        assert json.loads(aside.read_text())["lists"]["Mine"] == ["IBM", token]   # kept


def test_saved_symbols_are_normalised_and_deduplicated(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"lists": {"Default": ["aapl", " AAPL", "ibm"]}}))
    assert WatchlistStore(path).symbols() == ["AAPL", "IBM"]
