"""The Rust compute backend: a crate of ATC kernels (``src/``) built by maturin into the
private extension ``rust_backend._native``, and the adapter that implements the project's
backend protocol around it (``backend.py``).

Importing this package never fails when the extension is missing or broken:
:func:`create_backend` returns a backend whose ``probe()`` says why it cannot run, so the
registry falls back to numba.
"""
from __future__ import annotations

from core.backends.base import Backend

__all__ = ["create_backend"]


def create_backend() -> Backend:
    """The Rust backend, loading the compiled module (or recording why it could not)."""
    from rust_backend.backend import RustBackend

    return RustBackend.load()
