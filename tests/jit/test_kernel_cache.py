"""The generated screening kernel's cache file: a damaged file is regenerated (and the
kernel still gives the generic kernel's results), an altered one never runs."""
from __future__ import annotations

import importlib.util
import logging
import marshal
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.config import ATCConfig
from core.jit import codegen
from core.jit.backend import NumbaBackend
from core.kernel_params import KernelParams
from tests.conftest import random_walk

#: These check that the kernel run is numba's dispatcher of the checked source.
pytestmark = pytest.mark.jit_only


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: no kernel imported yet, no warning given yet."""
    monkeypatch.setattr(codegen, "_loaded", {})
    monkeypatch.setattr(codegen, "_regenerated", set())


def kernel_file(atc_home: Path, params: KernelParams) -> Path:
    digest = codegen._digest(codegen.kernel_source(params))
    return atc_home / "cache" / "codegen" / f"atc_ema_screen_{digest}.py"


def planted(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def warnings_about(caplog: Any, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "core.jit.codegen" and str(path) in r.getMessage()]


def test_a_garbage_cache_file_is_regenerated_and_the_kernel_is_right(atc_home: Path, caplog: Any) -> None:
    config = ATCConfig(ema_len=26, cutout=4)
    params = KernelParams.from_config(config, "ema_only")
    path = kernel_file(atc_home, params)
    planted(path, b"\xff\xfe\x00 not python at all \x00")
    closes = np.vstack([random_walk(400, seed=s) for s in range(5)])
    closes[2, :30] = np.nan
    backend = NumbaBackend()
    with caplog.at_level(logging.WARNING, logger="core.jit.codegen"):
        fast = backend.compute_batch(closes, config, tail=100, mode="ema_only")
    assert fast.notes == ["EMA-only: specialised kernel"] and not backend.specialisation_failures
    assert path.read_bytes() == codegen.kernel_source(params).encode()
    assert len(warnings_about(caplog, path)) == 1
    generic = backend.compute_batch(closes, config.replace(use_codegen_specialization=False),
                                    tail=100, mode="ema_only")
    for name in ("signals", "family_equities", "direction", "long", "short", "last_event",
                 "bars_since_event"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(generic, name), err_msg=name)


def test_a_truncated_cache_file_is_regenerated(atc_home: Path, caplog: Any) -> None:
    params = KernelParams.from_config(ATCConfig(ema_len=33), "ema_only")
    source = codegen.kernel_source(params)
    path = kernel_file(atc_home, params)
    planted(path, source.encode()[: len(source) // 2])
    with caplog.at_level(logging.WARNING, logger="core.jit.codegen"):
        kernel = codegen.specialised_screen(params)
    assert kernel.py_func.__name__ == "screen"
    assert path.read_bytes() == source.encode()
    assert len(warnings_about(caplog, path)) == 1


def _marker_code(marker: Path) -> str:
    return f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"


@pytest.mark.parametrize("alteration", ["append marker", "prepend marker", "append SystemExit"])
def test_an_altered_cache_file_is_never_run(atc_home: Path, tmp_path: Path, caplog: Any,
                                            alteration: str) -> None:
    params = KernelParams.from_config(ATCConfig(ema_len=37), "ema_only")
    source = codegen.kernel_source(params)
    path = kernel_file(atc_home, params)
    marker = tmp_path / "marker"
    altered = {"append marker": source + _marker_code(marker),
               "prepend marker": _marker_code(marker) + source,
               "append SystemExit": source + "\nraise SystemExit(3)\n"}[alteration]
    planted(path, altered.encode())
    with caplog.at_level(logging.WARNING, logger="core.jit.codegen"):
        kernel = codegen.specialised_screen(params)
        assert not marker.exists(), "the altered file ran"
        assert kernel.py_func.__name__ == "screen"
        assert path.read_bytes() == source.encode()
        # Altered again in the same process: still never run, and not logged twice.
        planted(path, altered.encode())
        codegen._loaded.clear()
        codegen.specialised_screen(params)
    assert not marker.exists()
    assert path.read_bytes() == source.encode()
    assert len(warnings_about(caplog, path)) == 1


def test_a_planted_bytecode_cache_beside_the_kernel_is_never_run(atc_home: Path, tmp_path: Path) -> None:
    """Python's importer trusts a .pyc whose header matches the source's mtime and size;
    the kernel runs only the checked source text, so such a file cannot stand in for it."""
    params = KernelParams.from_config(ATCConfig(ema_len=29), "ema_only")
    source = codegen.kernel_source(params)
    path = kernel_file(atc_home, params)
    planted(path, source.encode())
    marker = tmp_path / "marker"
    stat = path.stat()
    evil = compile(source + _marker_code(marker), str(path), "exec")
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(stat.st_mtime) & 0xFFFFFFFF,
                                                       stat.st_size & 0xFFFFFFFF)
    pyc.write_bytes(header + marshal.dumps(evil))
    kernel = codegen.specialised_screen(params)
    assert kernel.py_func.__name__ == "screen"
    assert not marker.exists(), "the planted bytecode ran"

