"""The watchlist's screening column, kept live between refreshes (no Qt).

Each symbol's EMA-only state (``core.jit.incremental``) lives in one batch state, a row per
symbol. A refresh reads only the bars stored after a symbol's last screened bar and steps
the state through them: O(new bars) per symbol instead of a recompute. A symbol's row is
rebuilt from its stored history — never patched — when

* it is new, or the parameters, interval or history setting changed (every row);
* its stored history no longer continues the state: fewer bars than screened, the last
  screened bar gone or its close changed (a split or dividend rewrote the adjusted
  history), or the refresh says the history was rewritten;
* the computation's start moves to the next block (``core.windows.history_start``).

Because the start depends only on the number of stored bars, a state grown bar by bar
equals what a restart computes from the same store.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from core.config import ATCConfig
from core.jit.incremental import ScreenState
from core.kernel_params import kernel_params
from core.windows import history_start


@dataclass
class _Row:
    """Where a symbol's state stands in its stored series."""

    row: int
    start: int              # index of the first stored bar the state was computed from
    start_ts: int
    n_stored: int           # stored bars the state has seen (start … n_stored − 1)
    last_ts: int
    last_close: float


@dataclass
class Screened:
    """One symbol after a refresh: its latest stored bars and its screening outputs."""

    bars: Any                       # core.data.Bars: at least the bars new to the state
    n_bars: int                     # bars the state covers (start … last)
    signal: float = float("nan")
    family_equity: float = float("nan")
    direction: float = float("nan")
    last_event: int = 0
    bars_since_event: int = -1
    #: Per bar of ``bars`` the state reported on this refresh (new bars, or the last few
    #: of a rebuild): EMA_Signal, long, short.
    new_signals: np.ndarray = field(default_factory=lambda: np.empty(0))
    new_long: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    new_short: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    rebuilt: bool = False
    error: str = ""                 # why the bars could not be screened (values are NaN)


class ScreenStates:
    """EMA-only screening states of the watchlist's symbols for one set of inputs."""

    def __init__(self, report_tail: int = 8) -> None:
        self.report_tail = report_tail
        self._key: tuple[object, ...] | None = None
        self._state: ScreenState | None = None
        self._rows: dict[str, _Row] = {}
        self.rebuilt_last: set[str] = set()      # symbols rebuilt on the last advance
        self._engine: Any = None
        # advance() runs on the screening job, forming() on the GUI thread.
        self._lock = threading.RLock()

    def forget(self, symbols: Iterable[str] | None = None) -> None:
        """Rebuild these symbols (all of them with None) on the next advance."""
        with self._lock:
            if symbols is None:
                self._key, self._state, self._rows = None, None, {}
                return
            for s in symbols:
                self._rows.pop(s, None)

    def advance(self, engine: Any, store: Any, symbols: list[str], interval: str,
                config: ATCConfig, history_bars: int,
                rewritten: Iterable[str] = ()) -> dict[str, Screened]:
        """Bring every symbol with stored bars up to date; symbols without are absent.

        ``engine`` computes the states (``screen_init``/``screen_update``: the numba
        backend)."""
        with self._lock:
            return self._advance(engine, store, symbols, interval, config, history_bars, rewritten)

    def forming(self, closes: dict[str, float]) -> dict[str, tuple[float, float]] | None:
        """(EMA_Signal, direction) of each symbol's forming bar at ``closes``, the state
        unchanged; None while a refresh is updating the state (try the next tick)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._state is None:
                return {}
            rows = {s: self._rows[s].row for s in closes if s in self._rows}
            if not rows:
                return {}
            forming = np.full(self._state.symbols, np.nan)
            for s, r in rows.items():
                forming[r] = closes[s]
            out = self._engine.screen_forming(self._state, forming)
            return {s: (float(out.signals[r, 0, 0]), float(out.direction[r, 0])) for s, r in rows.items()}
        finally:
            self._lock.release()

    def _advance(self, engine: Any, store: Any, symbols: list[str], interval: str,
                 config: ATCConfig, history_bars: int, rewritten: Iterable[str]) -> dict[str, Screened]:
        self._engine = engine
        params = kernel_params(config, "ema_only")
        key = (interval, id(params), history_bars)
        if key != self._key:
            self.forget()
            self._key = key
        self.forget(rewritten)
        self._rows = {s: r for s, r in self._rows.items() if s in set(symbols)}
        self._compact()
        out: dict[str, Screened] = {}
        rebuild: dict[str, Any] = {}
        updates: dict[str, Any] = {}
        for sym in symbols:
            info = store.info(sym, interval)
            if info is None or info.n_bars < 2:
                self._rows.pop(sym, None)
                continue
            row = self._rows.get(sym)
            cont = self._continuation(store, sym, interval, info, row, history_bars)
            if cont is None:
                rebuild[sym] = store.load(sym, interval)
            else:
                updates[sym] = cont
        self.rebuilt_last = set(rebuild)
        self._rebuild(rebuild, config, history_bars, out)
        self._update(updates, out)
        return out

    # -- the two paths --------------------------------------------------------------------------
    def _continuation(self, store: Any, sym: str, interval: str, info: Any, row: _Row | None,
                      history_bars: int) -> tuple[Any, int] | None:
        """(the stored bars from the state's last bar on, how many of them are new), or
        None when the state must be rebuilt (see the module docstring)."""
        if row is None or self._state is None:
            return None
        new = info.n_bars - row.n_stored
        if new < 0 or history_start(info.n_bars, history_bars) != row.start:
            return None
        bars = store.load(sym, interval, last=max(new + 1, 2))
        if bars is None or len(bars) < new + 1:
            return None
        k = len(bars) - new - 1                 # the state's last bar within ``bars``
        if int(bars.timestamps[k]) != row.last_ts or float(bars.close[k]) != row.last_close:
            return None
        return bars, new

    def _rebuild(self, loaded: dict[str, Any], config: ATCConfig, history_bars: int,
                 out: dict[str, Screened]) -> None:
        if not loaded:
            return
        names = list(loaded)
        starts = [history_start(len(loaded[s]), history_bars) for s in names]
        closes = [np.asarray(loaded[s].close[st:], dtype=np.float64) for s, st in zip(names, starts)]
        width = max(c.shape[0] for c in closes)
        batch = np.full((len(names), width), np.nan)
        for i, c in enumerate(closes):
            batch[i, width - c.shape[0]:] = c
        tail = min(self.report_tail, width)
        fresh, result = self._engine.screen_init(batch, config, tail=tail)
        rows = self._place(names, fresh)
        for i, (sym, st) in enumerate(zip(names, starts)):
            bars = loaded[sym]
            n = len(bars)
            self._rows[sym] = _Row(rows[i], st, int(bars.timestamps[st]), n,
                                   int(bars.timestamps[-1]), float(bars.close[-1]))
            k = min(tail, n - st)
            out[sym] = self._screened(sym, bars.tail(max(k, 2)), result, i, k, rebuilt=True)

    def _update(self, loaded: dict[str, tuple[Any, int]], out: dict[str, Screened]) -> None:
        if not loaded:
            return
        assert self._state is not None
        names = [s for s, (_, new) in loaded.items() if new > 0]
        for s, (bars, new) in loaded.items():
            if new == 0:                        # nothing new: the state's own last values
                out[s] = self._screened(s, bars, None, self._rows[s].row, 0)
        if not names:
            return
        width = max(loaded[s][1] for s in names)
        block = np.full((self._state.symbols, width), np.nan)
        for s in names:
            bars, new = loaded[s]
            block[self._rows[s].row, width - new:] = np.asarray(bars.close[-new:], dtype=np.float64)
        result = self._engine.screen_update(self._state, block)
        for s in names:
            bars, new = loaded[s]
            r = self._rows[s]
            r.n_stored += new
            r.last_ts = int(bars.timestamps[-1])
            r.last_close = float(bars.close[-1])
            out[s] = self._screened(s, bars, result, r.row, new)

    # -- helpers --------------------------------------------------------------------------------
    def _place(self, names: list[str], fresh: ScreenState) -> list[int]:
        """Put freshly built rows into the batch state: over the symbols' old rows, or
        appended (the state is compacted when most of its rows belong to no symbol)."""
        if self._state is None:
            self._state = fresh
            return list(range(len(names)))
        old = [self._rows[s].row if s in self._rows else -1 for s in names]
        reuse = [i for i, r in enumerate(old) if r >= 0]
        if reuse:
            self._state.put(np.array([old[i] for i in reuse]), fresh.take(np.array(reuse)))
        add = [i for i, r in enumerate(old) if r < 0]
        if add:
            base = self._state.symbols
            self._state = self._state.extended(fresh.take(np.array(add)))
            for j, i in enumerate(add):
                old[i] = base + j
        return old

    def _compact(self) -> None:
        if self._state is None:
            return
        live = sorted(r.row for r in self._rows.values())
        if self._state.symbols <= 2 * max(len(live), 16):
            return
        keep = np.array(live, dtype=np.int64)
        self._state = self._state.take(keep)
        remap = {old: new for new, old in enumerate(live)}
        for r in self._rows.values():
            r.row = remap[r.row]

    def _screened(self, sym: str, bars: Any, result: Any, i: int, k: int,
                  rebuilt: bool = False) -> Screened:
        st = self._state
        assert st is not None
        row = self._rows[sym].row
        if result is None or k == 0:
            sig = np.empty(0)
            lng = shr = np.zeros(0, bool)
        else:
            sig = result.signals[i, 0, -k:]
            lng, shr = result.long[i, -k:], result.short[i, -k:]
        last_bar = int(st.last_bar[row])
        return Screened(
            bars=bars, n_bars=int(st.bars[row]), signal=float(st.signal[row]),
            family_equity=float(st.family_equity[row]), direction=float(st.direction[row]),
            last_event=int(st.last_sign[row]),
            bars_since_event=int(st.bars[row]) - 1 - last_bar if last_bar >= 0 else -1,
            new_signals=sig, new_long=lng, new_short=shr, rebuilt=rebuilt)
