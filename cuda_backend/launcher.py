"""Launching the ATC kernels on any executor: size the launches, pack the arguments, plan
the chunks, assemble the outputs.

:class:`Launcher` holds the orchestration — constants into ``c_atc``, the growth table,
the batch chunk plan (by free device memory and the number of symbols the device runs at
once), two buffer sets so that the copy of chunk k+1 overlaps the kernels of chunk k, the
device-side validation of the batch, and only the last ``tail`` bars copied back. It talks
to the device through an :class:`Executor`: :class:`cuda_backend.cupy_executor.CupyExecutor`
on a GPU, or the CPU emulation of the tests (``tests/cuda/emulator.py``), so the same
orchestration is tested without a GPU. Nothing here imports CuPy.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Protocol

import numpy as np

from core.errors import ATCInputError
from core.kernel_params import KernelParams
from core.types import batch_row_error
from cuda_backend import host


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    compute_capability: str
    sm_count: int
    total_bytes: int
    resident_blocks_per_sm: dict[str, int] = field(default_factory=dict)
    kernels: dict[str, str] = field(default_factory=dict)   # registers / spills per kernel


class KernelArg(NamedTuple):
    """One kernel argument, in the order of the kernel's signature."""

    name: str
    kind: str           # "ptr" (a device array), "i32", "i64" or "f64"
    value: Any


def pack_args(kernel: str, args: Mapping[str, Any]) -> tuple[KernelArg, ...]:
    """``args`` in the order and with the types of ``host.KERNEL_SIGNATURES[kernel]`` (the
    ``.cu`` signature); a missing argument is a KeyError naming it."""
    return tuple(KernelArg(name, kind, args[name]) for name, kind in host.KERNEL_SIGNATURES[kernel])


class Executor(Protocol):
    """The device operations the launcher needs (arrays are the executor's own type).

    ``stream(i)`` returns the i-th of a small set of streams; operations given the same
    stream run in order, those on different streams may overlap. ``launch`` receives the
    arguments packed by :func:`pack_args`; the executor only converts each value to its
    kind.
    """

    def info(self) -> DeviceInfo: ...
    def free_bytes(self) -> int: ...
    def set_params(self, data: np.ndarray) -> None: ...
    def stream(self, index: int) -> Any: ...
    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any: ...
    def fill(self, device_array: Any, value: Any, stream: Any) -> None: ...
    def upload_into(self, host_array: np.ndarray, device_array: Any, stream: Any) -> None: ...
    def launch(self, kernel: str, grid: tuple[int, int], block: tuple[int, int],
               args: tuple[KernelArg, ...], stream: Any) -> None: ...
    def download(self, device_array: Any, out: np.ndarray, stream: Any) -> None: ...
    def synchronize(self, stream: Any) -> None: ...


def _view(device_array: Any, rows: int) -> Any:
    """The first ``rows`` rows of a device array (a contiguous view)."""
    return device_array[:rows]


def _upload(ex: Executor, host_array: np.ndarray, stream: Any) -> Any:
    dev = ex.empty(host_array.shape, host_array.dtype)
    ex.upload_into(np.ascontiguousarray(host_array), dev, stream)
    return dev


def _full(ex: Executor, shape: tuple[int, ...], value: Any, dtype: Any, stream: Any) -> Any:
    dev = ex.empty(shape, dtype)
    ex.fill(dev, value, stream)
    return dev


class Launcher:
    """Runs single series and batches on one executor (one device).

    Calls are serialised: the per-call constants live in one ``__constant__`` symbol.
    """

    def __init__(self, executor: Executor, max_chunks: int = 4) -> None:
        self.executor = executor
        self.max_chunks = max_chunks
        self._lock = threading.Lock()

    def _launch(self, kernel: str, grid: tuple[int, int], block: tuple[int, int],
                args: Mapping[str, Any], stream: Any) -> None:
        self.executor.launch(kernel, grid, block, pack_args(kernel, args), stream)

    # -- single series ------------------------------------------------------------------
    def run_single(self, close: np.ndarray, src: np.ndarray | None, params: KernelParams,
                   detail: bool) -> dict[str, np.ndarray]:
        """Every output of one validated series (pitch 1: one row is already bar-major).
        ``params`` must be a full-mode parameter set (six families). With ``detail`` every
        MA is the exact §4.8 value on every bar."""
        ex = self.executor
        n = int(close.shape[0])
        if params.families != 6:
            raise ValueError("run_single needs the six families (KernelParams mode 'full')")
        with self._lock:
            ex.set_params(host.call_params(params))
            s = ex.stream(0)
            d_close = _upload(ex, close, s)
            d_src = d_close if src is None else _upload(ex, src, s)
            d_starts = _upload(ex, np.zeros(1, dtype=np.int32), s)
            d_gtab = _upload(ex, host.growth_table(params, n), s)
            hull = params.hull
            ring = ex.empty((max(host.ring_rows(params), 1), 1), np.float64)
            out = {
                "avg": _full(ex, (1, n), np.nan, np.float64, s),
                "sig": _full(ex, (1, 6, n), np.nan, np.float64, s),
                "eq": _full(ex, (1, 6, n), np.nan, np.float64, s),
                "dir": _full(ex, (1, n), np.nan, np.float64, s),
                "base": _full(ex, (1, n), np.nan, np.float64, s),
                "flags": _full(ex, (1, n), 0, np.uint8, s),
                "last": _full(ex, (1,), 0, np.int8, s),
                "since": _full(ex, (1,), -1, np.int64, s),
            }
            if detail:
                out["mas"] = _full(ex, (54, n), np.nan, np.float64, s)
                out["states"] = _full(ex, (54, n), 0, np.int8, s)
                out["equities"] = _full(ex, (54, n), np.nan, np.float64, s)
                d_mas, d_states, d_eq = out["mas"], out["states"], out["equities"]
            else:
                d_mas = _full(ex, (1,), np.nan, np.float64, s)
                d_states = _full(ex, (1,), 0, np.int8, s)
                d_eq = d_mas
            self._launch("atc_full_hull_kernel" if hull else "atc_full_kernel", (1, 1), (host.FULL_THREADS, 1), {
                "close_t": d_close, "src_t": d_src, "pitch": 1, "n_bars": n, "n_sym": 1,
                "starts": d_starts, "gtab": d_gtab, "ring": ring, "ring_stride": 1, "tail": n,
                "o_avg": out["avg"], "o_sig": out["sig"], "o_eq": out["eq"], "o_dir": out["dir"],
                "o_flags": out["flags"], "o_last": out["last"], "o_since": out["since"],
                "want_base": 1, "o_base": out["base"], "detail": int(detail), "d_mas": d_mas,
                "d_states": d_states, "d_eq": d_eq,
            }, s)
            result = {}
            for name, dev in out.items():
                arr = np.empty(dev.shape, dtype=dev.dtype)
                ex.download(dev, arr, s)
                result[name] = arr
            ex.synchronize(s)
        return result

    # -- batches ------------------------------------------------------------------------
    def run_batch(self, closes: np.ndarray, params: KernelParams, tail: int) -> dict[str, np.ndarray]:
        """Tail outputs of a (symbols, bars) batch, validated on the device; the mode is
        ``params.families`` (6 full, 1 EMA-only; no other single family).

        Raises :class:`ATCInputError` naming the first row that breaks the batch contract.
        """
        if params.families == 1 and params.family != 0:
            raise ValueError("run_batch computes six families or EMA alone; another single family "
                             "runs as the full computation (core.kernel_params.full_with_family_base)")
        ex = self.executor
        n_sym, n_bars = (int(v) for v in closes.shape)
        families = params.families
        hull = families == 6 and params.hull
        rows = host.ring_rows(params)
        kernel = ("atc_ema_only_kernel" if families == 1
                  else "atc_full_hull_kernel" if hull else "atc_full_kernel")
        res: dict[str, np.ndarray] = {
            "sig": np.empty((n_sym, families, tail)), "eq": np.empty((n_sym, families, tail)),
            "dir": np.empty((n_sym, tail)), "flags": np.empty((n_sym, tail), dtype=np.uint8),
            "last": np.empty(n_sym, dtype=np.int8), "since": np.empty(n_sym, dtype=np.int64),
            "first_finite": np.empty(n_sym, dtype=np.int32),
            "last_nonfinite": np.empty(n_sym, dtype=np.int32),
            "first_nonpos": np.empty(n_sym, dtype=np.int32),
        }
        if families == 6:
            res["avg"] = np.empty((n_sym, tail))
        with self._lock:
            info = ex.info()
            resident = info.resident_blocks_per_sm.get(kernel, 1) * info.sm_count * host.WARP
            plan = host.plan_chunks(n_sym, n_bars, tail, families, rows, ex.free_bytes(),
                                    resident, self.max_chunks)
            ex.set_params(host.call_params(params))
            gtab = host.growth_table(params, n_bars)
            sets = [self._buffers(plan.size, n_bars, tail, families, rows, gtab, k)
                    for k in range(plan.buffers)]
            pending: list[tuple[int, int, dict[str, Any]] | None] = [None] * plan.buffers
            for c in range(plan.count):
                i0 = c * plan.size
                i1 = min(n_sym, i0 + plan.size)
                k = c % plan.buffers
                previous = pending[k]
                if previous is not None:           # this buffer set's last chunk comes home first
                    self._collect(*previous, res)
                bufs = sets[k]
                self._run_chunk(closes[i0:i1], bufs, kernel, n_bars, tail)
                pending[k] = (i0, i1, bufs)
            # Collect in chunk order: the oldest buffer set first.
            order = sorted((p for p in pending if p is not None), key=lambda p: p[0])
            for p in order:
                self._collect(*p, res)
        bad = host.bad_rows(res["first_finite"], res["last_nonfinite"], res["first_nonpos"], n_bars)
        if bad.any():
            row = int(np.argmax(bad))
            raise _batch_error(closes, row)
        return res

    def _buffers(self, size: int, bars: int, tail: int, families: int, rows: int,
                 gtab: np.ndarray, index: int) -> dict[str, Any]:
        ex = self.executor
        s = ex.stream(index)
        pitch = host.pitch_for(size)
        return {
            "stream": s, "pitch": pitch,
            "rows": ex.empty((size, bars), np.float64),
            "cols": ex.empty((bars, pitch), np.float64),
            "gtab": _upload(ex, gtab, s),
            "ring": ex.empty((rows, pitch) if rows else (1,), np.float64),
            "sig": ex.empty((size, families, tail), np.float64),
            "eq": ex.empty((size, families, tail), np.float64),
            "avg": ex.empty((size, tail), np.float64),
            "dir": ex.empty((size, tail), np.float64),
            "flags": ex.empty((size, tail), np.uint8),
            "last": ex.empty((size,), np.int8),
            "since": ex.empty((size,), np.int64),
            "first_finite": ex.empty((size,), np.int32),
            "last_nonfinite": ex.empty((size,), np.int32),
            "first_nonpos": ex.empty((size,), np.int32),
            "dummy_f8": ex.empty((1,), np.float64),
            "dummy_i1": ex.empty((1,), np.int8),
        }

    def _run_chunk(self, rows: np.ndarray, b: dict[str, Any], kernel: str, bars: int, tail: int) -> None:
        """Copy a chunk in, reset its outputs, prepare it on the device, run the kernel."""
        ex = self.executor
        s = b["stream"]
        m = int(rows.shape[0])
        pitch = b["pitch"]
        d_rows = _view(b["rows"], m)
        ex.upload_into(rows, d_rows, s)
        # Outputs start as "no value": bars before a symbol's first price are never written.
        for name, value in (("sig", np.nan), ("eq", np.nan), ("avg", np.nan), ("dir", np.nan),
                            ("flags", 0), ("last", 0), ("since", -1), ("last_nonfinite", -1),
                            ("first_finite", bars), ("first_nonpos", bars)):
            ex.fill(_view(b[name], m), value, s)
        blocks = host.pitch_for(m) // host.WARP            # the last chunk may be partial
        self._launch("atc_prepare_kernel", (-(-bars // 32), blocks), host.PREPARE_BLOCK, {
            "rows": d_rows, "n_sym": m, "n_bars": bars, "out": b["cols"], "pitch": pitch,
            "first_finite": b["first_finite"], "last_nonfinite": b["last_nonfinite"],
            "first_nonpos": b["first_nonpos"],
        }, s)
        grid = (blocks, 1)
        common = {
            "close_t": b["cols"], "pitch": pitch, "n_bars": bars, "n_sym": m,
            "starts": b["first_finite"], "gtab": b["gtab"], "tail": tail, "o_sig": b["sig"],
            "o_eq": b["eq"], "o_dir": b["dir"], "o_flags": b["flags"], "o_last": b["last"],
            "o_since": b["since"],
        }
        if kernel == "atc_ema_only_kernel":
            self._launch(kernel, grid, (host.EMA_THREADS, 1), common, s)
        else:
            self._launch(kernel, grid, (host.FULL_THREADS, 1), dict(
                common, src_t=b["cols"], ring=b["ring"], ring_stride=pitch, o_avg=b["avg"],
                want_base=0, o_base=b["dummy_f8"], detail=0, d_mas=b["dummy_f8"],
                d_states=b["dummy_i1"], d_eq=b["dummy_f8"]), s)

    def _collect(self, i0: int, i1: int, b: dict[str, Any], res: dict[str, np.ndarray]) -> None:
        ex = self.executor
        s = b["stream"]
        m = i1 - i0
        for name in ("sig", "eq", "dir", "flags", "last", "since", "first_finite",
                     "last_nonfinite", "first_nonpos", "avg"):
            if name in res:
                ex.download(_view(b[name], m), res[name][i0:i1], s)
        ex.synchronize(s)


def _batch_error(closes: np.ndarray, row: int) -> ATCInputError:
    """The message ``core.types.as_batch`` gives for the first bad row."""
    values = closes[row]
    finite = np.isfinite(values)
    start = int(np.argmax(finite)) if finite.any() else values.shape[0]
    return batch_row_error(values, row, start)


