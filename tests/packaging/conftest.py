"""Fixtures of the packaging tests: ``packaging/`` importable (it is not a package: the
name would shadow PyPA's ``packaging``), offscreen Qt, and compiled-kernel caches shared
between tests (building numba's kernels from nothing takes tens of seconds on two cores)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
if str(PACKAGING) not in sys.path:
    sys.path.insert(0, str(PACKAGING))

#: The same folder the desktop tests use for core's generated kernels (never user data).
TEST_CACHES = Path(tempfile.gettempdir()) / "atc-desktop-test-caches"


@pytest.fixture(autouse=True)
def _core_home(atc_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """core's generated EMA-only kernels in a folder kept between tests and runs."""
    path = TEST_CACHES / "core-home"
    path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(path))
    return path
