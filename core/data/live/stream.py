"""``QuoteStream``: Yahoo's streaming quotes through yfinance's own ``WebSocket`` client,
on a daemon thread, with reconnects and an honest status.

The thread drives the client itself instead of calling ``WebSocket.listen()``: ``listen``
cannot be stopped from another thread and ends (or raises) on the first frame that is not
JSON. So the thread uses the client's ``_connect``, ``subscribe``/``unsubscribe`` (their
message format) and ``_decode_message`` (the base64 ``PricingData`` decoder), and reads
``client._ws.recv`` with a short timeout, which lets it check for ``stop()``, apply symbol
changes and send the subscription heartbeat (yfinance's async client re-sends
``{"subscribe": [...]}`` every 15 s; Yahoo stops streaming to a silent subscriber).

States (``QuoteStream.state``):

* ``"connecting"`` — after ``start()``, until the first connection succeeds or fails;
* ``"live"`` — connected and subscribed: quotes arrive as they trade;
* ``"polling"`` — the stream is down (or stopped): reconnects run in the background with
  back-off, and the app must rely on its history poll.

Garbage frames (not JSON, JSON without a ``message``, bad base64, bad protobuf) and
messages that are no usable quote are counted in ``stats`` and skipped; only a failed
connection ends a connection.

The app's use (``atc_desktop``, on the GUI thread)::

    stream = QuoteStream(on_state=signal_state.emit)      # callbacks run on the stream
    stream.start(watchlist_symbols)                       # thread: hand them to Qt signals
    ...                                                   # a GUI timer drains the queue:
    while (q := stream.next_quote()) is not None:
        for bars in (chart_forming, watchlist_forming):   # FormingBars per interval
            if (hit := bars.add(q)) is not None:
                throttle.push(hit[0], hit[1])             # repaint/evaluate via Throttle
    stream.set_symbols(new_watchlist)                     # on watchlist edits
    stream.stop()                                         # on quit or source change

The history poll keeps running in every state (faster when not live); each fetch calls
``FormingBars.close_through`` so that closed bars come only from history.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable

from core.data.live.backoff import Backoff
from core.data.live.quotes import Quote, QuoteDecoder
from core.data.symbols import valid_symbol

log = logging.getLogger(__name__)

YAHOO_STREAM_URL = "wss://streamer.finance.yahoo.com/?version=2"
STATES: tuple[str, ...] = ("connecting", "live", "polling")


@dataclass
class StreamStats:
    """Counters since the stream object was made (read them as a snapshot: ``stats``)."""

    frames: int = 0        # frames received
    quotes: int = 0        # quotes delivered
    garbage: int = 0       # frames that were not a decodable PricingData message
    rejected: int = 0      # decoded messages that were no usable quote (see QuoteDecoder)
    foreign: int = 0       # quotes for symbols not subscribed (in flight after unsubscribe)
    dropped: int = 0       # oldest queued quotes dropped because nobody drained the queue
    connects: int = 0      # connections opened
    failures: int = 0      # connection attempts that failed
    drops: int = 0         # open connections lost
    heartbeats: int = 0    # subscription heartbeats sent
    callback_errors: int = 0


def _yfinance_client(url: str) -> Any:
    import warnings

    from yfinance.live import WebSocket   # yfinance loads only when a stream runs

    # yfinance's client uses websockets' deprecated direct connect(); as for the history
    # provider, only warnings raised from yfinance's own modules are silenced.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance\.")
    client = WebSocket(url=url, verbose=False)
    if not any(isinstance(f, _RefusedConnect) for f in client.logger.filters):
        client.logger.addFilter(_RefusedConnect())
    return client


class _RefusedConnect(logging.Filter):
    """Drops yfinance's record of a failed connect: an error with a full traceback on every
    try, i.e. every few seconds while offline. The stream logs each failure in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR
                    and str(record.msg).startswith("Failed to connect to WebSocket"))


class QuoteStream:
    """Streamed quotes for a set of symbols.

    Parameters
    ----------
    url : str
        WebSocket endpoint (Yahoo's by default; tests pass a local server).
    on_quote : callable, optional
        Called with each ``Quote`` on the stream thread. Without it quotes go to a bounded
        queue read with ``next_quote()`` (the oldest are dropped when it is full).
    on_state : callable, optional
        Called with the new state on every change, on the stream thread (or on the caller's
        thread for the change ``stop()`` makes).
    backoff : Backoff, optional
        Reconnect delays (default 1 s doubling to 60 s, ±20 % jitter).
    heartbeat_s : float
        Interval of the subscription re-send.
    healthy_s : float
        A connection that stayed up this long resets the back-off.
    poll_s : float
        Longest wait in one ``recv``: bounds how late ``stop()``, ``set_symbols()`` and the
        heartbeat are noticed.
    queue_size : int
        Capacity of the quote queue.
    """

    def __init__(self, url: str = YAHOO_STREAM_URL, *,
                 on_quote: Callable[[Quote], None] | None = None,
                 on_state: Callable[[str], None] | None = None,
                 backoff: Backoff | None = None, heartbeat_s: float = 15.0,
                 healthy_s: float = 60.0, poll_s: float = 0.1,
                 queue_size: int = 10_000) -> None:
        self.url = url
        self._on_quote = on_quote
        self._on_state = on_state
        self._backoff = backoff or Backoff()
        self.heartbeat_s, self.healthy_s, self.poll_s = heartbeat_s, healthy_s, poll_s
        self._queue: queue.Queue[Quote] = queue.Queue(maxsize=queue_size)
        self._decoder = QuoteDecoder()
        self._stats = StreamStats()
        self._lock = threading.Lock()
        self._symbols: frozenset[str] = frozenset()
        self._state = "polling"
        self._run: threading.Event | None = None     # the current run's stop flag
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- public API
    @property
    def state(self) -> str:
        """``"connecting"``, ``"live"`` or ``"polling"`` (see the module docstring)."""
        return self._state

    @property
    def symbols(self) -> frozenset[str]:
        return self._symbols

    @property
    def running(self) -> bool:
        """Whether the stream thread is alive (it may linger briefly after ``stop()``)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def stats(self) -> StreamStats:
        """A copy of the counters."""
        with self._lock:
            snap = StreamStats(**{f.name: getattr(self._stats, f.name) for f in fields(StreamStats)})
        snap.rejected = self._decoder.rejected
        return snap

    def start(self, symbols: Iterable[str]) -> None:
        """Stream ``symbols`` (raises ``ATCInputError``, field ``symbol``, on a bad ticker).
        Already running: the same as ``set_symbols``."""
        self.set_symbols(symbols)
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._run is not None \
                    and not self._run.is_set():
                return
            run = self._run = threading.Event()
            self._thread = threading.Thread(target=self._loop, args=(run,), daemon=True,
                                            name="quote-stream")
        self._set_state("connecting", run)
        self._thread.start()

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Replace the streamed symbols; the thread sends the subscribe/unsubscribe diff
        within ``poll_s``."""
        wanted = frozenset(valid_symbol(s) for s in symbols)
        self._symbols = wanted

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop streaming; returns once the thread ended or ``timeout_s`` passed (a thread
        still inside a TCP/TLS handshake ends by itself when the handshake does)."""
        with self._lock:
            run, thread = self._run, self._thread
        if run is None:
            return
        run.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._set_state("polling", run, final=True)

    def next_quote(self) -> Quote | None:
        """The next queued quote, or None when the queue is empty (never blocks)."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    # ----------------------------------------------------------------- the thread
    def _set_state(self, state: str, run: threading.Event, final: bool = False) -> None:
        with self._lock:
            # A run that was stopped (or replaced) may only report that it is down.
            if run is not self._run or (run.is_set() and not final and state != "polling"):
                return
            if state == self._state:
                return
            self._state = state
        log.info("quote stream: %s", state)
        self._call(self._on_state, state)

    def _call(self, callback: Callable[[Any], None] | None, value: Any) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:  # a consumer's bug must not end the stream
            self._count("callback_errors")
            log.exception("quote stream callback failed")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self._stats, name, getattr(self._stats, name) + 1)

    def _loop(self, run: threading.Event) -> None:
        while not run.is_set():
            client = self._connect(run)
            if client is not None:
                opened = time.monotonic()
                self._pump(client, run)
                self._close(client)
                if run.is_set():
                    break
                self._count("drops")
                if time.monotonic() - opened >= self.healthy_s:
                    self._backoff.reset()
            self._set_state("polling", run)
            delay = self._backoff.next_delay()
            log.info("quote stream down; reconnecting in %.1f s", delay)
            run.wait(delay)

    def _connect(self, run: threading.Event) -> Any:
        client = _yfinance_client(self.url)
        try:
            client._connect()
        except Exception as exc:  # refused, DNS, TLS, HTTP status: all mean "try later"
            self._count("failures")
            log.info("quote stream: connecting to %s failed: %s", self.url, exc)
            return None
        self._count("connects")
        if run.is_set():
            self._close(client)
            return None
        return client

    def _pump(self, client: Any, run: threading.Event) -> None:
        """Read frames until the connection fails or the run is stopped."""
        sent: frozenset[str] = frozenset()
        last_subscribe = time.monotonic()
        try:
            sent, last_subscribe = self._sync(client, sent, last_subscribe)
            self._set_state("live", run)
            while not run.is_set():
                sent, last_subscribe = self._sync(client, sent, last_subscribe)
                try:
                    raw = client._ws.recv(timeout=self.poll_s)
                except TimeoutError:
                    continue
                self._frame(client, raw)
        except Exception as exc:  # ConnectionClosed, OSError: the connection is gone
            if not run.is_set():
                log.info("quote stream connection lost: %s", exc)

    def _sync(self, client: Any, sent: frozenset[str],
              last_subscribe: float) -> tuple[frozenset[str], float]:
        """Send the subscription diff, or the heartbeat when one is due."""
        wanted = self._symbols
        now = time.monotonic()
        if sent - wanted:
            # First: yfinance's subscribe sends its whole set, which must not still hold these.
            client.unsubscribe(sorted(sent - wanted))
        if wanted - sent:
            client.subscribe(sorted(wanted))
            last_subscribe = now
        elif wanted and now - last_subscribe >= self.heartbeat_s:
            client.subscribe(sorted(wanted))
            self._count("heartbeats")
            last_subscribe = now
        return wanted, last_subscribe

    def _frame(self, client: Any, raw: str | bytes) -> None:
        self._count("frames")
        try:
            envelope = json.loads(raw)
            encoded = envelope["message"]
            if not isinstance(encoded, str):
                raise TypeError("message is not a string")
            decoded = client._decode_message(encoded)   # raises or returns {"error": ...}
        except Exception:
            self._count("garbage")
            return
        if isinstance(decoded, dict) and "error" in decoded and "raw_base64" in decoded:
            self._count("garbage")
            return
        quote = self._decoder.decode(decoded)
        if quote is None:
            return
        if quote.symbol not in self._symbols:
            self._count("foreign")
            return
        self._count("quotes")
        if self._on_quote is not None:
            self._call(self._on_quote, quote)
        else:
            self._enqueue(quote)

    def _enqueue(self, quote: Quote) -> None:
        while True:
            try:
                self._queue.put_nowait(quote)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._count("dropped")
                except queue.Empty:
                    pass

    @staticmethod
    def _close(client: Any) -> None:
        try:
            client.close()
        except Exception:  # already broken; nothing left to release
            pass
        client._ws = None
