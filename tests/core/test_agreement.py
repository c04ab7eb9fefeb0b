"""The comparison rule of core.agreement, and that every comparer uses it."""
from __future__ import annotations

import numpy as np

from core import agreement, parity
from tests.conftest import GOLDEN_FILES, load_golden


def test_discrete_columns_are_the_golden_readmes():
    """States, Layer-1 signals, Cut, direction and events of a golden file are discrete;
    Average_Signal, equities, MAs, R and signal_base are not."""
    gold, _ = load_golden(GOLDEN_FILES[0])
    outputs = set(gold) - agreement.GOLDEN_INPUTS
    discrete = {n for n in outputs if agreement.is_discrete(n)}
    assert len(discrete) == 54 + 6 + 6 + 1 + 4
    assert all(n.startswith("sig.") or n.endswith(("_Signal", "_Cut"))
               or n in ("direction", "arrow_long", "arrow_short", "long", "short") for n in discrete)
    for name in ("Average_Signal", "EMA_S", "eq.EMA", "EMA", "R", "signal_base"):
        assert name in outputs and not agreement.is_discrete(name), name
    assert {n for n in outputs if agreement.is_moving_average(n)} == {
        n for n in outputs if n.rstrip("1234_") in ("EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA")}


def test_discrete_and_moving_averages_compare_bit_for_bit():
    a = np.array([0.25, np.nan, 101.37])
    one_ulp = a.copy()
    one_ulp[2] = np.nextafter(a[2], np.inf)
    for name in ("EMA_Signal", "sig.WMA2", "direction", "KAMA_Cut", "WMA2", "HMA_1"):
        assert agreement.column_mismatch(name, a, a.copy()) is None
        assert agreement.column_mismatch(name, one_ulp, a) == (
            f"{name}: bar 2 got {float(one_ulp[2])!r} want 101.37 (1 of 3 differ)")
    assert agreement.column_mismatch("EMA_S", one_ulp, a) is None


def test_continuous_columns_within_1e9_of_max_1_and_the_value():
    want = np.array([1e6, 0.5, -3.0])
    assert agreement.mismatching_bars(want * (1 + 0.9e-9), want, exact=False).size == 0
    assert list(agreement.mismatching_bars(want * (1 + 1.1e-9), want, exact=False)) == [0, 2]
    # Below 1 the tolerance is absolute: 1e-9, not 1e-9 × 0.5.
    assert agreement.mismatching_bars(want + [0, 0.9e-9, 0], want, exact=False).size == 0
    assert list(agreement.mismatching_bars(want + [0, 1.1e-9, 0], want, exact=False)) == [1]


def test_nan_meets_only_nan():
    got = np.array([np.nan, 1.0, np.nan, np.inf])
    want = np.array([np.nan, np.nan, 1.0, np.inf])
    assert list(agreement.mismatching_bars(got, want, exact=True)) == [1, 2]
    assert list(agreement.mismatching_bars(got, want, exact=False)) == [1, 2, 3]   # inf − inf
    assert agreement.mismatch(got[:2], want, exact=True) == "shape (2,) != (4,)"


def test_average_signal_is_continuous_but_held_exact_against_golden():
    a = np.array([0.3, -0.1])
    near = a * (1 + 1e-12)
    assert agreement.column_mismatch("Average_Signal", near, a) is None
    gold = {"Average_Signal": a, "close": np.array([1.0, 2.0])}
    assert agreement.golden_mismatches({"Average_Signal": a}, gold) == []
    [problem] = agreement.golden_mismatches({"Average_Signal": near}, gold)
    assert problem.startswith("Average_Signal: bar 0")
    assert agreement.golden_mismatches({}, gold) == ["Average_Signal: missing"]


def test_compare_columns_reports_missing_and_differing_columns():
    want = {"direction": np.array([1.0, -1.0]), "EMA_S": np.array([2.0, 3.0]),
            "long": np.array([0.0, 1.0])}
    got = {"direction": np.array([1.0, 1.0]), "EMA_S": np.array([2.0, 3.0 + 1e-12])}
    assert agreement.compare_columns(got, want) == [
        "direction: bar 1 got 1.0 want -1.0 (1 of 2 differ)", "long: missing"]


def test_tradingview_parity_uses_the_rule():
    assert parity.is_discrete is agreement.is_discrete
    assert parity.TOLERANCE == agreement.RTOL
    assert parity.recognise("Average_Signal").rule == "1e-9"
    assert parity.recognise("EMA_Signal").rule == "exact"
    assert parity.recognise("EMA2").rule == "bit-identical"
