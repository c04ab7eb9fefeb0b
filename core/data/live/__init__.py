"""Live data: streamed quotes (Yahoo's WebSocket through yfinance's client) aggregated into
the forming bar. No Qt; yfinance and websockets load only when a stream starts.

* ``quotes``  — ``Quote`` and ``QuoteDecoder`` (yfinance's decoded ``PricingData`` dict ->
  quote, or None counted).
* ``stream``  — ``QuoteStream``: the client on a daemon thread, subscriptions, heartbeat,
  reconnect with ``Backoff``, state ``"connecting" | "live" | "polling"``.
* ``forming`` — ``FormingBars``: quotes -> the forming OHLCV bar per symbol at one interval;
  closed bars only ever come from the history fetch (``close_through``).
* ``throttle`` — ``Throttle``: at most N repaints/evaluations per second.

How the app wires them (see ``stream``'s docstring for the loop): with Yahoo as the source,
one ``QuoteStream`` for the union of the chart's and the watchlist's symbols; one
``FormingBars`` per interval shown; the status bar shows ``stream.state`` ("live" or
"polling"); the history poll keeps closing bars in every state, and runs more often while
the stream is not live. With other sources (CSV, bundled, synthetic) no stream runs.
"""
from core.data.live.backoff import Backoff
from core.data.live.forming import FormingBar, FormingBars
from core.data.live.quotes import Quote, QuoteDecoder
from core.data.live.stream import STATES, YAHOO_STREAM_URL, QuoteStream, StreamStats
from core.data.live.throttle import Throttle

__all__ = [
    "STATES",
    "YAHOO_STREAM_URL",
    "Backoff",
    "FormingBar",
    "FormingBars",
    "Quote",
    "QuoteDecoder",
    "QuoteStream",
    "StreamStats",
    "Throttle",
]
