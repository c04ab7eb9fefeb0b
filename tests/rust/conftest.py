"""Fixtures of the Rust backend tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def rust():
    """The Rust backend; tests using it skip, naming the reason, when it cannot run."""
    from rust_backend import create_backend

    backend = create_backend()
    probe = backend.probe()
    if not probe.available:
        pytest.skip(f"rust backend unavailable: {probe.reason}")
    return backend

