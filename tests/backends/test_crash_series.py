"""Crashes drive LINREG's extrapolation towards zero (LSMA ≪ price): the moving averages
there are still the reference's bits on every backend, not merely close relative to a
tiny value."""
from __future__ import annotations

import numpy as np
import pytest

from core.atc import compute_reference
from core.config import ATCConfig
from tests.backends.test_parity import assert_same, backend  # noqa: F401  (fixture)
from tests.conftest import random_walk


def crash_series(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = random_walk(900, seed=seed)
    for bar in rng.integers(100, 880, 3):
        close[bar:] *= rng.uniform(0.15, 0.4)       # a 60–85 % gap down that persists
    return close


@pytest.mark.parametrize("seed", range(4))
def test_lsma_near_zero_is_bit_identical(backend, seed):  # noqa: F811
    close = crash_series(seed)
    config = ATCConfig(robustness="Wide", lsma_len=12)
    ref = compute_reference(close, config, detail=True)
    lsma = np.vstack([v for name, v in ref.columns(True) if name.startswith("LSMA")])
    assert np.nanmin(np.abs(lsma) / close) < 1e-3          # the case is really exercised
    assert_same(backend.compute(close, config, detail=True), ref, detail=True)
