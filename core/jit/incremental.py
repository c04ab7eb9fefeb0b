"""Incremental EMA-only screening: the state a symbol carries from bar to bar.

The watchlist's screening column needs one new value per symbol per closed bar. A
:class:`ScreenState` holds, per symbol, everything the EMA-only ATC carries forward (spec
§4.2/§4.8 EMA seeds and recursions, §5 crossover states, §6 member equities and their `a`,
§7 Layer-1 signal, §8 the family equity, §9 direction and the last event), so that

* :func:`screen_update` appends k closed bars per symbol in O(k), and
* :func:`screen_forming` evaluates a still-forming bar without changing the state.

Each bar runs the arithmetic of the EMA-only kernels (``core.jit.primitives``' steps and the
generated kernel's steady step: the same operations in the same order), so every output is
bit-identical to ``compute_batch(..., mode="ema_only")`` over the whole history; the tests
compare every bar. A state belongs to one configuration (:meth:`ScreenState.matches`); when
the parameters change or a history is rewritten, build a new state, never patch one.

A new state is empty; :func:`screen_init` feeds it each symbol's history through the same
step, so the first computation and every later bar share one code path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from core.config import ATCConfig
from core.errors import ATCInputError
from core.jit.kernel_types import Bools, Floats, Int8s, Ints
from core.jit.primitives import crossover_step, equity_step, family_bar, growth_row
from core.jit.window_sums import sma_seed
from core.kernel_params import KernelParams, kernel_params
from core.types import PRICE_MAX, PRICE_MIN, BatchResult

NAN = np.nan


@dataclass
class ScreenState:
    """EMA-only state of a batch of symbols (one row each), for one configuration.

    ``bars[i]`` counts the closed bars symbol i has seen; ``seed_window[i]`` keeps its first
    bars until every EMA seed exists (the seed is ``ta.sma`` of the first n bars).
    """

    params: KernelParams
    bars: np.ndarray          # (symbols,) int64
    prev_close: np.ndarray    # (symbols,)
    seed_window: np.ndarray   # (symbols, longest EMA length)
    ema: np.ndarray           # (9, symbols) each member's EMA on the last bar
    state: np.ndarray         # (9, symbols) crossover state (−1/0/+1)
    a: np.ndarray             # (9, symbols) the equity's persistent `a`
    equity: np.ndarray        # (9, symbols)
    signal: np.ndarray        # (symbols,) EMA_Signal of the last bar
    family_a: np.ndarray      # (symbols,)
    family_equity: np.ndarray  # (symbols,)
    direction: np.ndarray     # (symbols,)
    base_prev: np.ndarray     # (symbols,) the direction logic's base on the last bar
    last_sign: np.ndarray     # (symbols,) int8: +1 long / −1 short / 0 none
    last_bar: np.ndarray      # (symbols,) int64 local bar of that event, −1 none

    @property
    def symbols(self) -> int:
        return int(self.bars.shape[0])

    @property
    def nbytes_per_symbol(self) -> int:
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        return sum(a.nbytes for a in arrays) // max(1, self.symbols)

    def matches(self, config: ATCConfig) -> bool:
        """True when this state was built for ``config``'s EMA-only parameters."""
        return kernel_params(config, "ema_only") is self.params

    def copy(self) -> ScreenState:
        return ScreenState(self.params, *(getattr(self, f).copy() for f in _ARRAYS))

    def take(self, rows: np.ndarray) -> ScreenState:
        """A new state of the given rows (symbols), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return ScreenState(self.params, *(np.take(getattr(self, f), rows, axis=_axis(f))
                                          for f in _ARRAYS))

    def put(self, rows: np.ndarray, other: ScreenState) -> None:
        """Replace the given rows by ``other``'s rows (same parameters, same order)."""
        if other.params is not self.params:
            raise ValueError("states of different parameters cannot be combined")
        for f in _ARRAYS:
            mine, theirs = getattr(self, f), getattr(other, f)
            if _axis(f):
                mine[:, rows] = theirs
            else:
                mine[rows] = theirs

    def extended(self, other: ScreenState) -> ScreenState:
        """This state with ``other``'s symbols appended after its own."""
        if other.params is not self.params:
            raise ValueError("states of different parameters cannot be combined")
        return ScreenState(self.params, *(
            np.concatenate([getattr(self, f), getattr(other, f)], axis=_axis(f))
            for f in _ARRAYS))


_ARRAYS = ("bars", "prev_close", "seed_window", "ema", "state", "a", "equity", "signal",
           "family_a", "family_equity", "direction", "base_prev", "last_sign", "last_bar")
#: The (9, symbols) arrays: their symbol axis is the last one (the others' is the first).
_MEMBER_ARRAYS = frozenset({"ema", "state", "a", "equity"})


def _axis(name: str) -> int:
    return 1 if name in _MEMBER_ARRAYS else 0


def empty_state(config: ATCConfig, symbols: int) -> ScreenState:
    """A state for ``symbols`` symbols that have seen no bar yet."""
    params = kernel_params(config, "ema_only")
    longest = int(params.lengths[0].max())
    nine = (9, symbols)
    return ScreenState(
        params=params, bars=np.zeros(symbols, np.int64), prev_close=np.full(symbols, NAN),
        seed_window=np.full((symbols, longest), NAN), ema=np.full(nine, NAN),
        state=np.zeros(nine), a=np.zeros(nine), equity=np.full(nine, NAN),
        signal=np.full(symbols, NAN), family_a=np.zeros(symbols),
        family_equity=np.full(symbols, NAN), direction=np.full(symbols, NAN),
        base_prev=np.full(symbols, NAN), last_sign=np.zeros(symbols, np.int8),
        last_bar=np.full(symbols, -1, np.int64))


def screen_init(closes: np.ndarray, config: ATCConfig,
                tail: int = 1) -> tuple[ScreenState, BatchResult]:
    """The state after each row's whole history (a right-aligned, NaN-left-padded batch as
    for ``compute_batch``) and the batch result of its last ``tail`` bars."""
    closes = np.asarray(closes, dtype=np.float64)
    if closes.ndim != 2:
        raise ATCInputError(f"closes must be 2-D (symbols, bars), got shape {closes.shape}",
                            field="closes")
    state = empty_state(config, closes.shape[0])
    return state, screen_update(state, closes, tail=tail)


def screen_update(state: ScreenState, new_bars: np.ndarray,
                  tail: int | None = None) -> BatchResult:
    """Append closed bars and return the outputs of the new bars' positions.

    ``new_bars`` is (symbols, k), right-aligned: a row's leading NaN means that symbol has
    fewer new bars (an all-NaN row: none). ``tail`` keeps the last positions only (default
    all k). Positions where a symbol has no bar are NaN / False in the result.
    """
    return _advance(state, new_bars, tail, commit=True)


def screen_forming(state: ScreenState, forming: np.ndarray) -> BatchResult:
    """Outputs of one still-forming bar per symbol (NaN: none), state unchanged."""
    forming = np.asarray(forming, dtype=np.float64)
    if forming.shape != (state.symbols,):
        raise ATCInputError(f"forming must have shape ({state.symbols},), got {forming.shape}",
                            field="forming")
    return _advance(state, forming.reshape(-1, 1), 1, commit=False)


def _advance(state: ScreenState, new_bars: np.ndarray, tail: int | None,
             commit: bool) -> BatchResult:
    x = np.ascontiguousarray(new_bars, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != state.symbols:
        raise ATCInputError(f"new bars must have shape ({state.symbols}, k), got {x.shape}",
                            field="new_bars")
    k = x.shape[1]
    tail = k if tail is None else tail
    if not 1 <= tail <= max(k, 1) or k == 0:
        raise ATCInputError(f"tail = {tail!r} is out of range: allowed 1 … {k} (new bars)",
                            field="tail")
    finite = np.isfinite(x)
    first = np.where(finite.any(axis=1), np.argmax(finite, axis=1), k)
    inside = np.arange(k)[None, :] >= first[:, None]
    bad = inside & ~((x >= PRICE_MIN) & (x <= PRICE_MAX))
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        bar = int(np.argmax(bad[row]))
        raise ATCInputError(f"new bars row {row} at position {bar} is {float(x[row, bar])!r}; "
                            "after a symbol's first new price every bar must be a price "
                            f"within {PRICE_MIN:g} … {PRICE_MAX:g}", field="new_bars")
    p = state.params
    n_sym = state.symbols
    out = BatchResult.allocate("ema_only", n_sym, tail, "numba")
    lengths = np.ascontiguousarray(p.lengths[0])
    alpha = np.array([2.0 / (n + 1) for n in lengths])
    steps = _steps_parallel if n_sym * k >= PARALLEL_MIN_STEPS else _steps_serial
    # g by bar offset from the cutout, for every bar these steps reach (spec §3; the
    # kernels' own growth_row, so the same bits).
    growth = growth_row(max(int(state.bars.max(initial=0)) + k - p.cutout, 1), p.lam)
    steps(x, first.astype(np.int64), k - tail, commit, lengths, alpha, growth, 1.0 - p.delta,
           p.cutout, float(p.weights[0]), p.long_threshold, p.short_threshold, p.strategy,
           state.bars, state.prev_close, state.seed_window, state.ema, state.state, state.a,
           state.equity, state.signal, state.family_a, state.family_equity, state.direction,
           state.base_prev, state.last_sign, state.last_bar, out.signals, out.family_equities,
           out.direction, out.long, out.short, out.last_event, out.bars_since_event)
    if not commit:
        out.notes.append("forming bar (state unchanged)")
    return out


def _steps_body(x: Floats, first: Ints, skip: int, commit: bool, lengths: Ints, alpha: Floats,
                growth: Floats, decay: float, cutout: int, weight: float, long_th: float,
                short_th: float, strategy: bool, T: Ints, PREV: Floats, HIST: Floats, Y: Floats,
                ST: Floats, A: Floats, E: Floats, SIG: Floats, FA: Floats, FE: Floats, DIR: Floats,
                BASE: Floats, LSIGN: Int8s, LBAR: Ints, o_sig: Floats, o_feq: Floats,
                o_dir: Floats, o_long: Bools, o_short: Bools, o_last: Int8s,
                o_since: Ints) -> None:
    """Advance every symbol through its new bars. With ``commit`` the carried arrays are
    updated; without it (one bar only: a forming bar) nothing is written but the seed
    window beyond the committed count. Same operations, same order as the EMA-only
    kernels. Compiled twice (below): serial for the usual refresh of a bar or a few,
    parallel over symbols for whole histories."""
    for i in prange(x.shape[0]):
        t = T[i]
        c_prev = PREV[i]
        sig = SIG[i]
        f_a = FA[i]
        f_e = FE[i]
        direction = DIR[i]
        base_prev = BASE[i]
        last_sign = LSIGN[i]
        last_bar = LBAR[i]
        for j in range(first[i], x.shape[1]):
            c = x[i, j]
            if t < HIST.shape[1]:
                HIST[i, t] = c          # beyond the committed count: harmless when peeking
            active = t >= cutout
            r = (c - c_prev) / c_prev * growth[t - cutout] if (active and t > 0) else NAN
            num = 0.0
            den = 0.0
            for m in range(9):
                n = lengths[m]
                mp = Y[m, i]
                if t < n - 1:
                    y = NAN
                elif t == n - 1:
                    y = sma_seed(HIST[i], 0, n)
                else:
                    y = mp + alpha[m] * (c - mp)
                p = ST[m, i] if t > 0 else NAN
                s = crossover_step(ST[m, i], c, c_prev, y, mp)
                a = A[m, i]
                e = E[m, i]
                if active:
                    a, e = equity_step(t, cutout, r, p, a, e, 1.0, decay)
                    num = num + s * e
                    den = den + e
                if commit:
                    Y[m, i] = y
                    ST[m, i] = s
                    A[m, i] = a
                    E[m, i] = e
            sig, f_a, f_e, base, direction, ev_long, ev_short = family_bar(
                t, cutout, active, r, num, den, sig, f_a, f_e, base_prev, direction, weight,
                decay, long_th, short_th, strategy)
            if ev_long or ev_short:
                last_sign = 1 if ev_long else -1
                last_bar = t
            base_prev = base
            jj = j - skip
            if jj >= 0:
                o_sig[i, 0, jj] = sig
                o_feq[i, 0, jj] = f_e if active else NAN
                o_dir[i, jj] = direction
                o_long[i, jj] = ev_long
                o_short[i, jj] = ev_short
            c_prev = c
            t += 1
        o_last[i] = last_sign
        o_since[i] = t - 1 - last_bar if last_bar >= 0 else -1
        if commit:
            T[i] = t
            PREV[i] = c_prev
            SIG[i] = sig
            FA[i] = f_a
            FE[i] = f_e
            DIR[i] = direction
            BASE[i] = base_prev
            LSIGN[i] = last_sign
            LBAR[i] = last_bar


# A bar for a few thousand symbols is ~1 ms of work: handing it to a thread pool costs more
# than it saves (the OpenMP layer measured 8× slower than serial on two cores), so
# parallelism is reserved for long blocks (a state's first build).
_steps_serial = njit(cache=True)(_steps_body)
_steps_parallel = njit(cache=True, parallel=True)(_steps_body)
PARALLEL_MIN_STEPS = 200_000
