"""Live-data benchmarks: incremental states and streamed quotes in the app.

* Engine: a batch's states are built once (``incremental_init`` / ``screen_init``); then one
  closed bar per symbol is appended (``incremental_update`` / ``screen_update``, timed on a
  fresh copy of the states each run, the copy untimed) or a forming bar evaluated
  (``incremental_forming`` / ``screen_forming``). The Rust rows are compared with the full
  recompute of the same batch (``compute_batch(..., tail=1)``), measured here too.
* State size: bytes per symbol of each engine's state at the default parameters.
* App: a WebSocket server on 127.0.0.1 streams quotes (Yahoo's frame format) to the app's
  ``LiveFeed`` through a real ``QuoteStream``; each quote's latency runs from the server's
  send to the paint of the watchlist viewport whose region covers that symbol's "Last"
  cell (and, for the charted symbol, to the chart's paint after ``update_data`` showed that
  price as its last bar, whichever is later). A 1 ms timer probe measures GUI stalls.

``run(repeats)`` returns the rows ``python -m benchmarks`` prints.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.engine_bench import walks
from benchmarks.timing import median_time, row
from core.backends.registry import Registry
from core.config import ATCConfig

SYMBOLS = 5000
BARS = 1500
STEP_TARGET_S = 2e-3            # one closed or forming bar, full ATC, 5000 symbols (Rust)
EMA_STEP_TARGET_S = 1e-3        # the same, EMA-only (numba)
SPEEDUP_TARGET = 70.0           # incremental update against the full recompute
STATE_TARGET_BYTES = 8 * 1024
LATENCY_TARGET_S = 0.050
STALL_TARGET_S = 0.016


# -- engine: incremental states -------------------------------------------------------------------
def next_bars(closes: np.ndarray, seed: int = 23) -> np.ndarray:
    """One more random-walk bar per symbol, (symbols, 1)."""
    rng = np.random.default_rng(seed)
    return closes[:, -1:] * np.exp(rng.normal(0.0, 0.015, (closes.shape[0], 1)))


def timed_on_copies(fn: Callable[[Any], object], state: Any, repeats: int) -> float:
    """Median time of ``fn(copy)``, each run on a fresh ``state.copy()`` made untimed."""
    work = [state]
    return median_time(lambda: fn(work[0]), repeats,
                       setup=lambda: work.__setitem__(0, state.copy()))


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def size_row(backend: str, nbytes: int, what: str) -> dict:
    """State size has no time: the bytes go in the note, the verdict in the memory check."""
    return row("incremental state size per symbol (default params)", backend, None, None,
               f"{nbytes:,} B per symbol, {what} (target ≤ {STATE_TARGET_BYTES // 1024} KB: "
               f"{_verdict(nbytes <= STATE_TARGET_BYTES)})",
               peak_mb=nbytes / 2**20, peak_target_mb=STATE_TARGET_BYTES / 2**20)


def rust_rows(registry: Registry, repeats: int, closes: np.ndarray, new: np.ndarray) -> list[dict]:
    rust, cfg = registry.get("rust"), ATCConfig()
    n, bars = closes.shape
    t_full = median_time(lambda: rust.compute_batch(closes, cfg, tail=1), max(3, repeats // 2))
    states, _ = rust.incremental_init(closes, cfg)
    t_update = timed_on_copies(lambda s: rust.incremental_update(s, new), states, repeats)
    forming = new[:, 0] * 1.001
    t_forming = median_time(lambda: rust.incremental_forming(states, forming), repeats)
    speedup = t_full / t_update
    return [
        row(f"{n}×{bars} full recompute, tail=1 (incremental baseline)", "rust", t_full, None,
            "what one new bar costs without states"),
        row(f"{n} symbols, 1 new closed bar, full ATC (incremental)", "rust", t_update, STEP_TARGET_S,
            f"{speedup:.0f}× faster than the full recompute (target ≥ {SPEEDUP_TARGET:.0f}×: "
            f"{_verdict(speedup >= SPEEDUP_TARGET)}); state copy untimed"),
        row(f"evaluate_forming {n} symbols, full ATC", "rust", t_forming, STEP_TARGET_S,
            f"{t_full / t_forming:.0f}× faster than the full recompute; states unchanged"),
        size_row("rust", int(states.nbytes_per_symbol()), "largest symbol, heap parts included"),
    ]


def numba_rows(registry: Registry, repeats: int, closes: np.ndarray, new: np.ndarray) -> list[dict]:
    from core.jit.incremental import screen_forming, screen_init, screen_update

    cfg = ATCConfig()
    n, bars = closes.shape
    numba = registry.get("numba")
    t_full = median_time(lambda: numba.compute_batch(closes, cfg, tail=1, mode="ema_only"),
                         max(3, repeats // 2))
    state, _ = screen_init(closes, cfg)
    t_update = timed_on_copies(lambda s: screen_update(s, new), state, repeats)
    forming = new[:, 0] * 1.001
    t_forming = median_time(lambda: screen_forming(state, forming), repeats)
    return [
        row(f"{n} symbols, 1 new bar, EMA-only (incremental)", "numba", t_update, EMA_STEP_TARGET_S,
            f"{t_full / t_update:.0f}× faster than the {n}×{bars} EMA-only batch "
            f"({t_full * 1e3:.0f} ms); state copy untimed"),
        row(f"EMA-only forming {n}", "numba", t_forming, EMA_STEP_TARGET_S, "state unchanged"),
        size_row("numba", int(state.nbytes_per_symbol), "EMA-only screening state"),
    ]


def engine_rows(repeats: int, symbols: int = SYMBOLS, bars: int = BARS) -> list[dict]:
    registry = Registry()
    closes = walks(symbols, bars, seed=11)
    new = next_bars(closes)
    rows: list[dict] = []
    if registry.probe("rust").available:
        rows += rust_rows(registry, repeats, closes, new)
    if registry.probe("numba").available:
        rows += numba_rows(registry, repeats, closes, new)
    return rows


# -- app: streamed quotes to painted cells ----------------------------------------------------------
@dataclass(frozen=True)
class StreamPlan:
    symbols: int = 500
    bars: int = 1500
    rate: float = 100.0          # quotes per second, all symbols together
    seconds: float = 10.0        # measured stream
    warmup_s: float = 2.0        # streamed first, not measured (first forming calls load code)
    chart_every: int = 10        # every n-th quote is the charted symbol's


#: Quotes carry prices in quarters: exact in the frame's float32 and in its decoded text, so
#: the price the app shows identifies the quote (symbol, quarters).
Key = tuple[str, int]


def quarters(price: float) -> int:
    return int(round(price * 4.0))


@dataclass
class Latencies:
    """Per quote (Key) perf_counter times of each stage, filled on the GUI thread except
    ``sent`` (the sender thread; single dict stores are atomic)."""

    sent: dict[Key, float] = field(default_factory=dict)
    picked: dict[Key, float] = field(default_factory=dict)     # taken off the stream's queue
    applied: dict[Key, float] = field(default_factory=dict)    # the model holds the price
    cell_painted: dict[Key, float] = field(default_factory=dict)
    chart_shown: dict[Key, float] = field(default_factory=dict)  # update_data with that last close
    chart_painted: dict[Key, float] = field(default_factory=dict)
    off_screen: int = 0          # applied to a row the viewport does not show (no paint)

    def clear(self) -> None:
        for name in ("sent", "picked", "applied", "cell_painted", "chart_shown", "chart_painted"):
            getattr(self, name).clear()
        self.off_screen = 0


class PaintTracker:
    """Hooks the window: the forming signal (after the session applied it), the chart's
    ``update_data`` and the paint events of the watchlist and chart viewports."""

    def __init__(self, window: Any, charted: str) -> None:
        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtWidgets import QGraphicsView

        from atc_desktop.watchlist.columns import COLUMN_INDEX

        self.lat = Latencies()
        self.session = window.session
        self.charted = charted
        self._table = window.watchlist.table
        self._last_col = COLUMN_INDEX["last"]
        self._cell_waiting: dict[str, Key] = {}
        self._chart_waiting: list[Key] = []
        tracker = self

        class Filter(QObject):
            def eventFilter(self, obj: Any, ev: Any) -> bool:  # noqa: N802 - Qt's name
                if ev.type() == QEvent.Type.Paint:
                    tracker._painted(obj, ev)
                return False

        self._filter = Filter()
        self._table.viewport().installEventFilter(self._filter)
        chart = window.chart_pane.chart()
        self._chart_viewports = {v.viewport() for v in chart.findChildren(QGraphicsView)}
        for vp in self._chart_viewports:
            vp.installEventFilter(self._filter)
        live = self.session.live
        fold = live._fold
        update_data = chart.update_data

        def picked(bars: Any, quote: Any) -> None:
            self.lat.picked.setdefault((quote.symbol, quarters(quote.price)), time.perf_counter())
            fold(bars, quote)

        def shown(bars: Any, result: Any) -> None:
            update_data(bars, result)
            key = (bars.symbol, quarters(float(bars.close[-1])))
            if key in self.lat.sent and key not in self.lat.chart_shown:
                self.lat.chart_shown[key] = time.perf_counter()
                self._chart_waiting.append(key)

        live._fold = picked                 # instance attributes: the classes stay untouched
        chart.update_data = shown
        live.forming.connect(self._applied)  # runs after the session's own slot

    def _applied(self, bars: dict) -> None:
        now = time.perf_counter()
        for sym in bars:
            st = self.session.model.state_of(sym)
            if st is None or not np.isfinite(st.last):
                continue
            key = (sym, quarters(st.last))
            if key in self.lat.sent and key not in self.lat.applied:
                self.lat.applied[key] = now
                self._cell_waiting[sym] = key

    def _painted(self, obj: Any, ev: Any) -> None:
        now = time.perf_counter()
        if obj in self._chart_viewports:
            for key in self._chart_waiting:
                self.lat.chart_painted[key] = now
            self._chart_waiting.clear()
            return
        region = ev.region() if hasattr(ev, "region") else None
        view = self._table.viewport().rect()
        model, proxy = self.session.model, self._table.model()
        for sym, key in list(self._cell_waiting.items()):
            idx = proxy.mapFromSource(model.index(model.row_of(sym), self._last_col))
            rect = self._table.visualRect(idx)
            if rect.isEmpty() or not rect.intersects(view):
                self.lat.off_screen += 1
                del self._cell_waiting[sym]
            elif region is None or region.intersects(rect):
                self.lat.cell_painted[key] = now
                del self._cell_waiting[sym]


def quote_schedule(plan: StreamPlan, symbols: list[str], charted: str, start: dict[str, int],
                   count: int) -> list[Key]:
    """``count`` quotes round-robin over the symbols, every ``chart_every``-th the charted
    symbol's; each symbol's price climbs a quarter per quote from ``start`` (updated)."""
    others = [s for s in symbols if s != charted]
    out: list[Key] = []
    j = 0
    for i in range(count):
        if i % plan.chart_every == 0 or not others:
            sym = charted
        else:
            sym, j = others[j % len(others)], j + 1
        start[sym] += 1
        out.append((sym, start[sym]))
    return out


def send_paced(server: Any, quotes: list[Key], rate: float, sent: dict[Key, float]) -> None:
    """Send the quotes at ``rate`` per second, each stamped (frame time, ``sent``) as it leaves."""
    from tests.data.test_live_stream import pricing_frame

    t0 = time.perf_counter()
    for i, (sym, q) in enumerate(quotes):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        frame = pricing_frame(sym, q / 4.0, int(time.time() * 1000))
        sent[(sym, q)] = time.perf_counter()
        server.send(frame)


def run_loop(ms: int) -> None:
    """Run the Qt event loop for ``ms`` (timers and paints as in the app)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def stream_once(server: Any, plan: StreamPlan, quotes: list[Key], lat: Latencies,
                seconds: float) -> None:
    sender = threading.Thread(target=send_paced, args=(server, quotes, plan.rate, lat.sent),
                              daemon=True, name="bench-quote-sender")
    sender.start()
    run_loop(int(seconds * 1000) + 600)          # + the last throttle period and its paint
    sender.join(5)
    run_loop(50)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if np.isfinite(seconds) else "-"


def latency_rows(plan: StreamPlan, lat: Latencies, charted: str, backend: str, stall: float) -> list[dict]:
    total, shown, stages = [], [], {"stream → GUI": [], "throttle + compute + apply": [],
                                    "apply → paint": []}
    chart_only = []
    superseded = sum(1 for k in lat.sent if k not in lat.applied)
    for key, t_sent in lat.sent.items():
        painted = lat.cell_painted.get(key)
        if key[0] == charted:
            chart = lat.chart_painted.get(key)
            if chart is not None:
                chart_only.append(chart - t_sent)
            painted = None if painted is None or chart is None else max(painted, chart)
        if painted is None:
            continue
        total.append(painted - t_sent)
        shown.append(key)
        if key in lat.picked:
            stages["stream → GUI"].append(lat.picked[key] - t_sent)
            stages["throttle + compute + apply"].append(lat.applied[key] - lat.picked[key])
        stages["apply → paint"].append(painted - lat.applied[key])
    median = statistics.median(total) if total else None
    p95 = _pct(total, 95)
    label = (f"quote → repainted watchlist cell and chart bar, {plan.rate:g} quotes/s over "
             f"{plan.symbols} symbols")
    split = ", ".join(f"{name} {_ms(statistics.median(v)) if v else '-'}" for name, v in stages.items())
    from atc_desktop.live_feed import MAX_UPDATES_PER_S

    counts = (f"{len(total)} of {len(lat.sent)} quotes painted ({superseded} replaced by a newer "
              f"quote before the {MAX_UPDATES_PER_S:g}/s release, {lat.off_screen} on rows out "
              f"of view)")
    return [
        row(label, backend, median, LATENCY_TARGET_S,
            f"median split: {split}; chart bar alone {_ms(statistics.median(chart_only)) if chart_only else '-'}; "
            f"{counts}"),
        row(label + ", p95", backend, p95 if total else None, LATENCY_TARGET_S,
            f"one {plan.seconds:g} s stream, every {plan.chart_every}th quote for the charted symbol"),
        row(f"streaming {plan.rate:g} quotes/s over {plan.symbols} symbols: longest GUI stall", backend,
            stall, STALL_TARGET_S, "1 ms timer probe over the measured stream"),
    ]


def stream_rows(plan: StreamPlan = StreamPlan()) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from atc_desktop.app_settings import AppSettings, SettingsFile
    from atc_desktop.paths import AppPaths
    from benchmarks.app_bench import StallProbe, SteppingProvider, _window, wait_for
    from core.data.live import QuoteStream
    from tests.data.test_live_stream import StreamServer

    provider = SteppingProvider(plan.symbols, plan.bars + 8, visible=plan.bars)
    server = StreamServer()
    with tempfile.TemporaryDirectory(prefix="atc-live-bench-") as tmp:
        home = Path(tmp)
        paths = AppPaths.resolve(home).ensure()
        SettingsFile(paths.settings_file).save(AppSettings(source="yahoo", replay=False))
        app, window = _window(home, provider)    # 1440×900, shown
        session = window.session
        try:
            for _ in range(2):                     # store filled, screening states built
                session.refresh.request(fetch=True)
                wait_for(app, session.refresh.refreshed)
            symbols = session.model.symbols()
            charted = symbols[0]
            window.watchlist.select_symbol(charted)
            chart_backend = wait_for(app, session.analysis.analysed)[0].result.backend
            tracker = PaintTracker(window, charted)
            session.live._stream_factory = lambda: QuoteStream(server.url, poll_s=0.01)
            session.live.restart()
            deadline = time.perf_counter() + 10
            while session.live.state != "live" and time.perf_counter() < deadline:
                run_loop(20)
            if session.live.state != "live":
                raise RuntimeError(f"the quote stream did not connect (state {session.live.state})")
            price = {s: quarters(session.model.state_of(s).last) for s in symbols}
            warm = quote_schedule(plan, symbols, charted, price, int(plan.rate * plan.warmup_s))
            stream_once(server, plan, warm, tracker.lat, plan.warmup_s)
            tracker.lat.clear()
            measured = quote_schedule(plan, symbols, charted, price, int(plan.rate * plan.seconds))
            probe = StallProbe()
            probe.start()
            stream_once(server, plan, measured, tracker.lat, plan.seconds)
            stall = probe.stop()
            return latency_rows(plan, tracker.lat, charted, f"numba + {chart_backend}", stall)
        finally:
            window.close()
            server.close()


def run(repeats: int = 7, symbols: int = SYMBOLS, bars: int = BARS,
        plan: StreamPlan = StreamPlan()) -> list[dict]:
    """Engine rows (median of ``repeats``), then the app's stream rows (one measured stream:
    medians over its quotes)."""
    return [*engine_rows(repeats, symbols, bars), *stream_rows(plan)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    for r in run(int(args[0]) if args else 7):
        print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
