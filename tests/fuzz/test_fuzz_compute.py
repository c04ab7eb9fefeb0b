"""Fuzz the compute API: any array and any parameters give, on every backend, either the
reference's result or the reference's one-line ATCInputError — never another exception,
never a different answer."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.backends.registry import ORDER
from core.config import ATCConfig
from core.errors import ATCInputError
from core.types import PRICE_MAX, PRICE_MIN, as_batch
from tests.backends.test_parity import REGISTRY, assert_same
from tests.conftest import REQUIRED_BACKENDS, assert_batch_discrete_equal_reference

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 5e-324, PRICE_MIN, PRICE_MAX,
                           PRICE_MAX * 1.0000001, 1e305])


@st.composite
def price_series(draw, max_bars: int = 160) -> np.ndarray:
    """A random walk at any scale the arithmetic accepts, sometimes with a poisoned bar."""
    n = draw(st.integers(0, max_bars))
    scale = 10.0 ** draw(st.integers(-99, 97))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    close = scale * np.exp(np.cumsum(rng.normal(0.0, draw(st.floats(0.0, 0.3)), n)))
    if n and draw(st.booleans()):
        close[draw(st.integers(0, n - 1))] = draw(SPECIAL)
    return close


def lengths_config(draw_lengths: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(lambda r, n, c: dict(robustness=r, ema_len=n, wma_len=n, lsma_len=n, cutout=c),
                     st.sampled_from(["Narrow", "Medium", "Wide"]), draw_lengths, st.integers(-1, 30))


def outcome(fn):
    try:
        return fn(), None
    except ATCInputError as exc:
        return None, str(exc)


def backends():
    for name in ORDER:
        if name == "numpy":
            continue
        if not REGISTRY.probe(name).available:
            assert name not in REQUIRED_BACKENDS, f"required backend {name} is unavailable"
            continue
        yield name, REGISTRY.get(name)


@FAST
@given(close=price_series(), values=lengths_config(st.integers(-2, 40)))
def test_single_series(close, values):
    config, error = outcome(lambda: ATCConfig(**values))
    if error is not None:                    # a parameter out of range: named, with its range
        assert any(name in error for name in values) and "allowed" in error
        return
    ref, ref_error = outcome(lambda: REGISTRY.get("numpy").compute(close, config, detail=True))
    for name, backend in backends():
        got, got_error = outcome(lambda: backend.compute(close, config, detail=True))
        assert got_error == ref_error, name
        if ref is not None:
            assert_same(got, ref, detail=True)


@FAST
@given(rows=st.lists(price_series(max_bars=90), min_size=1, max_size=4), pad=st.integers(0, 3),
       tail_past=st.sampled_from([0, 0, 0, 1, -1]))
def test_batch(rows, pad, tail_past):
    bars = max(len(r) for r in rows) + pad
    tail = 0 if tail_past < 0 else bars + tail_past      # all bars, one too many, or none
    closes = np.full((len(rows), bars), np.nan)
    for i, row in enumerate(rows):
        if len(row):
            closes[i, bars - len(row):] = row
    config = ATCConfig(robustness="Narrow", ema_len=8, hull_len=8, wma_len=8, dema_len=8,
                       lsma_len=8, kama_len=8)
    _, contract_error = outcome(lambda: as_batch(closes))
    for name, backend in backends():
        got, got_error = outcome(lambda: backend.compute_batch(closes, config, tail=tail))
        if contract_error is not None:
            assert got_error == contract_error, name
        elif not 1 <= tail <= bars:
            assert got_error is not None and "tail" in got_error, name
        else:
            assert got_error is None, (name, got_error)
            assert_batch_discrete_equal_reference(got, closes, config)
