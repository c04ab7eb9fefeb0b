"""The CUDA compute backend: ATC kernels as ``.cu`` sources (``kernels/``), compiled by
NVRTC through CuPy at first use, and the adapter that implements the project's backend
protocol around them.

Importing this package never imports CuPy: :func:`create_backend` returns a backend whose
``probe()`` says precisely why it cannot run (CuPy missing, no driver or device, driver too
old, compilation failed), so the registry falls back to the next backend. CuPy is the
optional ``gpu`` extra. See ``docs/cuda.md`` for the thread mapping and the cost model.
"""
from __future__ import annotations

from core.backends.base import Backend

__all__ = ["create_backend"]


def create_backend() -> Backend:
    """The CUDA backend (probing, and compiling, happen on its first ``probe()``)."""
    from cuda_backend.backend import CudaBackend

    return CudaBackend()
