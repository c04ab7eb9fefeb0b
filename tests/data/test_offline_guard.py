"""The data tests cannot reach the network, even through libcurl or a swallowing library."""
from __future__ import annotations

import socket

import pytest

from core.data.providers.yahoo import YahooProvider
from tests.data.fakes import NetworkBlocked


def test_python_sockets_to_the_outside_are_refused(no_network):
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(("192.0.2.1", 80))
    assert len(no_network) == 2
    no_network.clear()


def test_curl_cffi_http_is_refused(no_network):
    from curl_cffi import requests as curl_requests

    with pytest.raises(NetworkBlocked):
        curl_requests.Session().get("https://query2.finance.yahoo.com/")
    no_network.clear()


def test_a_real_yfinance_download_is_caught_even_though_yfinance_swallows_errors(no_network):
    # Without the fake, yfinance would go online; it swallows the guard's exception into a
    # per-ticker failure, so the guard's record is what makes such a test fail.
    result = YahooProvider().fetch(["AAPL"], "1d")
    assert "AAPL" in result.failures
    assert no_network, "the attempt was not recorded"
    no_network.clear()


def test_loopback_stays_usable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass
