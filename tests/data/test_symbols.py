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
