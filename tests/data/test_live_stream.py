"""Streamed quotes against a real WebSocket server on 127.0.0.1.

The server speaks Yahoo's stream protocol as yfinance's client expects it: it records the
client's JSON ``subscribe``/``unsubscribe`` messages and sends frames
``{"type": "pricing", "message": base64(PricingData)}`` built with yfinance's own
``pricing_pb2.PricingData``. The repository-wide ``no_network`` guard stays active, so
nothing here can leave the machine.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
import threading
import time
from http import HTTPStatus
from typing import Any, Callable

import pytest

from core.data.live import Backoff, Quote, QuoteDecoder, QuoteStream
from core.errors import ATCInputError

T0_MS = 1_709_312_400_000          # 2024-03-01 17:00 UTC


def pricing_frame(symbol: str, price: float, time_ms: int = T0_MS,
                  day_volume: int | None = None) -> str:
    from yfinance.pricing_pb2 import PricingData

    msg = PricingData(id=symbol, price=price, time=time_ms)
    if day_volume is not None:
        msg.day_volume = day_volume
    encoded = base64.b64encode(msg.SerializeToString()).decode("ascii")
    return json.dumps({"type": "pricing", "message": encoded})


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")


class StreamServer:
    """A WebSocket server on an ephemeral loopback port, on its own asyncio thread."""

    def __init__(self) -> None:
        self.received: list[dict] = []           # client messages, in arrival order
        self.connections: list[Any] = []          # open server-side connections
        self.accepted = 0
        self.refuse = 0                           # answer the next N handshakes with 503
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._serve())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(3)

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handler, "127.0.0.1", 0,
                                   process_request=self._process_request)
        self.port = self._server.sockets[0].getsockname()[1]

    def _process_request(self, connection: Any, request: Any) -> Any:
        if self.refuse > 0:
            self.refuse -= 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "down\n")
        return None

    async def _handler(self, ws: Any) -> None:
        self.accepted += 1
        self.connections.append(ws)
        try:
            async for text in ws:
                self.received.append(json.loads(text))
        except Exception:
            pass
        finally:
            self.connections.remove(ws)

    def send(self, *frames: str | bytes) -> None:
        async def go() -> None:
            for ws in list(self.connections):
                for f in frames:
                    await ws.send(f)
        self._call(go())

    def drop(self) -> None:
        """Cut every connection without a closing handshake (a network failure)."""
        async def go() -> None:
            for ws in list(self.connections):
                ws.transport.abort()
        self._call(go())

    def subscribes(self) -> list[set[str]]:
        return [set(m["subscribe"]) for m in list(self.received) if "subscribe" in m]

    def unsubscribes(self) -> list[list[str]]:
        return [m["unsubscribe"] for m in list(self.received) if "unsubscribe" in m]

    def close(self) -> None:
        async def go() -> None:
            self._server.close()
            await self._server.wait_closed()
        self._call(go())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)
        self._loop.close()      # its selector and self-pipe sockets, or they leak


class RecordingBackoff(Backoff):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delays: list[float] = []
        self.resets = 0

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay

    def reset(self) -> None:
        self.resets += 1
        super().reset()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)     # websockets would tunnel through them
    srv = StreamServer()
    yield srv
    srv.close()


@pytest.fixture
def make_stream(server: StreamServer) -> Any:
    made: list[QuoteStream] = []

    def make(**kwargs: Any) -> QuoteStream:
        states: list[str] = []
        kwargs.setdefault("backoff", RecordingBackoff(base_s=0.05, cap_s=0.2, jitter=0))
        kwargs.setdefault("poll_s", 0.02)
        stream = QuoteStream(server.url, on_state=states.append, **kwargs)
        stream.states = states                     # type: ignore[attr-defined]
        made.append(stream)
        return stream

    yield make
    for stream in made:
        stream.stop()


def drain(stream: QuoteStream) -> list[Quote]:
    out = []
    while (q := stream.next_quote()) is not None:
        out.append(q)
    return out


def collect(stream: QuoteStream, n: int) -> list[Quote]:
    got: list[Quote] = []

    def enough() -> bool:
        got.extend(drain(stream))
        return len(got) >= n
    wait_for(enough)
    return got


# ------------------------------------------------------------------- decoder

def test_decoder_reads_what_yfinance_decodes() -> None:
    from yfinance.live import WebSocket

    frame = json.loads(pricing_frame("aapl", 187.25, T0_MS + 123, day_volume=4_500_000))
    message = WebSocket(verbose=False)._decode_message(frame["message"])
    assert message["time"] == str(T0_MS + 123)          # int64 arrives as a string
    quote = QuoteDecoder().decode(message)
    assert quote == Quote("AAPL", 187.25, (T0_MS + 123) / 1000, 4_500_000.0)


@pytest.mark.parametrize("message, reason", [
    ({"id": "AAPL", "time": "1709312400000"}, "no price"),         # proto3 omits price 0
    ({"id": "AAPL", "price": "NaN", "time": "1709312400000"}, "price not a number"),
    ({"id": "AAPL", "price": True, "time": "1709312400000"}, "price not a number"),
    ({"id": "AAPL", "price": 1e101, "time": "1709312400000"}, "price out of range"),
    ({"id": "AAPL", "price": -3.0, "time": "1709312400000"}, "price out of range"),
    ({"id": "AAPL", "price": math.inf, "time": "1709312400000"}, "price out of range"),
    ({"price": 10.0, "time": "1709312400000"}, "no symbol"),
    ({"id": "../etc/passwd", "price": 10.0, "time": "1709312400000"}, "bad symbol"),
    ({"id": "AAPL", "price": 10.0}, "no time"),
    ({"id": "AAPL", "price": 10.0, "time": "--5"}, "bad time"),
    ({"id": "AAPL", "price": 10.0, "time": "0"}, "time out of range"),
    ({"id": "AAPL", "price": 10.0, "time": str(10**19)}, "bad time"),
    ({"id": "AAPL", "price": 10.0, "time": "1709312400000", "day_volume": "-1"},
     "bad day_volume"),
    ({"error": "Incorrect padding", "raw_base64": "abc"}, "undecodable"),
    (["AAPL", 10.0], "not a message"),
])
def test_decoder_rejects_and_counts_malformed_messages(message: Any, reason: str) -> None:
    decoder = QuoteDecoder()
    assert decoder.decode(message) is None
    assert decoder.rejected == 1
    assert decoder.reasons == {reason: 1}


def test_decoder_accepts_the_price_limits() -> None:
    decoder = QuoteDecoder()
    for price in (1e-100, 1e100):
        assert decoder.decode({"id": "X", "price": price, "time": "1"}).price == price
    assert decoder.rejected == 0


# ------------------------------------------------------------------- back-off

def test_backoff_doubles_to_the_cap_jitters_and_resets() -> None:
    plain = Backoff(base_s=1, cap_s=60, jitter=0)
    assert [plain.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    plain.reset()
    assert plain.next_delay() == 1
    jittered = Backoff(base_s=1, cap_s=60, jitter=0.2, rng=random.Random(7))
    delays = [jittered.next_delay() for _ in range(8)]
    for got, nominal in zip(delays, [1, 2, 4, 8, 16, 32, 60, 60]):
        assert 0.8 * nominal <= got <= 1.2 * nominal
    assert len(set(delays[-2:])) == 2                     # two capped delays still differ


@pytest.mark.parametrize("kwargs, field", [({"base_s": 0}, "base_s"),
                                           ({"base_s": 70, "cap_s": 60}, "base_s"),
                                           ({"factor": 0.5}, "factor"),
                                           ({"jitter": 1.0}, "jitter")])
def test_backoff_rejects_bad_parameters_by_name(kwargs: dict, field: str) -> None:
    with pytest.raises(ATCInputError) as err:
        Backoff(**kwargs)
    assert err.value.field == field


# ------------------------------------------------------------------- the stream

def test_quotes_arrive_decoded_and_the_state_is_live(server: StreamServer, make_stream: Any,
                                                     no_network: list[str]) -> None:
    stream = make_stream()
    stream.start(["aapl", "MSFT"])
    wait_for(lambda: server.subscribes())
    assert server.subscribes()[0] == {"AAPL", "MSFT"}
    wait_for(lambda: stream.state == "live")
    assert stream.states == ["connecting", "live"]
    server.send(pricing_frame("AAPL", 187.5, T0_MS, 1000),
                pricing_frame("MSFT", 410.25, T0_MS + 1500))
    quotes = collect(stream, 2)
    assert quotes == [Quote("AAPL", 187.5, T0_MS / 1000, 1000.0),
                      Quote("MSFT", 410.25, (T0_MS + 1500) / 1000, None)]
    assert stream.stats.quotes == 2 and stream.stats.garbage == 0
    assert no_network == []                                # loopback only


def test_callback_delivery_instead_of_the_queue(server: StreamServer, make_stream: Any) -> None:
    got: list[Quote] = []
    stream = make_stream(on_quote=got.append)
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    server.send(pricing_frame("AAPL", 1.5))
    wait_for(lambda: got)
    assert got == [Quote("AAPL", 1.5, T0_MS / 1000)]
    assert stream.next_quote() is None


def test_symbol_changes_send_subscribe_and_unsubscribe_diffs(server: StreamServer,
                                                             make_stream: Any) -> None:
    stream = make_stream()
    stream.start(["AAPL", "MSFT"])
    wait_for(lambda: server.subscribes())
    stream.set_symbols(["MSFT", "TSLA"])
    wait_for(lambda: len(server.subscribes()) >= 2)
    assert server.unsubscribes() == [["AAPL"]]
    assert server.subscribes()[-1] == {"MSFT", "TSLA"}
    # A quote still in flight for the dropped symbol is not delivered.
    server.send(pricing_frame("AAPL", 10.0), pricing_frame("TSLA", 20.0))
    assert [q.symbol for q in collect(stream, 1)] == ["TSLA"]
    assert stream.stats.foreign == 1
    stream.set_symbols(["TSLA"])
    wait_for(lambda: len(server.unsubscribes()) == 2)
    assert server.unsubscribes()[-1] == ["MSFT"]
    assert len(server.subscribes()) == 2                   # nothing new to subscribe
    with pytest.raises(ATCInputError) as err:
        stream.set_symbols(["TSLA", "bad/symbol"])
    assert err.value.field == "symbol"
    assert stream.symbols == {"TSLA"}


def test_subscription_heartbeat_resends_the_whole_set(server: StreamServer,
                                                      make_stream: Any) -> None:
    stream = make_stream(heartbeat_s=0.1)
    stream.start(["AAPL", "MSFT"])
    # The count goes up once the send has returned, which may be after the server read it.
    wait_for(lambda: len(server.subscribes()) >= 4 and stream.stats.heartbeats >= 3)
    assert all(s == {"AAPL", "MSFT"} for s in server.subscribes())
    assert server.accepted == 1


def test_dropped_connection_goes_polling_reconnects_and_quotes_flow_again(
        server: StreamServer, make_stream: Any) -> None:
    stream = make_stream()
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    server.send(pricing_frame("AAPL", 100.0))
    assert collect(stream, 1)[0].price == 100.0
    server.drop()
    wait_for(lambda: server.accepted == 2 and stream.state == "live")
    assert stream.states == ["connecting", "live", "polling", "live"]
    assert stream.stats.drops == 1
    wait_for(lambda: len(server.subscribes()) == 2)        # subscribed afresh
    assert server.subscribes()[-1] == {"AAPL"}
    server.send(pricing_frame("AAPL", 101.0, T0_MS + 1000))
    assert collect(stream, 1)[0].price == 101.0


def test_refused_connections_back_off_then_go_live(server: StreamServer,
                                                   make_stream: Any, caplog: Any) -> None:
    server.refuse = 3
    backoff = RecordingBackoff(base_s=0.02, cap_s=0.05, jitter=0)
    stream = make_stream(backoff=backoff)
    with caplog.at_level(logging.INFO):
        stream.start(["AAPL"])
        wait_for(lambda: stream.state == "live")
    assert stream.states == ["connecting", "polling", "live"]
    assert backoff.delays == [0.02, 0.04, 0.05]            # doubling, capped
    assert stream.stats.failures == 3 and stream.stats.connects == 1
    # Each refusal is one line of the stream's own, no traceback from yfinance's client.
    failed = [r for r in caplog.records if "connecting to" in r.getMessage()]
    assert len(failed) == 3 and all(r.exc_info is None for r in failed)
    assert not [r for r in caplog.records if r.name.startswith("yfinance") and r.exc_info]


def test_backoff_resets_only_after_a_healthy_connection(server: StreamServer,
                                                        make_stream: Any) -> None:
    backoff = RecordingBackoff(base_s=0.02, cap_s=1.0, jitter=0)
    stream = make_stream(backoff=backoff, healthy_s=0.6)
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    server.drop()                                          # at once: not healthy
    wait_for(lambda: server.accepted == 2 and stream.state == "live")
    server.drop()
    wait_for(lambda: server.accepted == 3 and stream.state == "live")
    assert backoff.resets == 0 and backoff.delays == [0.02, 0.04]
    time.sleep(0.65)                                       # healthy now
    server.drop()
    wait_for(lambda: server.accepted == 4 and stream.state == "live")
    assert backoff.resets == 1 and backoff.delays == [0.02, 0.04, 0.02]


@pytest.mark.parametrize("hide_exceptions", [True, False])
def test_garbage_frames_are_counted_and_skipped(server: StreamServer, make_stream: Any,
                                                monkeypatch: pytest.MonkeyPatch,
                                                hide_exceptions: bool) -> None:
    from yfinance.config import YfConfig

    # yfinance's decoder either logs and returns {"error": ...} or raises, by its config.
    monkeypatch.setitem(YfConfig.debug.data, "hide_exceptions", hide_exceptions)
    stream = make_stream()
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    bad_protobuf = base64.b64encode(b"\xff\xff\xff\xff").decode()
    server.send(
        "not json at all",
        json.dumps({"type": "pricing"}),                    # no message
        json.dumps([1, 2, 3]),
        json.dumps({"message": 42}),
        json.dumps({"message": "abc"}),                     # bad base64 padding
        json.dumps({"message": bad_protobuf}),              # not a PricingData
        b"\xff\xfe binary junk",                            # binary, not UTF-8
        pricing_frame("AAPL", float("nan")),                # decodes, but no price
        pricing_frame("AAPL", 0.0),                         # proto3 drops a zero price
        pricing_frame("AAPL", 123.0, time_ms=0),            # no time
        pricing_frame("AAPL", 99.5),
    )
    quotes = collect(stream, 1)
    assert quotes == [Quote("AAPL", 99.5, T0_MS / 1000)]
    stats = stream.stats
    assert (stats.frames, stats.garbage, stats.rejected, stats.quotes) == (11, 7, 3, 1)
    assert stream.state == "live" and server.accepted == 1  # the stream never broke


def test_stop_is_prompt_when_live_and_while_backing_off(server: StreamServer,
                                                        make_stream: Any) -> None:
    stream = make_stream(poll_s=0.1)
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    assert stream.running
    began = time.monotonic()
    stream.stop()
    assert time.monotonic() - began < 1.0
    assert stream.state == "polling" and stream.states[-1] == "polling"
    assert not stream.running
    wait_for(lambda: not server.connections)                # the socket was closed

    server.refuse = 1
    waiting = make_stream(backoff=Backoff(base_s=30, cap_s=30, jitter=0))
    waiting.start(["AAPL"])
    wait_for(lambda: waiting.state == "polling")           # now inside a 30 s back-off
    began = time.monotonic()
    waiting.stop()
    assert time.monotonic() - began < 1.0
    assert not waiting.running


def test_restart_after_stop_streams_again(server: StreamServer, make_stream: Any) -> None:
    stream = make_stream()
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    stream.stop()
    stream.start(["MSFT"])
    wait_for(lambda: stream.state == "live" and server.accepted == 2)
    server.send(pricing_frame("MSFT", 5.0))
    assert collect(stream, 1)[0].symbol == "MSFT"
    assert stream.states == ["connecting", "live", "polling", "connecting", "live"]


def test_a_full_queue_drops_the_oldest_quotes(server: StreamServer, make_stream: Any) -> None:
    stream = make_stream(queue_size=2)
    stream.start(["AAPL"])
    wait_for(lambda: stream.state == "live")
    server.send(*(pricing_frame("AAPL", float(p), T0_MS + p) for p in (1, 2, 3, 4)))
    wait_for(lambda: stream.stats.quotes == 4)
    assert [q.price for q in drain(stream)] == [3.0, 4.0]
    assert stream.stats.dropped == 2
