"""The numba tests also run with ``NUMBA_DISABLE_JIT=1``: the kernels as plain Python,
checked against the reference (so that coverage and tracebacks reach their code). Plain
Python is slow, so tests marked ``jit_only`` are skipped then: those that need the
compiled dispatcher itself, and those whose inputs take minutes uncompiled (their kernels
are still checked in that run, on smaller inputs, by the other tests)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numba
import numpy as np
import pytest

#: True in the run with NUMBA_DISABLE_JIT=1.
INTERPRETED = bool(numba.config.DISABLE_JIT)
HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "jit_only: needs compiled numba kernels (skipped "
                                       "with NUMBA_DISABLE_JIT=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not INTERPRETED:
        return
    skip = pytest.mark.skip(reason="NUMBA_DISABLE_JIT=1: needs the compiled kernels")
    for item in items:
        if item.get_closest_marker("jit_only") and HERE in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _numpy_error_model() -> Iterator[None]:
    """The kernels compile with numba's numpy error model (a 0/0 is NaN, silently); run as
    plain Python their numpy scalars would warn instead."""
    if not INTERPRETED:
        yield
        return
    with np.errstate(all="ignore"):
        yield
