"""Prices the float64 arithmetic cannot hold are rejected by every backend, with the bar and
the limit named; prices at the limits compute identically everywhere."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from core.atc import compute_reference
from core.config import ATCConfig
from core.errors import ATCInputError
from core.types import PRICE_MAX, PRICE_MIN
from tests.backends.test_parity import assert_same, backend  # noqa: F401  (fixture)
from tests.conftest import random_walk

LIMITS = re.compile(r"within 1e-100 … 1e\+100")


@pytest.mark.parametrize("scale, bar", [(1e305, 0), (1e-310, 0)])
def test_out_of_range_walk_rejected_naming_bar_and_limit(backend, scale, bar):  # noqa: F811
    close = random_walk(300, seed=3) * scale
    with pytest.raises(ATCInputError, match=rf"bar {bar} is .*{LIMITS.pattern}"):
        backend.compute(close, ATCConfig())


def test_one_overflowing_bar_in_a_batch_names_row_and_bar(backend):  # noqa: F811
    closes = np.vstack([random_walk(200, seed=s) for s in range(3)])
    closes[1, :50] = np.nan              # a later-starting symbol
    closes[1, 120] = 3e250
    with pytest.raises(ATCInputError, match=rf"row 1 at bar 120 is 3e\+250; .*{LIMITS.pattern}"):
        backend.compute_batch(closes, ATCConfig(), tail=5)


@pytest.mark.parametrize("edge", ["max", "min"])
def test_prices_at_the_limits_agree_with_the_reference(backend, edge):  # noqa: F811
    walk = random_walk(2600, seed=11, vol=0.03)
    close = walk / walk.max() * PRICE_MAX if edge == "max" else walk / walk.min() * PRICE_MIN
    close = np.clip(close, PRICE_MIN, PRICE_MAX)   # the one extreme bar lands on the limit
    config = ATCConfig(wma_len=2000, lsma_len=2000)   # the longest windows: the largest sums
    assert_same(backend.compute(close, config, detail=True), compute_reference(close, config, detail=True),
                detail=True)


def test_cuda_kernels_use_the_same_limits():
    header = (Path(__file__).resolve().parents[2] / "cuda_backend/kernels/atc_common.cuh").read_text()
    found = dict(re.findall(r"#define ATC_PRICE_(MIN|MAX) (\S+)", header))
    assert float(found["MIN"]) == PRICE_MIN and float(found["MAX"]) == PRICE_MAX


def test_kama_noise_that_cancels_below_zero(backend):  # noqa: F811
    # A 1e100 → 1.3 step leaves KAMA's 4-bar noise window: the compensated math.sum then
    # holds cancellation residue, here negative (−0.093). `noise != 0` is Pine's tolerant
    # test on that value, not a sign test: the ratio uses it, as TradingView does.
    close = np.array([1e100, 1.33883601, 1.45413301, 1.04982192, 1.31647737, 1.47189863,
                      1.28700118, 1.48824024])
    config = ATCConfig(robustness="Narrow", ema_len=8, hull_len=8, wma_len=8, dema_len=8,
                       lsma_len=8, kama_len=8)
    ref = compute_reference(close, config, detail=True)
    assert ref.signals[5, -1] == -0.78                   # KAMA_4's state flipped on the last bar
    assert_same(backend.compute(close, config, detail=True), ref, detail=True)
    batch = backend.compute_batch(close[None], config, tail=8)
    np.testing.assert_array_equal(batch.signals[0], ref.signals)
