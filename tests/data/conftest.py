"""Fixtures of the data-layer tests: no network at all, and a fake Yahoo.

The repository-wide ``offline`` fixture guards Python sockets, but yfinance talks HTTP
through curl_cffi, whose libcurl opens sockets in C where no Python patch reaches. So the
HTTP entry points of curl_cffi and requests are blocked here too.

``fake_yahoo`` replaces only yfinance's per-ticker ``history`` call. ``yf.download``
itself runs for real: its threads, the ``(Price, Ticker)`` MultiIndex, the reindexing of
every ticker onto the union of timestamps, the all-NaN columns and logged errors of failed
tickers are the library's own, so the provider sees frames of exactly the real shape.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Any, Iterator

import pandas as pd
import pytest

from tests.data.fakes import FakeClock, FakeYahoo, NetworkBlocked


def _loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None) or isinstance(host, bytes):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return isinstance(host, str) and host.startswith("/")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Connecting anywhere but loopback, or any HTTP request, fails the test loudly.

    The attempt raises at once, and because libraries may swallow the exception (yfinance
    turns every per-ticker exception into a logged failure) every attempt is also recorded
    and fails the test at teardown. Yields the record (the guard's own test clears it).
    """
    attempts: list[str] = []
    real_create = socket.create_connection
    real_connect = socket.socket.connect

    def blocked(what: str) -> NetworkBlocked:
        attempts.append(what)
        return NetworkBlocked(f"data test tried to reach the network: {what}")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _loopback(address):
            raise blocked(f"connect {address!r}")
        return real_create(address, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise blocked(f"connect {address!r}")
        return real_connect(sock, address)

    def http(*args: Any, **kwargs: Any) -> None:
        raise blocked(f"HTTP request {args[1:3]!r}")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    from curl_cffi import requests as curl_requests
    from curl_cffi.curl import Curl

    monkeypatch.setattr(Curl, "perform", http)
    monkeypatch.setattr(curl_requests.Session, "request", http)
    import requests

    monkeypatch.setattr(requests.Session, "request", http)
    yield attempts
    if attempts:
        pytest.fail(f"test tried to reach the network {len(attempts)} time(s): {attempts[:3]}")


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

