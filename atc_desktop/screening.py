"""The refresh pipeline, without Qt: fetch → store → one EMA-only batch call → row values.

Runs on a worker thread (see ``workers.py``); returns plain data the GUI applies.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atc_desktop.data_service import DataService
from atc_desktop.watchlist.columns import Cell, cells_of
from atc_desktop.watchlist.row import RowState
from core.backends.registry import Registry
from core.config import ATCConfig

log = logging.getLogger(__name__)

#: Bars at the end of each series whose events are reported (alerts look for new bars).
EVENT_TAIL = 8


@dataclass(frozen=True)
class ScreenRequest:
    request_id: int
    symbols: tuple[str, ...]
    interval: str
    config: ATCConfig
    history_bars: int
    fetch: bool = True
    backend: str | None = "numba"


@dataclass(frozen=True)
class SignalEvent:
    """A long/short event (spec §9.3) on one bar of one symbol."""

    symbol: str
    interval: str
    kind: str            # "long" | "short"
    bar_time: int        # ns UTC
    source: str          # "screen" (EMA-only) | "atc" (full ATC)
    value: float
    tz: str = "UTC"


@dataclass
class ScreenOutcome:
    request_id: int
    rows: list[RowState]
    cells: list[tuple[Cell, ...]] = field(default_factory=list)   # formatted off the GUI thread
    events: list[SignalEvent] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    backend: str = ""
    notes: list[str] = field(default_factory=list)
    fetch_s: float = 0.0
    compute_s: float = 0.0
    error: str = ""


def compile_in_background(registry: Registry) -> None:
    """Ask the numba backend to build a new configuration's specialised EMA-only kernel on a
    background thread and screen with its generic kernel meanwhile: a parameter change then
    shows new values at once instead of after a compile of several seconds."""
    try:
        backend = registry.get("numba")
        if getattr(backend, "background_compile", True):
            return               # already asked, or a backend without the option
        # Load the generic kernel first: a background compile holds numba's compiler lock,
        # and the generic kernel must not wait behind it.
        tiny = np.linspace(10.0, 11.0, 64).reshape(1, 64)
        backend.compute_batch(tiny, ATCConfig(use_codegen_specialization=False), tail=1,
                              mode="ema_only")
    except Exception:            # unavailable or failing: the registry falls back, records why
        return
    backend.background_compile = True


def right_aligned(closes: list[np.ndarray]) -> np.ndarray:
    """The (symbols, bars) batch of the array contract: NaN-left-padded, right-aligned."""
    width = max(c.shape[0] for c in closes)
    out = np.full((len(closes), width), np.nan)
    for i, c in enumerate(closes):
        out[i, width - c.shape[0]:] = c
    return out


def _usable(close: np.ndarray) -> str:
    if close.shape[0] < 2:
        return f"only {close.shape[0]} bar(s); at least 2 are needed"
    bad = ~(np.isfinite(close) & (close > 0))
    if bad.any():
        return f"close at bar {int(np.argmax(bad))} is {close[int(np.argmax(bad))]!r}"
    return ""


def _source_label(bars: Any, replay: bool) -> str:
    src = getattr(bars, "source", "")
    if src == "bundled" and replay:
        return "bundled replay"
    return src


def run_screen(req: ScreenRequest, data: DataService, registry: Registry) -> ScreenOutcome:
    """Fetch (when asked), load the stored bars and screen them all in one batch call.

    A provider-wide failure (network, rate limit) becomes each symbol's error and the
    cached bars are screened anyway, marked stale. A symbol that fails alone carries its
    own error; the others are unaffected.
    """
    compile_in_background(registry)
    symbols = list(req.symbols)
    out = ScreenOutcome(req.request_id, rows=[])
    failures: dict[str, str] = {}
    t0 = time.perf_counter()
    if req.fetch and symbols:
        try:
            report = data.refresh(symbols, req.interval)
            failures.update({s: str(r) for s, r in dict(report.failures).items()})
        except Exception as exc:            # the whole provider failed: keep the cache
            msg = f"fetch failed: {type(exc).__name__}: {exc}"
            log.warning("%s (%d symbols); showing cached bars", msg, len(symbols))
            failures = {s: msg for s in symbols}
    out.fetch_s = time.perf_counter() - t0

    try:
        loaded = data.load_many(symbols, req.interval)
        stale = data.staleness(symbols, req.interval)
    except Exception as exc:                # a corrupt or unreadable store
        msg = f"bar store unreadable: {type(exc).__name__}: {exc}"
        log.error(msg)
        out.error = msg
        out.rows = [RowState(s, error=msg, stale=True, stale_reason=msg, interval=req.interval)
                    for s in symbols]
        out.failures = {s: msg for s in symbols}
        out.cells = [cells_of(r) for r in out.rows]
        return out

    names: list[str] = []
    closes: list[np.ndarray] = []
    errors: dict[str, str] = {}
    for s in symbols:
        bars = loaded.get(s)
        if bars is None:
            if req.fetch or s in failures:
                errors[s] = failures.get(s) or f"no {req.interval} bars for {s}"
            continue
        close = np.asarray(bars.close[-req.history_bars:], dtype=np.float64)
        problem = _usable(close)
        if problem:
            errors[s] = f"{s}: {problem}"
            continue
        names.append(s)
        closes.append(close)

    t1 = time.perf_counter()
    batch = None
    if names:
        try:
            batch = registry.compute_batch(right_aligned(closes), req.config,
                                           tail=min(EVENT_TAIL, min(c.shape[0] for c in closes)),
                                           mode="ema_only", backend=req.backend)
            out.backend = batch.backend
            out.notes = list(batch.notes)
        except Exception as exc:            # every backend failed, or bad parameters
            msg = f"screening failed: {type(exc).__name__}: {exc}"
            log.error(msg)
            out.error = msg
            errors.update({s: msg for s in names})
    out.compute_s = time.perf_counter() - t1

    index = {s: i for i, s in enumerate(names)}
    for s in symbols:
        bars = loaded.get(s)
        error = errors.get(s) or failures.get(s, "")
        why_stale = stale.get(s, "") if bars is not None or req.fetch else "not fetched yet"
        if s in failures:
            why_stale = failures[s] + (f"; {why_stale}" if why_stale else "")
        base: dict[str, Any] = dict(symbol=s, interval=req.interval, error=error,
                                    stale=bool(why_stale), stale_reason=why_stale)
        if bars is not None:
            close = bars.close
            n = min(len(bars), req.history_bars)
            prev = float(close[-2]) if len(close) > 1 else math.nan
            base.update(last=float(close[-1]), data_time=int(bars.timestamps[-1]), bars=n,
                        change_pct=(float(close[-1]) / prev - 1.0) * 100.0 if prev > 0 else math.nan,
                        source=_source_label(bars, data.replay), synthetic=bool(bars.synthetic),
                        tz=bars.tz)
        i = index.get(s)
        if batch is not None and i is not None:
            sig = float(batch.signals[i, 0, -1])
            base.update(signal=sig, direction=float(batch.direction[i, -1]),
                        last_event=int(batch.last_event[i]), bars_since=int(batch.bars_since_event[i]))
            assert bars is not None
            out.events.extend(_events(s, req.interval, bars.timestamps, batch.long[i], batch.short[i],
                                      batch.signals[i, 0], "screen", bars.tz))
        out.rows.append(RowState(**base))
    out.failures = {s: e for s, e in errors.items()} | {s: f for s, f in failures.items() if s not in errors}
    out.cells = [cells_of(r) for r in out.rows]
    return out


def _events(symbol: str, interval: str, timestamps: np.ndarray, long: np.ndarray,
            short: np.ndarray, values: np.ndarray, source: str, tz: str) -> list[SignalEvent]:
    """Events inside the last ``len(long)`` bars, with their bar times."""
    k = long.shape[0]
    ts = timestamps[-k:]
    found = []
    for j in np.flatnonzero(np.asarray(long) | np.asarray(short)):
        found.append(SignalEvent(symbol, interval, "long" if long[j] else "short",
                                 int(ts[j]), source, float(values[j]), tz))
    return found


def atc_events(bars: Any, result: Any, tail: int = EVENT_TAIL) -> list[SignalEvent]:
    """Events of a full ATC result on its last ``tail`` bars."""
    k = min(tail, result.bars)
    return _events(bars.symbol, bars.interval, bars.timestamps, result.long[-k:], result.short[-k:],
                   result.average_signal[-k:], "atc", bars.tz)
