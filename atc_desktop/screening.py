"""The refresh pipeline, without Qt: fetch → store → one screening batch call (one family,
EMA by default) → row values.

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
from atc_desktop.kernel_warmup import COMPILING
from atc_desktop.screen_states import Screened, ScreenStates
from atc_desktop.watchlist.columns import Cell, cells_of
from atc_desktop.watchlist.row import RowState
from core.backends.registry import Registry
from core.config import ATCConfig
from core.data.cleaning import POLICIES
from core.data.providers.base import NoBarsYet
from core.errors import ProviderUnavailable
from core.kernel_params import family_mode
from core.windows import history_start

log = logging.getLogger(__name__)

#: Bars at the end of each series whose events are reported (alerts look for new bars).
EVENT_TAIL = 8
#: Cleaning actions that drop bars are warnings; those that adjust a bar are information.
DROPPING = frozenset(kind for kind, policy in POLICIES.items() if policy.endswith("dropped"))


@dataclass(frozen=True)
class ScreenRequest:
    request_id: int
    symbols: tuple[str, ...]
    interval: str
    config: ATCConfig
    history_bars: int
    fetch: bool = True
    backend: str | None = "numba"
    #: numba's screening kernels are compiled (``KernelWarmup.ready``); until then the
    #: screening runs on Rust, never waiting for a compile.
    kernels_ready: bool = True
    #: The family screened alone. EMA keeps the incremental state (``ScreenStates``);
    #: another family is its one-family batch over the history window each refresh.
    family: str = "EMA"


@dataclass(frozen=True)
class SignalEvent:
    """A long/short event (spec §9.3) on one bar of one symbol."""

    symbol: str
    interval: str
    kind: str            # "long" | "short"
    bar_time: int        # ns UTC
    source: str          # "screen" (one-family screening) | "atc" (full ATC)
    value: float
    tz: str = "UTC"
    family: str = ""     # the screened family, for source "screen"


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
    fetched: bool = False                # the refresh asked the provider for new bars
    #: A provider-wide failure, said once ("cannot reach Yahoo Finance — showing cached
    #: data from 14:02"), and the provider's own words for it; empty when the fetch worked.
    provider_problem: str = ""
    provider_detail: str = ""
    kernels_compiling: bool = False      # screened on Rust while numba compiles


class DataNotes:
    """What fetches said about each symbol's data besides its bars, kept across refreshes
    (an incremental fetch re-reads only the newest bars, a re-screen fetches nothing): the
    cleaner's actions and "no bars yet". Reset when the source or interval changes. Only
    the screening job touches it."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self.cleaned: dict[str, str] = {}
        self.waiting: dict[str, str] = {}

    def for_inputs(self, source: str, interval: str) -> None:
        if (source, interval) != self._key:
            self._key = (source, interval)
            self.cleaned, self.waiting = {}, {}

    def note(self, symbol: str) -> str:
        return "\n".join(n for n in (self.waiting.get(symbol, ""), self.cleaned.get(symbol, "")) if n)


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


def run_screen(req: ScreenRequest, data: DataService, registry: Registry,
               states: ScreenStates | None = None, notes: DataNotes | None = None) -> ScreenOutcome:
    """Fetch (when asked), then screen every symbol's stored bars.

    With ``states`` the screening column is kept live: only bars new since the last
    refresh are computed (``ScreenStates``); without it, or should that fail, the whole
    stored window is screened in one batch call on the registry's backends. While numba's
    kernels compile (``req.kernels_ready`` false) the batch runs on Rust.

    A provider-wide failure (no network, a rate-limit cool-down) is reported once, in
    ``provider_problem``: every row is stale with that reason, none carries an error. A
    symbol that fails alone carries its own error; the others are unaffected. A symbol the
    source has no bars for yet is no error: its row says so in its note. Bars stored from
    another source than the chosen one are shown stale, naming their source.
    """
    symbols = list(req.symbols)
    out = ScreenOutcome(req.request_id, rows=[])
    notes = notes if notes is not None else DataNotes()
    notes.for_inputs(data.source, req.interval)
    failures: dict[str, str] = {}
    rewritten: dict[str, str] = {}
    t0 = time.perf_counter()
    if req.fetch and symbols:
        try:
            report = data.refresh(symbols, req.interval)
            rewritten = dict(getattr(report, "rewritten", {}) or {})
            _take_notes(notes, report, rewritten)
            failures.update({s: str(r) for s, r in dict(report.failures).items()
                             if not isinstance(r, NoBarsYet)})
        except ProviderUnavailable as exc:  # said once, in the banner; the cache is shown
            out.provider_problem = data.unavailable(exc, symbols, req.interval)
            out.provider_detail = str(exc)
        except Exception as exc:            # the whole provider failed: keep the cache
            msg = f"fetch failed: {type(exc).__name__}: {exc}"
            log.warning("%s (%d symbols); showing cached bars", msg, len(symbols))
            failures = {s: msg for s in symbols}
    out.fetch_s = time.perf_counter() - t0
    out.fetched = req.fetch
    out.notes.extend(f"{s}: {why}" for s, why in rewritten.items())

    try:
        stale = data.staleness(symbols, req.interval)
        source = _current_source(data)
        t1 = time.perf_counter()
        screened: dict[str, Screened] | None = None
        if states is not None and req.family != "EMA":
            states.forget()                 # the live state is EMA's: not this column's
        elif states is not None and req.kernels_ready:
            try:
                screened = states.advance(registry.get("numba"), data.bar_source(req.interval), symbols,
                                          req.interval, req.config, req.history_bars, rewritten)
                out.backend = "numba"
                rebuilt = len(states.rebuilt_last)
                out.notes.append(f"EMA-only: incremental state ({len(screened) - rebuilt} "
                                 f"advanced, {rebuilt} rebuilt from the store)")
            except Exception as exc:       # the live state failed: recompute this refresh
                log.warning("incremental screening failed (%s: %s); recomputing the batch",
                            type(exc).__name__, exc)
                states.forget()
        if screened is None and not req.kernels_ready:
            out.kernels_compiling = True
            out.notes.append(COMPILING)
            screened = _screen_batch(req, data, registry, out, backend="rust")
        elif screened is None:
            # A new configuration's specialised kernel (numba) builds in the background and
            # the batch runs on the generic one meanwhile: new values at once, not after a
            # compile of several seconds.
            registry.prepare(req.config, family_mode(req.family), backend=req.backend)
            screened = _screen_batch(req, data, registry, out, backend=req.backend)
        out.compute_s = time.perf_counter() - t1
    except Exception as exc:                # a corrupt or unreadable store
        msg = f"bar store unreadable: {type(exc).__name__}: {exc}"
        log.error(msg)
        out.error = msg
        out.rows = [RowState(s, error=msg, stale=True, stale_reason=msg, interval=req.interval,
                             family=req.family) for s in symbols]
        out.failures = {s: msg for s in symbols}
        out.cells = [cells_of(r) for r in out.rows]
        return out

    errors: dict[str, str] = {}
    for s in symbols:
        got = screened.get(s)
        waiting = notes.waiting.get(s, "")
        if got is not None and got.error:
            errors[s] = got.error
        elif got is None and s in failures:
            errors[s] = failures[s]
        elif got is None and req.fetch and not waiting and not out.provider_problem:
            errors[s] = f"no {req.interval} bars for {s}"
        error = errors.get(s) or failures.get(s, "")
        why_stale = _why_stale(s, got, req, stale, failures, out.provider_problem, waiting, source,
                               data.replay)
        base: dict[str, Any] = dict(symbol=s, interval=req.interval, error=error,
                                    stale=bool(why_stale), stale_reason=why_stale, note=notes.note(s),
                                    family=req.family)
        if got is not None:
            bars = got.bars
            close = bars.close
            prev = float(close[-2]) if len(close) > 1 else math.nan
            base.update(last=float(close[-1]), data_time=int(bars.timestamps[-1]), bars=got.n_bars,
                        change_pct=(float(close[-1]) / prev - 1.0) * 100.0 if prev > 0 else math.nan,
                        source=_source_label(bars, data.replay), synthetic=bool(bars.synthetic),
                        tz=bars.tz)
            if not got.error:
                base.update(signal=got.signal, direction=got.direction,
                            last_event=got.last_event, bars_since=got.bars_since_event)
                out.events.extend(_events(s, req.interval, bars.timestamps, got.new_long,
                                          got.new_short, got.new_signals, "screen", bars.tz,
                                          req.family))
        out.rows.append(RowState(**base))
    out.failures = {s: e for s, e in errors.items()} | {s: f for s, f in failures.items() if s not in errors}
    out.cells = [cells_of(r) for r in out.rows]
    return out


def _current_source(data: DataService) -> str:
    try:
        return data.source_name
    except Exception:                       # the provider cannot even be built: no claim
        return ""


def _why_stale(symbol: str, got: Screened | None, req: ScreenRequest, stale: dict[str, str],
               failures: dict[str, str], problem: str, waiting: str, source: str,
               replay: bool) -> str:
    """Why a row's numbers are not current ('' when they are), most important first."""
    if got is None and not req.fetch and symbol not in failures and not waiting:
        return "not fetched yet"
    parts = [problem or failures.get(symbol, "")]
    shown = str(getattr(got.bars, "source", "")) if got is not None else ""
    if got is not None and shown and source and shown != source:
        parts.append(f"these are {_source_label(got.bars, replay)} bars: the {source} source "
                     f"has not delivered {symbol}")
    if got is not None or not waiting:
        parts.append(stale.get(symbol, ""))
    return "; ".join(p for p in parts if p)


def _take_notes(notes: DataNotes, report: Any, rewritten: dict[str, str]) -> None:
    """Record (and log, when new) what this fetch said beyond bars: cleaning actions as
    ``atc fetch`` prints them, and symbols without bars yet."""
    for sym, why in dict(report.failures).items():
        if isinstance(why, NoBarsYet):
            text = f"no bars yet: {why}"
            if sym not in notes.waiting:        # said when it begins (the day moves on)
                log.info("%s: %s", sym, text)
            notes.waiting[sym] = text
    for sym in report.updated:
        notes.waiting.pop(sym, None)
    for sym, cleaning in dict(report.cleaning).items():
        if cleaning.is_clean:
            if sym in rewritten:            # a whole new history came back clean
                notes.cleaned.pop(sym, None)
            continue
        text = f"cleaned: {cleaning.summary()}"
        if notes.cleaned.get(sym) != text:
            log.log(logging.WARNING if DROPPING & set(cleaning.counts) else logging.INFO, "%s", text)
        notes.cleaned[sym] = text


def _screen_batch(req: ScreenRequest, data: DataService, registry: Registry,
                  out: ScreenOutcome, backend: str | None) -> dict[str, Screened]:
    """Every symbol's window (``core.windows.history_start``) in one batch call: a
    ``Screened`` per symbol with bars (its ``error`` says why it has no values)."""
    loaded = data.load_many(list(req.symbols), req.interval)
    names: list[str] = []
    closes: list[np.ndarray] = []
    result: dict[str, Screened] = {}
    for s in req.symbols:
        bars = loaded.get(s)
        if bars is None:
            continue
        close = np.asarray(bars.close[history_start(len(bars), req.history_bars):], dtype=np.float64)
        problem = _usable(close)
        if problem:
            result[s] = Screened(bars, close.shape[0], error=f"{s}: {problem}")
            continue
        names.append(s)
        closes.append(close)
    if not names:
        return result
    tail = min(EVENT_TAIL, min(c.shape[0] for c in closes))
    try:
        batch = registry.compute_batch(right_aligned(closes), req.config, tail=tail,
                                       mode=family_mode(req.family), backend=backend)
    except Exception as exc:            # every backend failed, or bad parameters
        msg = f"screening failed: {type(exc).__name__}: {exc}"
        log.error(msg)
        out.error = msg
        return result | {s: Screened(loaded[s], c.shape[0], error=msg) for s, c in zip(names, closes)}
    out.backend = batch.backend
    out.notes.extend(batch.notes)
    for i, s in enumerate(names):
        result[s] = Screened(
            bars=loaded[s], n_bars=closes[i].shape[0], signal=float(batch.signals[i, 0, -1]),
            family_equity=float(batch.family_equities[i, 0, -1]),
            direction=float(batch.direction[i, -1]), last_event=int(batch.last_event[i]),
            bars_since_event=int(batch.bars_since_event[i]), new_signals=batch.signals[i, 0],
            new_long=batch.long[i], new_short=batch.short[i])
    return result


def _events(symbol: str, interval: str, timestamps: np.ndarray, long: np.ndarray,
            short: np.ndarray, values: np.ndarray, source: str, tz: str,
            family: str = "") -> list[SignalEvent]:
    """Events inside the last ``len(long)`` bars, with their bar times."""
    k = long.shape[0]
    ts = timestamps[-k:]
    found = []
    for j in np.flatnonzero(np.asarray(long) | np.asarray(short)):
        found.append(SignalEvent(symbol, interval, "long" if long[j] else "short",
                                 int(ts[j]), source, float(values[j]), tz, family))
    return found


def atc_events(bars: Any, result: Any, tail: int = EVENT_TAIL) -> list[SignalEvent]:
    """Events of a full ATC result on its last ``tail`` bars."""
    k = min(tail, result.bars)
    return _events(bars.symbol, bars.interval, bars.timestamps, result.long[-k:], result.short[-k:],
                   result.average_signal[-k:], "atc", bars.tz)
