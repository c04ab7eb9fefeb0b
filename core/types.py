"""The array contract and the result types shared by every backend.

* A single series is 1-D ``(bars,)`` float64, C-contiguous, oldest bar first.
* A batch is 2-D ``(symbols, bars)``, right-aligned: shorter histories are left-padded with
  NaN, and a symbol's history starts at its first finite value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypedDict

import numpy as np
import numpy.typing as npt

from core.config import FAMILIES
from core.errors import ATCInputError

MEMBER_SUFFIXES: tuple[str, ...] = ("", "1", "2", "3", "4", "_1", "_2", "_3", "_4")
#: The 54 moving-average names of the golden files, family-major, member order of spec §4.1.
MA_NAMES: tuple[str, ...] = tuple(f + s for f in FAMILIES for s in MEMBER_SUFFIXES)
SIGNAL_NAMES: tuple[str, ...] = tuple(f + "_Signal" for f in FAMILIES)
EQUITY_NAMES: tuple[str, ...] = tuple(f + "_S" for f in FAMILIES)
EVENT_NAMES: tuple[str, ...] = ("arrow_long", "arrow_short", "long", "short")
#: Batch modes: the full ATC, EMA-only screening, or any one family ("family:KAMA", …;
#: "family:EMA" is the same computation as "ema_only").
MODES: tuple[str, ...] = ("full", "ema_only") + tuple(f"family:{f}" for f in FAMILIES)

#: Prices a computation accepts. The weighted window sums of WMA/LSMA reach about
#: 2·10^12 × price at the longest allowed length and the rate of change reaches
#: max/min price, so within these bounds every intermediate stays far below float64's
#: 1.8·10^308; beyond them sums overflow to inf and the result would be noise.
PRICE_MIN = 1e-100
PRICE_MAX = 1e100
_PRICE_RULE = f"prices must be finite and within {PRICE_MIN:g} … {PRICE_MAX:g}"


def bad_price_bar(values: np.ndarray, start: int = 0) -> int | None:
    """The first bar at or after ``start`` whose value is not a usable price, or None."""
    tail = values[start:]
    bad = ~((tail >= PRICE_MIN) & (tail <= PRICE_MAX))   # NaN compares false: bad
    return start + int(np.argmax(bad)) if bad.any() else None


def price_rule_violation(name: str, bar: int, value: float) -> str:
    """The message for a bad price: which series, which bar, what value, which limits."""
    return f"{name} at bar {bar} is {value!r}; {_PRICE_RULE}"


def as_series(values: object, name: str = "close", symbol: str | None = None) -> np.ndarray:
    """Return ``values`` as a 1-D float64 C-contiguous price series, or raise.

    Every bar must be a price within ``PRICE_MIN … PRICE_MAX``; the error names the symbol,
    the bar and the limits.
    """
    where = f"{symbol}: " if symbol else ""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ATCInputError(f"{where}{name} is not numeric: {exc}", field=name) from None
    if arr.ndim != 1:
        raise ATCInputError(f"{where}{name} must be 1-D (bars,), got shape {arr.shape}", field=name)
    if arr.size < 2:
        raise ATCInputError(f"{where}{name} has {arr.size} bar(s); at least 2 are needed", field=name)
    i = bad_price_bar(arr)
    if i is not None:
        raise ATCInputError(where + price_rule_violation(name, i, float(arr[i])), field=name)
    return arr


def as_close_and_src(close: object, src: object | None) -> tuple[np.ndarray, np.ndarray]:
    """Validated close and MA source (the close itself when ``src`` is None), same length."""
    close_arr = as_series(close)
    if src is None:
        return close_arr, close_arr
    src_arr = as_series(src, "src")
    if src_arr.shape != close_arr.shape:
        raise ATCInputError(f"src has {src_arr.size} bars but close has {close_arr.size}", field="src")
    return close_arr, src_arr


def as_batch(values: object, name: str = "closes",
             within: Callable[[np.ndarray, float, float], bool] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Validate a right-aligned, NaN-left-padded batch.

    Returns the float64 C-contiguous ``(symbols, bars)`` array and each row's first bar
    (``starts``, int64). A NaN after a row's first finite value, a price outside
    ``PRICE_MIN … PRICE_MAX`` or a row with fewer than two bars is an error naming the row
    and the bar. ``within(arr, lo, hi)``, where given, is a compiled one-pass test that
    every value lies in lo … hi, used for the common case instead of numpy's min and max
    (two passes, a visible share of a fast batch's time).
    """
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ATCInputError(f"{name} is not numeric: {exc}", field=name) from None
    if arr.ndim != 2:
        raise ATCInputError(f"{name} must be 2-D (symbols, bars), got shape {arr.shape}", field=name)
    if arr.shape[1] >= 2 and arr.size and (
            within(arr, PRICE_MIN, PRICE_MAX) if within is not None
            else arr.min() >= PRICE_MIN and arr.max() <= PRICE_MAX):
        # Fast path for the common case (no padding, every price valid).
        return arr, np.zeros(arr.shape[0], dtype=np.int64)
    finite = np.isfinite(arr)
    if arr.shape[1]:
        starts = np.where(finite.any(axis=1), np.argmax(finite, axis=1), arr.shape[1]).astype(np.int64)
    else:
        starts = np.zeros(arr.shape[0], dtype=np.int64)
    inside = np.arange(arr.shape[1])[None, :] >= starts[:, None]
    bad = inside & ~((arr >= PRICE_MIN) & (arr <= PRICE_MAX))
    broken = bad.any(axis=1) | (arr.shape[1] - starts < 2)
    if broken.any():
        row = int(np.argmax(broken))
        raise batch_row_error(arr[row], row, int(starts[row]), name)
    return arr, starts


def batch_row_error(values: np.ndarray, row: int, start: int, name: str = "closes") -> ATCInputError:
    """The error for a batch row that breaks the contract of :func:`as_batch`."""
    bar = bad_price_bar(values, start)
    if bar is None:
        return ATCInputError(f"{name} row {row} has fewer than 2 bars", field=name)
    return ATCInputError(
        f"{name} row {row} at bar {bar} is {float(values[bar])!r}; after a symbol's first price "
        f"every bar must be finite and within {PRICE_MIN:g} … {PRICE_MAX:g} "
        "(clean gaps before computing)", field=name)


def check_tail(tail: int, bars: int) -> int:
    if not isinstance(tail, (int, np.integer)) or isinstance(tail, bool) or not 1 <= tail <= bars:
        raise ATCInputError(f"tail = {tail!r} is out of range: allowed 1 … {bars} (bars)", field="tail")
    return int(tail)


def rate_of_change(close: np.ndarray) -> np.ndarray:
    """R[t] = (close[t] − close[t−1]) / close[t−1], R[0] = na (spec §3): the detail column
    every backend reports beside its own outputs."""
    r = np.full(close.shape[0], np.nan)
    r[1:] = (close[1:] - close[:-1]) / close[:-1]
    return r


#: Pine's tolerance for the script's own comparisons (spec §4.8): |a − b| ≤ 1e-10 is equal.
PINE_TOLERANCE = 1e-10


def cut(signals: np.ndarray, threshold: float) -> np.ndarray:
    """Cut of spec §8: +1 above ``threshold``, −1 below −``threshold``, else 0 (na → 0).

    `v > 0.49` is a comparison in the script, so it is Pine's tolerant one."""
    with np.errstate(invalid="ignore"):
        up = (signals > threshold) & (np.abs(signals - threshold) > PINE_TOLERANCE)
        down = (signals < -threshold) & (np.abs(signals + threshold) > PINE_TOLERANCE)
        return np.where(up, 1.0, np.where(down, -1.0, 0.0))


@dataclass
class ATCResult:
    """Every output of spec §3–§9 for one series of ``n`` bars (NaN = Pine's na).

    ``mas``, ``states`` and ``equities`` (54 rows each, order of ``MA_NAMES``) are present
    only when computed with ``detail=True``.
    """

    average_signal: np.ndarray          # (n,)
    signals: np.ndarray                 # (6, n) Layer-1 F_Signal
    family_equities: np.ndarray         # (6, n) Layer-2 F_S
    signal_base: np.ndarray             # (n,) colbase series, lagged one bar in Strategy View
    direction: np.ndarray               # (n,) +1 / −1 / NaN
    arrow_long: np.ndarray              # (n,) bool
    arrow_short: np.ndarray             # (n,) bool
    long: np.ndarray                    # (n,) bool
    short: np.ndarray                   # (n,) bool
    growth_factor: float                # g on the last bar (NaN before the cutout)
    cut_threshold: float = 0.49
    mas: np.ndarray | None = None       # (54, n)
    states: np.ndarray | None = None    # (54, n) int8
    equities: np.ndarray | None = None  # (54, n)
    rate_of_change: np.ndarray | None = None  # (n,) R of §3, with detail
    backend: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def bars(self) -> int:
        return int(self.average_signal.shape[0])

    @property
    def cuts(self) -> np.ndarray:
        return cut(self.signals, self.cut_threshold)

    @property
    def growth_warning(self) -> str | None:
        """The Pine UI's warning when g on the last bar exceeds 1.1 or 1.25 (spec §13.7)."""
        return growth_warning(self.growth_factor)

    def extended(self, later: ATCResult) -> ATCResult:
        """This result followed by the bars of ``later`` (the same series computed on, e.g.
        by an incremental state): every per-bar array concatenated, the last bar's growth
        factor from ``later``. Detail arrays are kept only when both have them."""
        def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate([a, b], axis=-1)

        def detail(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else cat(a, b)

        return ATCResult(
            average_signal=cat(self.average_signal, later.average_signal),
            signals=cat(self.signals, later.signals),
            family_equities=cat(self.family_equities, later.family_equities),
            signal_base=cat(self.signal_base, later.signal_base),
            direction=cat(self.direction, later.direction),
            arrow_long=cat(self.arrow_long, later.arrow_long),
            arrow_short=cat(self.arrow_short, later.arrow_short),
            long=cat(self.long, later.long), short=cat(self.short, later.short),
            mas=detail(self.mas, later.mas), states=detail(self.states, later.states),
            equities=detail(self.equities, later.equities),
            rate_of_change=detail(self.rate_of_change, later.rate_of_change),
            growth_factor=later.growth_factor, cut_threshold=later.cut_threshold,
            backend=later.backend, notes=list(later.notes))

    def columns(self, detail: bool = False) -> Iterator[tuple[str, np.ndarray]]:
        """(name, values) pairs named as in the golden files, in output-file order."""
        yield "Average_Signal", self.average_signal
        for name, row in zip(SIGNAL_NAMES, self.signals):
            yield name, row
        for name, row in zip(EQUITY_NAMES, self.family_equities):
            yield name, row
        for fam, row in zip(FAMILIES, self.cuts):
            yield fam + "_Cut", row
        yield "signal_base", self.signal_base
        yield "direction", self.direction
        for name in EVENT_NAMES:
            yield name, getattr(self, name).astype(np.float64)
        if detail and self.rate_of_change is not None:
            yield "R", self.rate_of_change
        if detail and self.mas is not None:
            assert self.states is not None and self.equities is not None
            for i, name in enumerate(MA_NAMES):
                yield name, self.mas[i]
            for i, name in enumerate(MA_NAMES):
                yield "sig." + name, self.states[i].astype(np.float64)
            for i, name in enumerate(MA_NAMES):
                yield "eq." + name, self.equities[i]


class BatchArrays(TypedDict):
    """A batch kernel's outputs by name (the :class:`BatchResult` fields they fill)."""

    signals: npt.NDArray[np.float64]
    family_equities: npt.NDArray[np.float64]
    direction: npt.NDArray[np.float64]
    long: npt.NDArray[np.bool_]
    short: npt.NDArray[np.bool_]
    last_event: npt.NDArray[np.int8]
    bars_since_event: npt.NDArray[np.int64]
    average_signal: npt.NDArray[np.float64] | None


@dataclass
class BatchResult:
    """Outputs for a batch, last ``tail`` bars only (bars before a symbol's start are NaN).

    In mode ``"ema_only"`` only the EMA family is computed: ``signals`` and
    ``family_equities`` have one row (EMA), ``average_signal`` is None, and direction and
    events follow spec §9 with the EMA_Signal as base. ``"family:F"`` is the same for
    family F (its F_Signal is the base). ``last_event`` (+1 long, −1 short,
    0 none) and ``bars_since_event`` (−1 when none) look at the whole history, not the tail.
    """

    mode: str
    signals: np.ndarray                 # (S, F, tail) F = 6, or 1 in ema_only / family:F
    family_equities: np.ndarray         # (S, F, tail)
    direction: np.ndarray               # (S, tail)
    long: np.ndarray                    # (S, tail) bool
    short: np.ndarray                   # (S, tail) bool
    last_event: np.ndarray              # (S,) int8
    bars_since_event: np.ndarray        # (S,) int64
    average_signal: np.ndarray | None = None   # (S, tail) in full mode
    backend: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> int:
        return int(self.direction.shape[0])

    @classmethod
    def from_arrays(cls, mode: str, arrays: BatchArrays, backend: str,
                    notes: Iterable[str] = ()) -> BatchResult:
        """The result of a batch kernel's output arrays: every backend builds its results
        here (or through :meth:`allocate`). Average_Signal exists in full mode only (a
        one-family mode's kernel may return one; it is not kept)."""
        return cls(mode=mode, signals=arrays["signals"],
                   family_equities=arrays["family_equities"], direction=arrays["direction"],
                   long=arrays["long"], short=arrays["short"], last_event=arrays["last_event"],
                   bars_since_event=arrays["bars_since_event"],
                   average_signal=arrays["average_signal"] if mode == "full" else None,
                   backend=backend, notes=list(notes))

    @classmethod
    def allocate(cls, mode: str, symbols: int, tail: int, backend: str) -> BatchResult:
        """Outputs for a kernel to fill: ``tail`` bars of ``symbols`` rows (six families in
        full mode, one otherwise), NaN values, no events."""
        families = 6 if mode == "full" else 1
        return cls.from_arrays(mode, BatchArrays(
            signals=np.full((symbols, families, tail), np.nan),
            family_equities=np.full((symbols, families, tail), np.nan),
            direction=np.full((symbols, tail), np.nan),
            long=np.zeros((symbols, tail), dtype=np.bool_),
            short=np.zeros((symbols, tail), dtype=np.bool_),
            last_event=np.zeros(symbols, dtype=np.int8),
            bars_since_event=np.full(symbols, -1, dtype=np.int64),
            average_signal=np.full((symbols, tail), np.nan) if mode == "full" else None),
            backend)


def growth_warning(g: float) -> str | None:
    if not np.isfinite(g) or g <= 1.1:
        return None
    level = "1.25" if g > 1.25 else "1.1"
    return (f"growth factor g = {g:.3f} on the last bar exceeds {level}: "
            "reduce La (λ) or increase the cutout")
