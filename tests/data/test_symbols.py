"""One ticker rule for every way a symbol gets in: typed (watchlist, CLI) or read from a
file's Symbol column."""
from __future__ import annotations

import pytest

from core.data.symbols import symbol_syntax_error, valid_symbol
from core.errors import ATCInputError


@pytest.mark.parametrize("text, sym", [
    (" aapl ", "AAPL"), ("brk-b", "BRK-B"), ("BRK.B", "BRK.B"), ("^gspc", "^GSPC"),
    ("eurusd=x", "EURUSD=X"), ("M&M.NS", "M&M.NS"), ("AAPL240119C00150000", "AAPL240119C00150000"),
])
def test_real_tickers_are_accepted_and_normalised(text, sym):
    assert valid_symbol(text) == sym and symbol_syntax_error(sym) is None


@pytest.mark.parametrize("bad", ["", "   ", "../../etc/passwd", "A/B", "A\\B", "a b", "$$$",
                                 ".HIDDEN", "X" * 33, "AA\nPL", "ÄPFEL"])
def test_paths_spaces_and_junk_are_rejected_with_the_rule(bad):
    with pytest.raises(ATCInputError) as err:
        valid_symbol(bad)
    assert isinstance(err.value, ValueError) and err.value.field == "symbol"
    if bad.strip():
        assert "letters, digits and . - ^ = & _ only, at most 32 characters" in str(err.value)


def test_a_trailing_newline_is_not_part_of_a_valid_symbol():
    assert symbol_syntax_error("AAPL\n") is not None


def test_the_watchlist_uses_the_core_rule():
    from atc_desktop.watchlist.store import normalise_symbol

    assert normalise_symbol("^gspc") == "^GSPC"  # index symbols were refused before
    with pytest.raises(ValueError, match="not a valid ticker"):
        normalise_symbol("../../etc/passwd")


def test_refresh_never_stores_a_name_that_fails_the_rule(tmp_path):
    from core.data import BarStore, FetchResult, refresh
    from core.data.cleaning import CleaningReport
    from tests.data.fakes import make_bars

    class Careless:
        """A provider that serves whatever name it is asked for."""

        name, intervals = "csv", ("1d",)

        def validate_symbols(self, symbols):
            return {}

        def fetch(self, symbols, interval="1d", start=None):
            out = FetchResult()
            for s in symbols:
                out.add(make_bars(s, 5), CleaningReport(s, interval, 5, 5))
            return out

    with BarStore(tmp_path / "bars.sqlite3") as store:
        report = refresh(store, Careless(), ["ibm", "../x"])
        assert report.failures["../X"].startswith("'../X' is not a valid ticker")
        assert store.symbols() == ["IBM"] and list(report.updated) == ["IBM"]


@pytest.mark.parametrize("typed, stored", [(" aapl", "AAPL"), ("brk-b", "BRK-B"), ("^gspc", "^GSPC")])
def test_universe_symbols_meet_the_rule_as_the_other_commands(tmp_path, typed, stored):
    """`atc universe build --symbols` names symbols as `atc compute --symbol` does: a typed
    symbol is normalised (it was looked up, or skipped, as typed) and a bad one is refused
    by the same rule, naming the field."""
    from core.data import BarStore
    from core.universe import bars_from_provider, bars_from_store
    from tests.data.fakes import make_bars

    db = tmp_path / "bars.sqlite3"
    with BarStore(db) as store:
        store.upsert(make_bars(stored, 5))
    assert [b.symbol for b, _ in bars_from_store(str(db), "1d", [typed])] == [stored]
    if stored == "AAPL":
        assert [b.symbol for b, _ in bars_from_provider("bundled", "1d", [typed, "ibm"])] == \
            ["AAPL", "IBM"]
    for bad in ("../x", "a b"):
        with pytest.raises(ATCInputError) as rule:
            valid_symbol(bad)
        for series in (lambda: bars_from_store(str(db), "1d", [bad]),
                       lambda: bars_from_provider("bundled", "1d", [typed, bad])):
            with pytest.raises(ATCInputError) as err:
                next(iter(series()))
            assert err.value.field == "symbol" and str(err.value) == str(rule.value)
