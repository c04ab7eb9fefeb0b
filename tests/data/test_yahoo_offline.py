"""The Yahoo provider without a network and under rate limiting: one provider-wide failure
instead of a "possibly delisted" per symbol, and a cool-down that says until when."""
from __future__ import annotations

import datetime as dt
import logging
import random

import pytest
from yfinance.exceptions import YFTzMissingError

from core.data import BarStore, refresh
from core.data.providers.yahoo import YahooProvider
from core.errors import NetworkUnavailable, ProviderUnavailable, RateLimited
from tests.data.fakes import NOW, daily_frame

CURL_DNS = ("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com "
            "(Domain name not found).")


def provider(fake_clock=None, **kw) -> YahooProvider:
    hooks = {} if fake_clock is None else {"sleep": fake_clock.sleep, "clock": fake_clock.clock}
    return YahooProvider(now=lambda: NOW, rng=random.Random(1), **hooks, **kw)


def unreachable(ticker: str) -> Exception:
    """What yfinance does per ticker without a network: its timezone lookup logs the curl
    error and the history call then reports the ticker "possibly delisted"."""
    logging.getLogger("yfinance").error(f"Failed to get ticker '{ticker}' reason: {CURL_DNS}")
    return YFTzMissingError(ticker)


def test_no_network_is_one_provider_wide_failure(fake_yahoo):
    for sym in ("AAPL", "MSFT", "NVDA"):
        fake_yahoo.errors[sym] = unreachable
    with pytest.raises(NetworkUnavailable) as caught:
        provider().fetch(["AAPL", "MSFT", "NVDA"], "1d")
    message = str(caught.value)
    assert message.startswith("cannot reach Yahoo Finance") and "Could not resolve host" in message
    assert "possibly delisted" not in message
    assert isinstance(caught.value, ProviderUnavailable)


def test_a_connection_error_raised_by_the_download_is_no_network(fake_clock):
    def download(**kwargs):
        raise ConnectionError("no route to host")

    with pytest.raises(NetworkUnavailable, match="ConnectionError: no route to host"):
        provider(fake_clock, download=download).fetch(["AAPL", "MSFT"], "1d")
    assert fake_clock.sleeps == []


def test_unknown_tickers_with_a_network_stay_per_symbol_failures(fake_yahoo):
    # The same "possibly delisted" text, but nothing logged a failed connection: Yahoo
    # answered, so each symbol carries its own reason.
    result = provider().fetch(["NOPE", "ZZZZ"], "1d")
    assert result.failures == {"NOPE": "possibly delisted; no timezone found",
                               "ZZZZ": "possibly delisted; no timezone found"}


def test_a_symbol_that_arrives_means_the_network_works(fake_yahoo):
    fake_yahoo.add("AAPL", daily_frame(10))
    fake_yahoo.errors["MSFT"] = unreachable
    result = provider().fetch(["AAPL", "MSFT"], "1d")
    assert len(result.bars["AAPL"]) == 10
    assert result.failures == {"MSFT": "possibly delisted; no timezone found"}


def test_rate_limit_starts_a_cooldown_that_names_its_end(fake_yahoo, fake_clock):
    fake_yahoo.add("AAPL", daily_frame(10))
    fake_yahoo.rate_limited["AAPL"] = 10_000
    start = fake_clock.now
    p = YahooProvider(now=lambda: NOW + dt.timedelta(seconds=fake_clock.now - start),
                      rng=random.Random(1), sleep=fake_clock.sleep, clock=fake_clock.clock,
                      base_delay_s=1.0, max_delay_s=4.0, max_wait_s=10.0, cooldown_s=300.0)
    with pytest.raises(RateLimited, match="cooling down until") as first:
        p.fetch(["AAPL"], "1d")
    gave_up = NOW.timestamp() + (fake_clock.now - start)
    assert first.value.until == pytest.approx(gave_up + 300.0)
    calls = len(fake_yahoo.calls)
    fake_clock.now += 100.0
    with pytest.raises(RateLimited, match="no requests are sent") as again:
        p.fetch(["AAPL"], "1d")
    assert len(fake_yahoo.calls) == calls            # nothing was sent during the cool-down
    assert again.value.until == pytest.approx(first.value.until)
    fake_clock.now += 200.0
    fake_yahoo.rate_limited["AAPL"] = 0
    assert len(p.fetch(["AAPL"], "1d").bars["AAPL"]) == 10     # over: Yahoo is asked again
    assert p.cooldown_until is None


def test_refresh_raises_no_network_and_keeps_the_store(fake_yahoo, tmp_path):
    fake_yahoo.add("AAPL", daily_frame(30))
    p = provider()
    with BarStore(tmp_path / "bars.sqlite3") as store:
        refresh(store, p, ["AAPL"], clock=lambda: 100.0)
        fake_yahoo.series.clear()
        fake_yahoo.errors["AAPL"] = unreachable
        with pytest.raises(NetworkUnavailable):
            refresh(store, p, ["AAPL"], clock=lambda: 200.0)
        assert store.last_fetch("AAPL", "1d") == 100.0
        assert len(store.load("AAPL", "1d")) == 30
