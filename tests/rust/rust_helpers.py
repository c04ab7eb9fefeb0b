"""Helpers of the Rust backend tests: golden files, tolerances, random inputs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.config import ATCConfig

from tests.conftest import GOLDEN_FILES, golden_id  # noqa: F401  (re-exported)


def golden_config(gold) -> ATCConfig:
    return ATCConfig.from_dict(json.loads(str(gold["params_json"])))


def is_discrete(name: str) -> bool:
    """The golden README's discrete columns: compared exactly."""
    return (name in {"direction", "arrow_long", "arrow_short", "long", "short"}
            or name.startswith("sig.") or name.endswith("_Signal") or name.endswith("_Cut"))


def mismatches(got: np.ndarray, want: np.ndarray, discrete: bool) -> np.ndarray:
    """Bars where ``got`` differs from ``want`` under the project's tolerances: discrete
    exactly, continuous |a − b| ≤ 1e-9·max(1, |b|); NaN must meet NaN."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    gn, wn = np.isnan(got), np.isnan(want)
    with np.errstate(invalid="ignore"):
        if discrete:
            close = got == want
        else:
            close = np.abs(got - want) <= 1e-9 * np.maximum(1.0, np.abs(want))
    ok = (gn & wn) | (~gn & ~wn & close)
    return np.flatnonzero(~ok)


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
