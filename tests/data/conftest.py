"""Fixtures of the data-layer tests: a fake Yahoo and a fake clock (the network guard
``no_network`` is repository-wide, in tests/conftest.py).

``fake_yahoo`` replaces only yfinance's per-ticker ``history`` call. ``yf.download``
itself runs for real: its threads, the ``(Price, Ticker)`` MultiIndex, the reindexing of
every ticker onto the union of timestamps, the all-NaN columns and logged errors of failed
tickers are the library's own, so the provider sees frames of exactly the real shape.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.data.fakes import FakeClock, FakeYahoo


@pytest.fixture
def fake_yahoo(monkeypatch: pytest.MonkeyPatch) -> FakeYahoo:
    """A ``FakeYahoo`` wired into yfinance's per-ticker history call."""
    from yfinance.base import TickerBase

    fake = FakeYahoo()

    def history(self: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return fake.history(self.ticker, kwargs)

    monkeypatch.setattr(TickerBase, "history", history)
    return fake


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()

