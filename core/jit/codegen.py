"""EMA-only screening kernel generated for one configuration.

The nine EMA lengths, their α, the cutout, weight, decay and thresholds are written into
the kernel's source as literals and the member loop is unrolled. Each block of symbols runs
its warm-up bar by bar per symbol (the generic helpers' arithmetic: EMA seeds from the
math.sum machine of spec §4.8, ``sma_seed``), then advances all of
its symbols together with the symbol as the innermost loop, written as selects so that LLVM
vectorises it across symbols. Results are bit-identical to the generic kernel's EMA outputs
(same operations in the same order; no fast-math).

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
import textwrap
import threading
import time
from pathlib import Path
from types import ModuleType
from dataclasses import dataclass
from typing import Callable

from core.kernel_params import KernelParams
from core.paths import cache_dir

log = logging.getLogger(__name__)

TEMPLATE_VERSION = "7"

#: Back-off of a failed background build: first retry after this many seconds, doubling
#: with each failure up to RETRY_MAX_S.
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 960.0

#: Symbols advanced together in the vectorised steady phase.
BLOCK = 128

# Pine's tolerant comparisons in the generated code (spec §4.8): the sign tests read a
# member state (−1/0/+1) or a Layer-1 signal (a multiple of 0.01), which are never within
# 1e-10 of 0 unless 0, so a plain `p > 0` is the tolerant test; the floor `e < 0.25` is
# `0.25 − e > 1e-10`, one subtraction (exact for e ≥ 0.125 by Sterbenz, na → false).

_HEADER = """\"\"\"Generated EMA-only ATC screening kernel; see core/jit/codegen.py.\"\"\"
import numpy as np
from numba import njit, prange
from core.jit.kernels import crossover_step, ema_update, equity_step, event_step, round2, sma_seed

NAN = np.nan
B = {block}
STEADY = {steady}


@njit(cache=True, parallel=True)
def screen(closes, starts, g, tail, o_sig, o_feq, o_dir, o_long, o_short, o_last, o_since):
    # Blocks of symbols with similar first bars (sorted by start) so that a block's
    # warm-up ends at about the same bar for all of its symbols.
    order = np.argsort(starts, kind="mergesort")
    for b in prange((closes.shape[0] + B - 1) // B):
        screen_block(closes, order[b * B:min(closes.shape[0], b * B + B)], starts, g, tail,
                     o_sig, o_feq, o_dir, o_long, o_short, o_last, o_since)


@njit(cache=True)
def screen_block(closes, rows, starts, g, tail, o_sig, o_feq, o_dir, o_long, o_short,
                 o_last, o_since):
    n_bars = closes.shape[1]
    nb = rows.shape[0]
    # One array per state variable (not one matrix): LLVM can then prove the vectorised
    # loops' loads and stores independent.
    Y = np.empty((9, nb)); ST = np.empty((9, nb)); A = np.empty((9, nb))
    E = np.empty((9, nb)); MP = np.empty((9, nb))
    SIG = np.empty(nb); FA = np.empty(nb); FE = np.empty(nb); DIR = np.empty(nb)
    COLS_PREV = np.empty(nb); BASE_PREV = np.empty(nb); LAST_SIGN = np.empty(nb)
    LAST_BAR = np.empty(nb)
    t0 = 0
    for k in range(nb):
        t0 = max(t0, starts[rows[k]] + STEADY)
    t0 = min(t0, n_bars)
    for k in range(nb):                 # each symbol alone until all are past warm-up
        i = rows[k]
        s = starts[i]
        warm(closes[i, s:], g, tail, t0 - s, o_sig[i, 0], o_feq[i, 0], o_dir[i], o_long[i],
             o_short[i], k, Y, ST, A, E, MP, SIG, FA, FE, DIR, COLS_PREV, BASE_PREV,
             LAST_SIGN, LAST_BAR)
    if t0 < n_bars:
        steady(closes, rows, starts, g, tail, t0, o_sig, o_feq, o_dir, o_long, o_short, Y, ST,
               A, E, MP, SIG, FA, FE, DIR, COLS_PREV, BASE_PREV, LAST_SIGN, LAST_BAR)
    for k in range(nb):
        i = rows[k]
        n = n_bars - starts[i]
        o_last[i] = int(LAST_SIGN[k])
        o_since[i] = n - 1 - int(LAST_BAR[k]) if LAST_BAR[k] >= 0 else -1


@njit(cache=True)
def warm(x, g, tail, t_end, o_sig, o_feq, o_dir, o_long, o_short, lane, Y, ST, A, E, MP,
         SIG, FA, FE, DIR, COLS_PREV, BASE_PREV, LAST_SIGN, LAST_BAR):
    # Bar by bar for one symbol up to local bar t_end, then its state goes to the block.
"""

_PROLOGUE = """\
        n = x.shape[0]
        off = n - tail
"""

_MEMBER_INIT = ("        seed{m} = sma_seed(x, 0, {n}); y{m} = NAN; st{m} = 0; a{m} = 0.0; "
                "e{m} = NAN; mp{m} = NAN\n")

_LOOP_HEAD = """\
        sig = NAN; f_a = 0.0; f_e = NAN; direction = NAN
        cols_prev = NAN; base_prev = NAN; last_sign = 0; last_bar = -1
        for t in range(0, min(t_end, STEADY)):
            c = x[t]
            c_prev = x[t - 1] if t > 0 else NAN
            active = t >= {cutout}
            r = (c - c_prev) / c_prev * g[t - {cutout}] if (active and t > 0) else NAN
            num = 0.0
            den = 0.0
"""

# Warm-up bars: members still seeding, equities not yet active.
_MEMBER_WARMUP = """\
            y{m} = ema_update(x, t, {n}, {alpha!r}, seed{m}, y{m})
            p = st{m} if t > 0 else NAN
            st{m} = crossover_step(st{m}, c, c_prev, y{m}, mp{m})
            mp{m} = y{m}
            if active:
                a{m}, e{m} = equity_step(t, {cutout}, r, p, a{m}, e{m}, 1.0, {decay!r})
                num = num + st{m} * e{m}
                den = den + e{m}
"""

# Steady bars of one symbol (every member seeded, t > cutout), before its block joins.
_STEADY_HEAD = """\
        for t in range(STEADY, t_end):
            c = x[t]
            c_prev = x[t - 1]
            active = True
            r = (c - c_prev) / c_prev * g[t - {cutout}]
            num = 0.0
            den = 0.0
"""

_MEMBER_STEADY = """\
            y{m} = y{m} + {alpha!r} * (c - y{m})
            p = st{m}
            if c > y{m} and c_prev <= mp{m}:
                st{m} = 1
            if c < y{m} and c_prev >= mp{m}:
                st{m} = -1
            mp{m} = y{m}
            if p > 0:
                a{m} = r
            elif p < 0:
                a{m} = -r
            e{m} = e{m} * {decay!r} * (1.0 + a{m})
            if (0.25 - e{m}) > 1e-10:
                e{m} = 0.25
            num = num + st{m} * e{m}
            den = den + e{m}
"""

_LOOP_TAIL = """\
            sig_prev = sig
            sig = round2(num / den) if active else NAN
            if active:
                f_a, f_e = equity_step(t, {cutout}, r, sig_prev if t > 0 else NAN, f_a, f_e,
                                       {weight!r}, {decay!r})
            base, up, down, ev_long, ev_short, d_prev, direction = event_step(
                sig, sig, cols_prev, base_prev, cols_prev, direction, {long_th!r},
                {short_th!r}, {strategy})
            if ev_long or ev_short:
                last_sign = 1 if ev_long else -1
                last_bar = t
            cols_prev = sig
            base_prev = base
            j = t - off
            if j >= 0:
                o_sig[j] = sig
                o_feq[j] = f_e if active else NAN
                o_dir[j] = direction
                o_long[j] = ev_long
                o_short[j] = ev_short
"""

_SAVE_MEMBER = """\
        Y[{m}, lane] = y{m}; ST[{m}, lane] = st{m}; A[{m}, lane] = a{m}
        E[{m}, lane] = e{m}; MP[{m}, lane] = mp{m}
"""

_SAVE_FAMILY = """\
        SIG[lane] = sig; FA[lane] = f_a; FE[lane] = f_e
        DIR[lane] = direction; COLS_PREV[lane] = cols_prev
        BASE_PREV[lane] = base_prev; LAST_SIGN[lane] = last_sign
        LAST_BAR[lane] = last_bar


@njit(cache=True)
def steady(closes, rows, starts, g, tail, t0, o_sig, o_feq, o_dir, o_long, o_short, Y, ST, A,
           E, MP, SIG, FA, FE, DIR, COLS_PREV, BASE_PREV, LAST_SIGN, LAST_BAR):
    # Every symbol of the block is past warm-up: advance them together, one bar at a time,
    # with the symbol as the inner (vectorised) loop. Same arithmetic as warm(), as selects.
    n_bars = closes.shape[1]
    nb = rows.shape[0]
    xb = np.empty((n_bars - t0 + 1, nb))
    goff = np.empty(nb, np.int64)
    for k in range(nb):
        goff[k] = starts[rows[k]] + {cutout}
        for tt in range(n_bars - t0 + 1):
            xb[tt, k] = closes[rows[k], t0 - 1 + tt]
    r = np.empty(nb)
    num = np.empty(nb)
    den = np.empty(nb)
    for tt in range(1, n_bars - t0 + 1):
        t = t0 - 1 + tt
        for k in range(nb):
            c = xb[tt, k]
            c_prev = xb[tt - 1, k]
            r[k] = (c - c_prev) / c_prev * g[t - goff[k]]
            num[k] = 0.0
            den[k] = 0.0
"""

_BLOCK_MEMBER = """\
        for k in range(nb):
            c = xb[tt, k]
            c_prev = xb[tt - 1, k]
            y = Y[{m}, k] + {alpha!r} * (c - Y[{m}, k])
            p = ST[{m}, k]
            s = 1.0 if (c > y) & (c_prev <= MP[{m}, k]) else p
            s = -1.0 if (c < y) & (c_prev >= MP[{m}, k]) else s
            a = r[k] if p > 0 else (-r[k] if p < 0 else A[{m}, k])
            e = E[{m}, k] * {decay!r} * (1.0 + a)
            e = 0.25 if (0.25 - e) > 1e-10 else e
            Y[{m}, k] = y
            MP[{m}, k] = y
            ST[{m}, k] = s
            A[{m}, k] = a
            E[{m}, k] = e
            num[k] = num[k] + s * e
            den[k] = den[k] + e
"""

_BLOCK_TAIL = """\
        for k in range(nb):
            v = num[k] / den[k]
            mag = abs(v) * 100.0
            u = np.floor(mag)
            u = u + 1.0 if mag - u >= 0.5 - 1e-10 else u
            sig = (1.0 if v > 0 else (-1.0 if v < 0 else 0.0)) * u / 100.0
            p = SIG[k]
            fa = r[k] if p > 0 else (-r[k] if p < 0 else FA[k])
            fe = FE[k] * {decay!r} * (1.0 + fa)
            fe = 0.25 if (0.25 - fe) > 1e-10 else fe
            cols_prev = COLS_PREV[k]
            base = {base}
            up = (base > {long_th!r}) & (BASE_PREV[k] <= {long_th!r})
            down = (base < {short_th!r}) & (BASE_PREV[k] >= {short_th!r})
            a_up = (sig > {long_th!r}) & (cols_prev <= {long_th!r})
            a_down = (sig < {short_th!r}) & (cols_prev >= {short_th!r})
            d_prev = DIR[k]
            d = 1.0 if up else d_prev
            d = -1.0 if down else d
            ev_long = a_up & (d_prev == -1.0)
            ev_short = a_down & (d_prev == 1.0)
            hit = ev_long | ev_short
            LAST_SIGN[k] = (1.0 if ev_long else -1.0) if hit else LAST_SIGN[k]
            LAST_BAR[k] = float(t - starts[rows[k]]) if hit else LAST_BAR[k]
            SIG[k] = sig
            FA[k] = fa
            FE[k] = fe
            DIR[k] = d
            COLS_PREV[k] = sig
            BASE_PREV[k] = base
        j = t - (n_bars - tail)
        if j >= 0:
            for k in range(nb):
                i = rows[k]
                o_sig[i, 0, j] = SIG[k]
                o_feq[i, 0, j] = FE[k]
                o_dir[i, j] = DIR[k]
                o_long[i, j] = (LAST_BAR[k] == t - starts[i]) & (LAST_SIGN[k] > 0)
                o_short[i, j] = (LAST_BAR[k] == t - starts[i]) & (LAST_SIGN[k] < 0)
"""

def kernel_source(params: KernelParams) -> str:
    """Python source of the screening kernel specialised for ``params`` (EMA family)."""
    lengths = [int(v) for v in params.lengths[0]]
    decay = 1.0 - params.delta
    cutout = int(params.cutout)
    steady = max(max(lengths), cutout + 1)     # first bar with every member seeded, t > cutout
    members = list(enumerate(lengths))
    constants = dict(cutout=cutout, weight=float(params.weights[0]), decay=decay,
                     long_th=params.long_threshold, short_th=params.short_threshold,
                     strategy=bool(params.strategy))
    warm = [_PROLOGUE]
    warm += [_MEMBER_INIT.format(m=m, n=n) for m, n in members]
    warm.append(_LOOP_HEAD.format(cutout=cutout))
    warm += [_MEMBER_WARMUP.format(m=m, n=n, alpha=2.0 / (n + 1), cutout=cutout, decay=decay)
             for m, n in members]
    warm.append(_LOOP_TAIL.format(**constants))
    warm.append(_STEADY_HEAD.format(cutout=cutout))
    warm += [_MEMBER_STEADY.format(m=m, alpha=2.0 / (n + 1), decay=decay) for m, n in members]
    warm.append(_LOOP_TAIL.format(**constants))
    warm += [_SAVE_MEMBER.format(m=m) for m in range(9)]
    block = [_SAVE_FAMILY.format(cutout=cutout)]
    block += [_BLOCK_MEMBER.format(m=m, alpha=2.0 / (n + 1), decay=decay) for m, n in members]
    base = "cols_prev" if params.strategy else "sig"      # Strategy View lags the base
    block.append(_BLOCK_TAIL.format(base=base, **constants))
    # The fragments are written at loop depth; function bodies sit one level in.
    body = textwrap.indent(textwrap.dedent("".join(warm)), "    ")
    save = textwrap.indent(textwrap.dedent(block[0].split("\n\n\n")[0]), "    ")
    steady_fn = "\n\n" + block[0].split("\n\n\n", 1)[1]
    steady_body = textwrap.indent(textwrap.dedent("".join(block[1:])), "        ")
    return (_HEADER.format(block=BLOCK, steady=steady) + body + save + "\n" +
            steady_fn + steady_body)


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


_loaded: dict[str, Callable] = {}
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


def _import_kernel(params: KernelParams) -> tuple[str, Callable]:
    """Write (when missing or not as generated) and import the generated module; returns
    (digest, uncompiled kernel)."""
    text = kernel_source(params)
    digest = _digest(text)
    folder = cache_dir() / "codegen"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"atc_ema_screen_{digest}"
    path = folder / f"{name}.py"
    _ensure_source(path, text, digest)
    return digest, _load(path, name, text).screen


def specialised_screen(params: KernelParams) -> Callable:
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


def build_failure(params: KernelParams) -> BuildFailure | None:
    """The last failed background build of the kernel for ``params`` (None when its last
    build succeeded or none was tried)."""
    with _lock:
        return _failures.get(_digest(kernel_source(params)))


def _failure_file() -> Path:
    return cache_dir() / "codegen" / "build_failures.json"


def recorded_failures() -> list[dict]:
    """Failed background builds recorded on disk (by any process, newest last), so that
    ``atc backends`` can report them: each has digest, reason, time and attempts."""
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
                            "attempts": failure.attempts}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


def compile_in_background(params: KernelParams, warm: Callable[[Callable], None],
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
                                       time.monotonic() + delay)
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
