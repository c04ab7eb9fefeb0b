"""Kernels generated for one configuration (EMA-only screening, ``family:F`` batches and
the full ATC), their on-disk cache and their background build.

The source comes from ``core.jit.screen_source``: the family's nine lengths and their
constants (α, KAMA's, the WMA/LINREG coefficients), the cutout, weight, decay and thresholds
are literals, the member loop is unrolled, and a block of symbols advances together with
the symbol as the innermost (vectorised) loop. Results are bit-identical to the generic
kernel's. ``supports`` says which configurations have such a kernel (the
HMA family's Hull option has none; the generic kernel serves it).

The source is written once per configuration into the cache folder and imported from
there, which lets numba's ``cache=True`` reuse the machine code across runs. Before each
import the file is compared with the source generated for the configuration: a damaged or
altered file is written again, never run. A background build that fails is recorded
(``build_failure``, ``recorded_failures``, the backend's fallback report) and retried with
back-off, not on every refresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from dataclasses import dataclass
from typing import Any, Callable

from core.jit.kernel_types import Bools, Floats, Int8s, Ints
from core.jit.screen_source import kernel_source, supports
from core.kernel_params import KernelParams
from core.paths import cache_dir

__all__ = ["kernel_source", "supports", "specialised_screen", "ready", "building",
           "build_failure", "compile_in_background", "wait_for_background", "recorded_failures",
           "BuildFailure"]

log = logging.getLogger(__name__)

TEMPLATE_VERSION = "10"

#: Back-off of a failed background build: first retry after this many seconds, doubling
#: with each failure up to RETRY_MAX_S.
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 960.0


def _load(path: Path, name: str, source: str) -> ModuleType:
    """Run ``source`` as module ``name`` of file ``path``. The caller has checked that the
    file holds exactly ``source``; the checked text is what runs (no re-read of the file, no
    bytecode cache beside it), and numba's ``cache=True`` still keys on ``path``."""
    code = compile(source, str(path), "exec", dont_inherit=True)
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(code, module.__dict__)
    return module


#: A generated kernel: screen(closes, starts, g, tail, o_sig, o_feq, o_avg, o_dir, o_long,
#: o_short, o_last, o_since, threads), the outputs written in place (o_avg only by the full
#: ATC's); the symbols go in blocks for that many threads.
Kernel = Callable[[Floats, Ints, Floats, int, Floats, Floats, Floats, Floats, Bools, Bools,
                   Int8s, Ints, int], None]

_loaded: dict[str, Kernel] = {}
_compiling: dict[str, threading.Thread] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class BuildFailure:
    """A background build of one configuration's kernel that failed."""

    digest: str
    reason: str
    time: float          # wall clock of the failure
    attempts: int        # consecutive failed builds of this kernel
    retry_in_s: float    # back-off before the next build is tried
    retry_at: float      # time.monotonic() from which it may be tried again
    kernel: str = "EMA-only"  # what the kernel computes (KernelParams.mode_label)


_failures: dict[str, BuildFailure] = {}


def _digest(text: str) -> str:
    return hashlib.sha1((TEMPLATE_VERSION + text).encode()).hexdigest()[:16]


_regenerated: set[str] = set()     # digests whose altered file was logged (once each)


def _ensure_source(path: Path, text: str, digest: str) -> None:
    """Make ``path`` hold exactly ``text``. Its expected content is known (generated from
    the configuration), so the whole file is compared with it, which is stronger than a
    recorded hash that whoever altered the file could rewrite as well: a truncated,
    garbled or edited file is regenerated, never imported (logged once per kernel)."""
    expected = text.encode("utf-8")
    try:
        found: bytes | None = path.read_bytes()
    except FileNotFoundError:
        found = None
    if found == expected:
        return                # untouched: keeps its mtime, so numba's on-disk cache stays valid
    if found is not None and digest not in _regenerated:
        _regenerated.add(digest)
        log.warning("generated kernel %s is damaged or was altered (%d bytes, not the %d "
                    "generated for its configuration); it is not run and is written again",
                    path, len(found), len(expected))
    # Write then rename: a concurrent process or thread never reads a half-written file.
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(expected)
    os.replace(tmp, path)


def _import_kernel(params: KernelParams) -> tuple[str, Kernel]:
    """Write (when missing or not as generated) and import the generated module; returns
    (digest, uncompiled kernel)."""
    text = kernel_source(params)
    digest = _digest(text)
    folder = cache_dir() / "codegen"
    folder.mkdir(parents=True, exist_ok=True)
    what = "full" if params.families == 6 else f"{params.family_name.lower()}_screen"
    name = f"atc_{what}_{digest}"
    path = folder / f"{name}.py"
    _ensure_source(path, text, digest)
    return digest, _load(path, name, text).screen


def specialised_screen(params: KernelParams) -> Kernel:
    """The screening kernel for ``params`` (cached per process; numba compiles it on the
    first call, or loads it from its on-disk cache). Raises whatever generation or import
    raises; the caller falls back."""
    digest = _digest(kernel_source(params))
    if digest not in _loaded:
        _loaded[digest] = _import_kernel(params)[1]
    return _loaded[digest]


def ready(params: KernelParams) -> bool:
    """Whether the kernel for ``params`` can run now without compiling first."""
    return _digest(kernel_source(params)) in _loaded


def building(params: KernelParams) -> bool:
    """Whether a background build of the kernel for ``params`` is running now."""
    digest = _digest(kernel_source(params))
    with _lock:
        thread = _compiling.get(digest)
    return thread is not None and thread.is_alive()


def build_failure(params: KernelParams) -> BuildFailure | None:
    """The last failed background build of the kernel for ``params`` (None when its last
    build succeeded or none was tried)."""
    with _lock:
        return _failures.get(_digest(kernel_source(params)))


def _failure_file() -> Path:
    return cache_dir() / "codegen" / "build_failures.json"


def recorded_failures() -> list[dict[str, Any]]:
    """Failed background builds recorded on disk (by any process, newest last), so that
    ``atc backends`` can report them: each has digest, reason, time, attempts and kernel
    (``KernelParams.mode_label``)."""
    try:
        data = json.loads(_failure_file().read_text())
    except (OSError, ValueError):
        return []
    rows = [dict(v, digest=k) for k, v in data.items() if isinstance(v, dict)]
    return sorted(rows, key=lambda r: r.get("time", 0.0))


def _persist(digest: str, failure: BuildFailure | None) -> None:
    """Record (or, after a successful build, forget) a failure on disk; best effort."""
    try:
        path = _failure_file()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        if failure is None:
            if digest not in data:
                return
            data.pop(digest)
        else:
            data[digest] = {"reason": failure.reason, "time": failure.time,
                            "attempts": failure.attempts, "kernel": failure.kernel}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


def compile_in_background(params: KernelParams, warm: Callable[[Kernel], None],
                          on_failure: Callable[[BuildFailure], None] | None = None) -> bool:
    """Start building the kernel for ``params`` on a daemon thread (once per config);
    ``warm(kernel)`` runs it on a tiny input so numba compiles it there, not in the caller.
    The kernel counts as ready only once that has finished.

    A failed build is recorded (``build_failure``, on disk for ``recorded_failures``) and
    reported to ``on_failure`` from the build thread; it is tried again only after a
    back-off of RETRY_FIRST_S seconds, doubling with each failure up to RETRY_MAX_S.
    Returns False when the kernel is loaded, being built or still backing off."""
    digest = _digest(kernel_source(params))
    with _lock:
        if digest in _loaded or (digest in _compiling and _compiling[digest].is_alive()):
            return False
        previous = _failures.get(digest)
        if previous is not None and time.monotonic() < previous.retry_at:
            return False

        def build() -> None:
            try:
                _, kernel = _import_kernel(params)
                warm(kernel)
            except Exception as exc:  # recorded; the generic kernel keeps serving
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                attempts = previous.attempts + 1 if previous is not None else 1
                delay = min(RETRY_FIRST_S * 2.0 ** (attempts - 1), RETRY_MAX_S)
                failure = BuildFailure(digest, reason, time.time(), attempts, delay,
                                       time.monotonic() + delay, params.mode_label)
                with _lock:
                    _failures[digest] = failure
                _persist(digest, failure)
                if on_failure is not None:
                    try:
                        on_failure(failure)
                    except Exception:  # a broken listener must not hide the failure
                        pass
                return
            with _lock:
                _loaded[digest] = kernel
                had_failed = _failures.pop(digest, None) is not None
            if had_failed:
                _persist(digest, None)

        thread = threading.Thread(target=build, name=f"atc-codegen-{digest}", daemon=True)
        _compiling[digest] = thread
        thread.start()
        return True


def wait_for_background(timeout: float | None = None) -> bool:
    """Wait until every background build has finished (so its kernel is in numba's
    on-disk cache); False when ``timeout`` seconds pass first."""
    with _lock:
        threads = list(_compiling.values())
    deadline = None if timeout is None else time.monotonic() + timeout
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)
