"""EMA-only screening kernel generated for one configuration.

The nine EMA lengths, their α, the cutout, weight, decay and thresholds are written into
the kernel's source as literals and the member loop is unrolled, so LLVM sees straight-line
code with constants. The source is written once per configuration into the cache folder and
imported from there, which lets numba's ``cache=True`` reuse the machine code across runs.
The arithmetic calls the generic kernel's helpers, so results are bit-identical to the
generic path's EMA outputs.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import textwrap
import threading
from pathlib import Path
from types import ModuleType
from typing import Callable

from core.config import ATCConfig
from core.paths import cache_dir

TEMPLATE_VERSION = "3"

_HEADER = '''"""Generated EMA-only ATC screening kernel; see core/jit/codegen.py."""
import numpy as np
from numba import njit, prange
from core.jit.kernels import crossover_step, ema_update, equity_step, event_step, round2

NAN = np.nan


@njit(cache=True, parallel=True)
def screen(closes, starts, g, tail, o_sig, o_feq, o_dir, o_long, o_short, o_last, o_since):
    for i in prange(closes.shape[0]):
        o_last[i], o_since[i] = screen_one(closes[i, starts[i]:], g, tail, o_sig[i, 0],
                                           o_feq[i, 0], o_dir[i], o_long[i], o_short[i])


@njit(cache=True)
def screen_one(x, g, tail, o_sig, o_feq, o_dir, o_long, o_short):
    # The body lives outside the prange driver: numba's parallel passes then see a tiny
    # loop, which keeps the compile time of each configuration short.
'''

_PROLOGUE = '''        n = x.shape[0]
        off = n - tail
'''

_MEMBER_INIT = "        seed{m} = 0.0; y{m} = NAN; st{m} = 0; a{m} = 0.0; e{m} = NAN; mp{m} = NAN\n"

_LOOP_HEAD = '''        sig = NAN; f_a = 0.0; f_e = NAN; direction = NAN
        cols_prev = NAN; base_prev = NAN; last_sign = 0; last_bar = -1
        for t in range({first}, {last}):
            c = x[t]
            c_prev = x[t - 1] if t > 0 else NAN
            active = t >= {cutout}
            r = (c - c_prev) / c_prev * g[t - {cutout}] if (active and t > 0) else NAN
            num = 0.0
            den = 0.0
'''

# Warm-up bars: members still seeding, equities not yet active.
_MEMBER_WARMUP = '''            seed{m}, y{m} = ema_update(x, t, {n}, {alpha!r}, seed{m}, y{m})
            p = st{m} if t > 0 else NAN
            st{m} = crossover_step(st{m}, c, c_prev, y{m}, mp{m})
            mp{m} = y{m}
            if active:
                a{m}, e{m} = equity_step(t, {cutout}, r, p, a{m}, e{m}, 1.0, {decay!r})
                num = num + st{m} * e{m}
                den = den + e{m}
'''

# Steady bars (every member seeded, t > cutout): the same arithmetic without the
# warm-up branches, all state in locals.
_STEADY_HEAD = '''        for t in range({first}, n):
            c = x[t]
            c_prev = x[t - 1]
            active = True
            r = (c - c_prev) / c_prev * g[t - {cutout}]
            num = 0.0
            den = 0.0
'''

_MEMBER_STEADY = '''            y{m} = y{m} + {alpha!r} * (c - y{m})
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
            if e{m} < 0.25:
                e{m} = 0.25
            num = num + st{m} * e{m}
            den = den + e{m}
'''

_LOOP_TAIL = '''            sig_prev = sig
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
'''

_END = '''        return last_sign, (n - 1 - last_bar if last_bar >= 0 else -1)
'''


def kernel_source(config: ATCConfig) -> str:
    """Python source of the screening kernel specialised for ``config``."""
    lengths = [int(v) for v in config.member_lengths()[0]]
    decay = 1.0 - config.delta
    cutout = config.cutout
    steady = max(max(lengths), cutout + 1)     # first bar with every member seeded, t > cutout
    tail = _LOOP_TAIL.format(cutout=cutout, weight=config.ema_w, decay=decay,
                             long_th=config.long_threshold, short_th=config.short_threshold,
                             strategy=bool(config.strategy))
    members = list(enumerate(lengths))
    parts = [_PROLOGUE]
    parts += [_MEMBER_INIT.format(m=m) for m in range(9)]
    parts.append(_LOOP_HEAD.format(first=0, last=f"min(n, {steady})", cutout=cutout))
    parts += [_MEMBER_WARMUP.format(m=m, n=n, alpha=2.0 / (n + 1), cutout=cutout, decay=decay)
              for m, n in members]
    parts.append(tail)
    parts.append(_STEADY_HEAD.format(first=steady, cutout=cutout))
    parts += [_MEMBER_STEADY.format(m=m, alpha=2.0 / (n + 1), decay=decay) for m, n in members]
    parts.append(tail)
    parts.append(_END)
    # The fragments are written at loop depth; the function body sits one level in.
    return _HEADER + textwrap.indent(textwrap.dedent("".join(parts)), "    ")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load generated kernel {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_loaded: dict[str, Callable] = {}
_compiling: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def _digest(text: str) -> str:
    return hashlib.sha1((TEMPLATE_VERSION + text).encode()).hexdigest()[:16]


def specialised_screen(config: ATCConfig) -> Callable:
    """The compiled-on-first-call screening kernel for ``config`` (cached per process and on
    disk). Raises whatever generation or import raises; the caller falls back."""
    text = kernel_source(config)
    digest = _digest(text)
    if digest in _loaded:
        return _loaded[digest]
    folder = cache_dir() / "codegen"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"atc_ema_screen_{digest}"
    path = folder / f"{name}.py"
    if not path.exists():
        # Write then rename: a concurrent process never imports a half-written file, and an
        # unchanged file keeps its mtime so numba's on-disk cache stays valid.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    kernel = _load(path, name).screen
    _loaded[digest] = kernel
    return kernel


def ready(config: ATCConfig) -> bool:
    """Whether the kernel for ``config`` is loaded in this process."""
    return _digest(kernel_source(config)) in _loaded


def compile_in_background(config: ATCConfig, warm: Callable[[Callable], None]) -> bool:
    """Start building the kernel for ``config`` on a daemon thread (once per config);
    ``warm(kernel)`` runs it on a tiny input so numba compiles it there, not in the caller.
    Returns False when it is already loaded or being built."""
    digest = _digest(kernel_source(config))
    with _lock:
        if digest in _loaded or (digest in _compiling and _compiling[digest].is_alive()):
            return False

        def build() -> None:
            try:
                warm(specialised_screen(config))
            except Exception:  # the caller's next synchronous attempt reports the reason
                _loaded.pop(digest, None)

        thread = threading.Thread(target=build, name=f"atc-codegen-{digest}", daemon=True)
        _compiling[digest] = thread
        thread.start()
        return True
