"""Fixtures of the Rust backend tests."""
from __future__ import annotations

import pytest

from tests.conftest import skip_unavailable


@pytest.fixture(scope="session")
def rust():
    """The Rust backend; tests using it skip, naming the reason, when it cannot run (and
    fail when ``ATC_REQUIRED_BACKENDS`` names rust, as ``make test`` does)."""
    from rust_backend import create_backend

    backend = create_backend()
    probe = backend.probe()
    if not probe.available:
        skip_unavailable("rust", probe.reason)
    return backend

