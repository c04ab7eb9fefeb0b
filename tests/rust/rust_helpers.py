"""Helpers of the Rust backend tests: golden files, tolerances, random inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core import agreement
from core.config import ATCConfig

from tests.conftest import GOLDEN_FILES, golden_id  # noqa: F401  (re-exported)


def golden_config(gold) -> ATCConfig:
    return ATCConfig.from_dict(json.loads(str(gold["params_json"])))


def mismatches(got: np.ndarray, want: np.ndarray, discrete: bool) -> np.ndarray:
    """Bars where ``got`` differs from ``want`` under the project's rule
    (:mod:`core.agreement`): discrete exactly, continuous within 1e-9 relative."""
    assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    return agreement.mismatching_bars(got, want, discrete)


def assert_matches(got: np.ndarray, want: np.ndarray, discrete: bool, what: str) -> None:
    bad = mismatches(got, want, discrete)
    if bad.size:
        i = int(bad[0])
        g = np.asarray(got).reshape(-1)[i] if np.ndim(got) else got
        w = np.asarray(want).reshape(-1)[i] if np.ndim(want) else want
        pytest.fail(f"{what}: {bad.size} mismatching values, first at flat index {i}: "
                    f"got {g!r}, want {w!r}")


def random_walk(rng: np.random.Generator, n: int, start: float = 100.0, vol: float = 0.02) -> np.ndarray:
    """A geometric random walk: positive prices with realistic daily moves."""
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
