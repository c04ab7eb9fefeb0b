"""Host-side pieces of the CUDA backend that need neither CuPy nor a GPU.

The kernel source assembly, the per-call constants (``c_atc`` in ``atc_common.cuh``) and
the scratch-ring layout, both from one :class:`core.kernel_params.KernelParams`, the
growth-factor table, the kernel signatures, the batch chunk plan and the decoding of kernel
outputs. Everything here is plain numpy, so the tests exercise it on any machine, and the
CPU emulation of the kernels (tests/cuda) runs through exactly this code.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from core.kernel_params import KernelParams

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
#: Translation units of the runtime module, in the order they are concatenated.
KERNEL_FILES: tuple[str, ...] = ("atc_prepare.cu", "atc_full.cu", "atc_ema_only.cu")
#: --fmad=false: NVRTC contracts a*b+c into one fused multiply-add by default, which keeps
#: the product unrounded; spec §4.8's arithmetic (and the numpy reference) rounds every
#: operation, and an FMA would change the last bits of the MAs, flip exact ties with the
#: close and Layer 1's round2. NVRTC's default is IEEE division and square root for doubles.
#: The CPU emulation compiles the same files with g++ -ffp-contract=off for the same reason.
COMPILE_OPTIONS: tuple[str, ...] = ("--std=c++17", "--fmad=false")

WARP = 32
CHUNK = 8                       # ATC_CHUNK
HULL_RING = 64                  # ATC_HULL_RING
SIG_NA = -128                   # ATC_SIG_NA
FLAG_ARROW_LONG, FLAG_ARROW_SHORT, FLAG_LONG, FLAG_SHORT = 1, 2, 4, 8
FULL_THREADS = 6 * WARP
EMA_THREADS = 9 * WARP
PREPARE_BLOCK = (32, 8)
#: The prepare kernel's grid.y counts 32-symbol tiles and CUDA caps grid.y at 65,535.
MAX_CHUNK_SYMBOLS = 65_535 * WARP

#: Parameter lists of the kernels (name, type) in declaration order. CuPy passes arguments
#: as raw bytes, so a wrong type would be read as garbage: a test checks these against the
#: .cu sources. Types: "ptr", "i32", "i64", "f64".
KERNEL_SIGNATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "atc_prepare_kernel": (
        ("rows", "ptr"), ("n_sym", "i32"), ("n_bars", "i32"), ("out", "ptr"), ("pitch", "i64"),
        ("first_finite", "ptr"), ("last_nonfinite", "ptr"), ("first_nonpos", "ptr"),
    ),
    "atc_full_kernel": (
        ("close_t", "ptr"), ("src_t", "ptr"), ("pitch", "i64"), ("n_bars", "i32"), ("n_sym", "i32"),
        ("starts", "ptr"), ("gtab", "ptr"), ("ring", "ptr"), ("ring_stride", "i64"),
        ("tail", "i32"), ("o_avg", "ptr"), ("o_sig", "ptr"), ("o_eq", "ptr"), ("o_dir", "ptr"),
        ("o_flags", "ptr"), ("o_last", "ptr"), ("o_since", "ptr"), ("want_base", "i32"),
        ("o_base", "ptr"), ("detail", "i32"), ("d_mas", "ptr"), ("d_states", "ptr"), ("d_eq", "ptr"),
    ),
    "atc_ema_only_kernel": (
        ("close_t", "ptr"), ("pitch", "i64"), ("n_bars", "i32"), ("n_sym", "i32"), ("starts", "ptr"),
        ("gtab", "ptr"), ("tail", "i32"), ("o_sig", "ptr"), ("o_eq", "ptr"), ("o_dir", "ptr"),
        ("o_flags", "ptr"), ("o_last", "ptr"), ("o_since", "ptr"),
    ),
}
KERNEL_SIGNATURES["atc_full_hull_kernel"] = KERNEL_SIGNATURES["atc_full_kernel"]

#: numpy mirror of ``struct AtcMember`` / ``struct AtcParams`` (natural C alignment).
MEMBER_DTYPE = np.dtype([("k0", "<f8"), ("k1", "<f8"), ("k2", "<f8"),
                         ("n", "<i4"), ("n1", "<i4"), ("n2", "<i4"), ("off", "<i4")], align=True)
PARAMS_DTYPE = np.dtype([
    ("mem", MEMBER_DTYPE, (54,)), ("weights", "<f8", (6,)),
    ("decay", "<f8"), ("cut_thr", "<f8"), ("long_thr", "<f8"), ("short_thr", "<f8"),
    ("cutout", "<i4"), ("colbase", "<i4"), ("alertbase", "<i4"), ("strategy", "<i4"),
], align=True)

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.M)


def module_source(files: tuple[str, ...] = KERNEL_FILES) -> str:
    """One source string for the runtime module, local headers inlined once each.

    CuPy's on-disk kernel cache is keyed by the source text and the options, not by the
    headers it would find through ``-I``: inlining them makes an edited header recompile.
    """
    seen: set[str] = set()

    def expand(name: str) -> str:
        if name in seen:
            return ""
        seen.add(name)
        text = (KERNEL_DIR / name).read_text()
        return _INCLUDE.sub(lambda m: expand(m.group(1)), text)

    return "\n".join(expand(f) for f in files)


def _sequential_sum(terms: Iterable[int]) -> float:
    total = 0.0
    for v in terms:
        total = total + float(v)
    return total


def member_constants(params: KernelParams) -> tuple[np.ndarray, int]:
    """The (54,) ``AtcMember`` records and the scratch-ring rows per symbol.

    The constants are computed as the reference computes them (Python floats are IEEE
    doubles: ``2.0 / (n + 1)`` is bit for bit the α of ``core.atc.moving_averages.ema``; the
    WMA norm and LINREG's sx, sx2 are sequential float sums of integers, exact). The ring
    gives each member that needs one its rows (``off``): the HMA family math.sum's n
    realised entries (the Hull option: ATC_HULL_RING raw values), DEMA E1's n values during
    E2's seed, KAMA's n-entry noise ring. Only the full kernel uses the ring (0 rows in
    EMA-only mode).
    """
    lengths = params.lengths
    out = np.zeros(54, dtype=MEMBER_DTYPE)
    rows = 0
    for f in range(params.families):
        for m in range(9):
            n = int(lengths[f, m])
            rec = out[f * 9 + m]
            rec["n"] = n
            if f in (0, 3):                                  # EMA, DEMA
                rec["k0"] = 2.0 / (n + 1)
            elif f == 2:                                     # WMA
                rec["k0"] = _sequential_sum(range(1, n + 1))
            elif f == 4:                                     # LSMA
                sx = _sequential_sum(range(1, n + 1))
                sx2 = _sequential_sum(i * i for i in range(1, n + 1))
                rec["k0"] = sx
                rec["k1"] = float(n) * sx2 - sx * sx
            elif f == 1 and params.hull:                     # Hull option
                half = max(1, n // 2)
                root = max(1, int(math.floor(math.sqrt(n))))
                rec["n1"], rec["n2"] = half, root
                rec["k0"] = _sequential_sum(range(1, half + 1))
                rec["k1"] = _sequential_sum(range(1, n + 1))
                rec["k2"] = _sequential_sum(range(1, root + 1))
            if params.families == 6 and f in (1, 3, 5):
                rec["off"] = rows
                rows += HULL_RING if (f == 1 and params.hull) else n
    return out, rows


def ring_rows(params: KernelParams) -> int:
    """Rows of the per-symbol scratch ring the full kernel needs (0 in EMA-only mode)."""
    return member_constants(params)[1]


@functools.lru_cache(maxsize=32)
def _call_params(params: KernelParams) -> bytes:
    p = np.zeros((), dtype=PARAMS_DTYPE)
    p["mem"] = member_constants(params)[0]
    p["weights"] = params.weights
    p["decay"] = 1.0 - params.delta          # the reference's `decay = 1.0 - delta`
    p["cut_thr"] = params.cut_threshold
    p["long_thr"] = params.long_threshold
    p["short_thr"] = params.short_threshold
    p["cutout"] = params.cutout
    p["colbase"] = params.colbase
    p["alertbase"] = params.alertbase
    p["strategy"] = int(params.strategy)
    return p.tobytes()


def call_params(params: KernelParams) -> np.ndarray:
    """The bytes of ``c_atc`` for a parameter set, as a uint8 array of ``PARAMS_DTYPE.itemsize``."""
    return np.frombuffer(_call_params(params), dtype=np.uint8)


@functools.lru_cache(maxsize=16)
def _growth(lam: float, length: int) -> np.ndarray:
    table = np.array([math.e ** (lam * k) for k in range(length)], dtype=np.float64)
    table.flags.writeable = False
    return table


def growth_table(params: KernelParams, bars: int) -> np.ndarray:
    """g[k] = e^(λ·k) for k = t − cutout = 0 … bars − 1 − cutout (at least one entry).

    Computed with Python's ``math.e ** x`` exactly as ``core.atc.equity.growth_factor``:
    the device's pow is not correctly rounded, so the kernels read this table instead.
    """
    return _growth(params.lam, max(bars - params.cutout, 1))


def pitch_for(symbols: int) -> int:
    """Columns of a bar-major device array: whole warps, so every block reads in bounds."""
    return max(WARP, -(-symbols // WARP) * WARP)


def bytes_per_symbol(bars: int, tail: int, families: int, rows: int) -> int:
    """Device bytes one symbol of a batch chunk needs: its row, its transposed column,
    the tail outputs, the validation counters and its ``rows`` of the scratch ring."""
    per = 2 * bars * 8                                  # rows + bar-major copy
    per += tail * (families * 16 + 8 + 8 + 1)           # signals, equities, avg, direction, flags
    per += 3 * 4 + 4 + 1 + 8                            # counters, start, last event, since
    per += rows * 8
    return per


@dataclass(frozen=True)
class ChunkPlan:
    """How a batch is cut into launches: ``size`` symbols each (a multiple of 32)."""

    size: int
    count: int
    buffers: int        # buffer sets in flight (2: copy of chunk k+1 overlaps kernel k)


def plan_chunks(symbols: int, bars: int, tail: int, families: int, rows: int,
                free_bytes: int, resident_symbols: int, max_chunks: int = 4,
                memory_fraction: float = 0.6) -> ChunkPlan:
    """Choose the chunk size of a batch.

    Parameters
    ----------
    rows : scratch-ring rows per symbol (:func:`ring_rows`).
    free_bytes : free device memory now.
    resident_symbols : symbols the device runs at once (blocks per SM × SMs × 32): a chunk
        smaller than that would leave SMs idle, so pipelining never goes below it.
    max_chunks : upper bound on chunks for pipelining host→device copies with kernels.
    memory_fraction : share of the free memory the buffers may take.

    Raises
    ------
    MemoryError when not even one warp of symbols fits (a row longer than device memory).
    """
    per = bytes_per_symbol(bars, tail, families, rows)
    budget = int(free_bytes * memory_fraction)
    fit = (budget // (2 * per)) // WARP * WARP            # two buffer sets
    if fit < WARP:
        fit = min((budget // per) // WARP * WARP, MAX_CHUNK_SYMBOLS)   # one buffer set
        if fit < WARP:
            raise MemoryError(
                f"a chunk of {WARP} symbols × {bars} bars needs {WARP * per / 2**20:.1f} MiB of device "
                f"memory but only {free_bytes / 2**20:.1f} MiB are free")
        return ChunkPlan(fit, -(-symbols // fit), 1)
    want = pitch_for(-(-symbols // max_chunks))
    size = min(fit, max(want, pitch_for(min(resident_symbols, symbols))))
    size = min(size, pitch_for(symbols), MAX_CHUNK_SYMBOLS)
    return ChunkPlan(size, -(-symbols // size), 2 if -(-symbols // size) > 1 else 1)


def decode_flags(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(arrow_long, arrow_short, long, short) booleans from the kernels' uint8 flags."""
    return ((flags & FLAG_ARROW_LONG) != 0, (flags & FLAG_ARROW_SHORT) != 0,
            (flags & FLAG_LONG) != 0, (flags & FLAG_SHORT) != 0)


def bad_rows(first_finite: np.ndarray, last_nonfinite: np.ndarray, first_nonpos: np.ndarray,
             bars: int) -> np.ndarray:
    """Rows that break the batch contract of ``core.types.as_batch`` (see atc_prepare.cu)."""
    return (last_nonfinite > first_finite) | (first_nonpos < bars) | (bars - first_finite < 2)
