"""Fixtures of the CUDA backend tests: the CPU emulation library and GPU availability."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cuda import emulator


@pytest.fixture(scope="session")
def emu_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kernels compiled by g++ for the CPU emulation (skipped without g++)."""
    if emulator.compiler() is None:
        pytest.skip("g++ is not installed: the CPU emulation of the CUDA kernels cannot be built")
    return emulator.build(tmp_path_factory.mktemp("cuda-emu"))
