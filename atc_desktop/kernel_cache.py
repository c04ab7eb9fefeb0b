"""numba's machine code for the watchlist's screening, on disk (no Qt).

The screening column advances an incremental EMA-only state on the numba backend
(``core.jit.incremental``); its kernels compile with ``cache=True``, which takes seconds the
first time and a fraction of a second once the cache folder (``NUMBA_CACHE_DIR``) holds
them. :func:`warm` builds them, and a stamp beside numba's files says for which numba,
Python and kernel sources they were built, so that :func:`is_warm` can tell without
compiling anything.

``atc-desktop --warm-cache`` runs :func:`warm`: ``make app`` does after installing, and the
app starts it as a background process on a first start (``kernel_warmup``) while the
screening runs on Rust.
"""
from __future__ import annotations

import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import core.jit

#: The stamp file, in the numba cache folder.
STAMP = "atc-screening-kernels.json"


def cache_folder() -> Path:
    """Where numba keeps this process's cache: ``NUMBA_CACHE_DIR``, or beside the sources."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    return Path(chosen) if chosen else Path(core.jit.__file__).parent / "__pycache__"


def stamp_key() -> dict[str, Any]:
    """What the cached code depends on: numba's and Python's versions and the kernels'
    source files (numba recompiles when one of them changes)."""
    sources = sorted(Path(core.jit.__file__).parent.glob("*.py"))
    try:
        numba_version = metadata.version("numba")
    except metadata.PackageNotFoundError:      # a bundle without the package's metadata
        import numba

        numba_version = numba.__version__
    return {
        "numba": numba_version,
        "python": sys.version,
        "sources": {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sources},
    }


def is_warm() -> bool:
    """True when the cache folder holds the screening kernels for this installation."""
    try:
        saved = json.loads((cache_folder() / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(saved == stamp_key())


def warm() -> float:
    """Compile (or load) every screening kernel the app runs and write the stamp; returns
    the seconds it took. Runs each path once on tiny data: a refresh's few bars (serial),
    a whole history (the parallel variant) and a forming bar."""
    import numpy as np

    from core.config import ATCConfig
    from core.jit import incremental

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    config = ATCConfig()
    few = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (2, 300)), axis=1))
    state, _ = incremental.screen_init(few, config, tail=1)
    incremental.screen_update(state, few[:, -1:] * 1.001)
    incremental.screen_forming(state, few[:, -1] * 1.002)
    whole = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, (1, incremental.PARALLEL_MIN_STEPS)), axis=1))
    incremental.screen_init(whole, config, tail=1)
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp_key()), encoding="utf-8")
    tmp.replace(folder / STAMP)
    return time.perf_counter() - t0


def warm_command() -> list[str]:
    """The command line that runs :func:`warm` in a process of its own: this interpreter
    with ``-m atc_desktop``, or the packaged app's executable itself."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--warm-cache"]
    return [sys.executable, "-m", "atc_desktop", "--warm-cache"]
