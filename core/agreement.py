"""When two computations of the ATC agree: the project's comparison rule, written once.

Per output column (the names of the golden files and :meth:`core.types.ATCResult.columns`):

* discrete outputs — crossover states ``sig.*``, Layer-1 signals ``*_Signal``, ``*_Cut``,
  ``direction`` and the events — are identical (spec §13.5, the golden README);
* the 54 moving averages are bit-identical: spec §4.8 reproduces TradingView's arithmetic
  to the last bit, so a last-bit difference is a real disagreement;
* every other column (``Average_Signal``, equities, ``R``, ``signal_base``) is within
  :data:`RTOL` relative: ``|got − want| ≤ 1e-9 · max(1, |want|)``;
* NaN (Pine's na) agrees with NaN only.

The golden tests, the packaged self-test, the GPU self-test and ``atc parity``
(:mod:`core.parity`) all compare through this module.
"""
from __future__ import annotations

from typing import Callable, Final, Mapping

import numpy as np
import numpy.typing as npt

from core.config import FAMILIES
from core.types import EVENT_NAMES, MA_NAMES, SIGNAL_NAMES

#: Relative tolerance of continuous columns.
RTOL: Final = 1e-9
#: Columns compared exactly: states, Layer-1 signals, Cut, direction, events.
#: Average_Signal is continuous (spec §8: not rounded).
DISCRETE_COLUMNS: Final = frozenset(
    ("direction",) + EVENT_NAMES + SIGNAL_NAMES + tuple(f + "_Cut" for f in FAMILIES)
    + tuple("sig." + m for m in MA_NAMES))
#: The discrete fields of a :class:`core.types.BatchResult`.
DISCRETE_BATCH_FIELDS: Final = frozenset(
    ("signals", "direction", "long", "short", "last_event", "bars_since_event"))
#: Golden-file keys that are inputs or descriptions, not outputs.
GOLDEN_INPUTS: Final = frozenset(("close", "src", "params_json", "note"))

Values = npt.ArrayLike


def is_discrete(name: str) -> bool:
    return name in DISCRETE_COLUMNS


def is_moving_average(name: str) -> bool:
    return name in MA_NAMES


def is_exact(name: str) -> bool:
    """Compared bit for bit: the discrete columns and the moving averages."""
    return is_discrete(name) or is_moving_average(name)


def is_exact_against_golden(name: str) -> bool:
    """:func:`is_exact`, and Average_Signal too, when our results meet the golden files: the
    golden implementation and every backend sum the weighted Layer-1 signals in the same
    order, so the test suite and the GPU self-test hold the final signal to the last bit
    (the spec, the packaged self-test and a TradingView export ask :data:`RTOL` of it)."""
    return is_exact(name) or name == "Average_Signal"


def within_rtol(got: Values, want: Values, rtol: float = RTOL) -> npt.NDArray[np.bool_]:
    """``|got − want| ≤ rtol · max(1, |want|)`` per value (False where either is NaN)."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(want, dtype=np.float64)
    with np.errstate(invalid="ignore"):        # inf − inf: NaN, which compares False
        return np.abs(a - b) <= rtol * np.maximum(1.0, np.abs(b))


def agreeing(got: Values, want: Values, exact: bool, rtol: float = RTOL) -> npt.NDArray[np.bool_]:
    """Per value: equal (``exact``) or within ``rtol``, NaN meeting NaN; the shapes must match."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(want, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} != {b.shape}")
    an, bn = np.isnan(a), np.isnan(b)
    same = a == b if exact else within_rtol(a, b, rtol)
    ok: npt.NDArray[np.bool_] = (an & bn) | (~an & ~bn & same)
    return ok


def mismatching_bars(got: Values, want: Values, exact: bool, rtol: float = RTOL) -> npt.NDArray[np.intp]:
    """Where ``got`` breaks the rule against ``want``: flat indices (bars, for one column)."""
    return np.flatnonzero(~agreeing(got, want, exact, rtol))


def mismatch(got: Values, want: Values, exact: bool, rtol: float = RTOL) -> str | None:
    """None when ``got`` agrees with ``want``, else where it first differs and by how much."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(want, dtype=np.float64)
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    bad = mismatching_bars(a, b, exact, rtol)
    if bad.size == 0:
        return None
    where = np.unravel_index(int(bad[0]), a.shape)
    at = f"bar {where[0]}" if a.ndim == 1 else f"index {tuple(int(i) for i in where)}"
    return f"{at} got {float(a[where])!r} want {float(b[where])!r} ({bad.size} of {a.size} differ)"


def column_mismatch(name: str, got: Values, want: Values, exact: bool | None = None,
                    rtol: float = RTOL) -> str | None:
    """:func:`mismatch` of one named column, prefixed by its name; ``exact`` defaults to the
    column's rule (:func:`is_exact`)."""
    why = mismatch(got, want, is_exact(name) if exact is None else exact, rtol)
    return None if why is None else f"{name}: {why}"


def compare_columns(got: Mapping[str, Values], want: Mapping[str, Values],
                    exact: Callable[[str], bool] = is_exact, rtol: float = RTOL,
                    skip: frozenset[str] = frozenset()) -> list[str]:
    """Every column of ``want`` (but ``skip``) that ``got`` lacks or that differs."""
    problems = []
    for name, values in want.items():
        if name in skip:
            continue
        if name not in got:
            problems.append(f"{name}: missing")
            continue
        why = column_mismatch(name, got[name], values, exact(name), rtol)
        if why:
            problems.append(why)
    return problems


def golden_mismatches(columns: Mapping[str, Values], gold: Mapping[str, Values]) -> list[str]:
    """Every output column of a golden file that ``columns`` lacks or that differs."""
    return compare_columns(columns, gold, is_exact_against_golden, skip=GOLDEN_INPUTS)
