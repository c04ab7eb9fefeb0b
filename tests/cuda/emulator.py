"""The project's CUDA kernels compiled by g++ and run on the CPU (tests only).

``emu/emu_kernels.cpp`` includes the ``.cu`` files unchanged on top of ``emu/cuda_emu.h``
(threads as fibers with real barrier semantics). :class:`EmuExecutor` implements the
launcher's executor interface over that library, so ``CudaBackend`` → ``Launcher`` →
kernels run exactly as on a GPU except for the hardware itself: the arithmetic (IEEE double,
no contraction), the thread mapping, the shared-memory hand-offs and barriers, the
chunking and the tail copies are all the real code.
"""
from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from core.backends.base import ProbeResult
from cuda_backend import host
from cuda_backend.backend import CudaBackend
from cuda_backend.launcher import DeviceInfo, KernelArg, Launcher

EMU_DIR = Path(__file__).resolve().parent / "emu"
CXX_FLAGS = ("-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra",
             "-Wno-unknown-pragmas", "-Wno-unused-parameter", "-fPIC", "-shared")
_CTYPES = {"ptr": ctypes.c_void_p, "i32": ctypes.c_int32, "i64": ctypes.c_int64, "f64": ctypes.c_double}


def compiler() -> str | None:
    return shutil.which("g++")


def sources() -> list[Path]:
    return sorted(EMU_DIR.glob("*")) + sorted(host.KERNEL_DIR.glob("*"))


def build(out_dir: Path) -> Path:
    """Compile the emulation library (cached by a hash of every source and flag)."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("g++ is not installed")
    digest = hashlib.sha256()
    for path in sources():
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(" ".join(CXX_FLAGS).encode())
    lib = out_dir / f"atc_emu_{digest.hexdigest()[:16]}.so"
    if not lib.exists():
        tmp = lib.with_suffix(".tmp.so")
        done = subprocess.run([cxx, *CXX_FLAGS, f"-I{host.KERNEL_DIR}", f"-I{EMU_DIR}",
                               str(EMU_DIR / "emu_kernels.cpp"), "-o", str(tmp)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"g++ failed:\n{done.stderr}")
        if done.stderr.strip():
            raise RuntimeError(f"g++ warned (the kernels must compile cleanly):\n{done.stderr}")
        tmp.rename(lib)
    return lib


class EmuExecutor:
    """Executor of :class:`cuda_backend.launcher.Launcher` on the CPU emulation.

    Parameters
    ----------
    order : thread resumption order between barriers (0 forward, 1 reverse, ≥ 2 a shuffle
        seed): results must not depend on it.
    free_bytes : the "device memory" reported to the chunk planner (small values force
        many chunks).
    """

    def __init__(self, lib_path: Path, order: int = 0, free_bytes: int = 1 << 34) -> None:
        self.lib = ctypes.CDLL(str(lib_path))
        self.order = order
        self._free = free_bytes
        self.launches: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
        self.lib.emu_error.restype = ctypes.c_char_p
        self.lib.emu_params_size.restype = ctypes.c_size_t
        self.lib.emu_set_params.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        for name, params in host.KERNEL_SIGNATURES.items():
            fn = getattr(self.lib, f"emu_{name}")
            fn.argtypes = [ctypes.c_uint] * 4 + [ctypes.c_int] + [_CTYPES[t] for _, t in params]
            fn.restype = ctypes.c_int

    def info(self) -> DeviceInfo:
        return DeviceInfo(name="CPU emulation", compute_capability="emu", sm_count=1,
                          total_bytes=self._free,
                          resident_blocks_per_sm={k: 1 for k in host.KERNEL_SIGNATURES})

    def free_bytes(self) -> int:
        return self._free

    def set_params(self, data: np.ndarray) -> None:
        buf = np.ascontiguousarray(data, dtype=np.uint8)
        if self.lib.emu_set_params(buf.ctypes.data, buf.nbytes) != 0:
            raise RuntimeError(self.lib.emu_error().decode())

    def stream(self, index: int) -> Any:
        return index

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        # Device memory is not zeroed: fill with a byte pattern so that a kernel reading
        # memory nobody wrote gets garbage here too.
        arr = np.empty(shape, dtype=dtype)
        arr.view(np.uint8)[...] = 0xA5
        return arr

    def fill(self, device_array: np.ndarray, value: Any, stream: Any) -> None:
        device_array[...] = value

    def upload_into(self, host_array: np.ndarray, device_array: np.ndarray, stream: Any) -> None:
        device_array[...] = host_array

    def launch(self, kernel: str, grid: tuple[int, int], block: tuple[int, int],
               args: tuple[KernelArg, ...], stream: Any) -> None:
        values = []
        for name, kind, value in args:
            if kind == "ptr":
                assert isinstance(value, np.ndarray) and value.flags.c_contiguous, name
                values.append(ctypes.c_void_p(value.ctypes.data))
            else:
                values.append(_CTYPES[kind](value))
        self.launches.append((kernel, grid, block))
        fn = getattr(self.lib, f"emu_{kernel}")
        if fn(grid[0], grid[1], block[0], block[1], self.order, *values) != 0:
            raise RuntimeError(f"{kernel}: {self.lib.emu_error().decode()}")

    def download(self, device_array: np.ndarray, out: np.ndarray, stream: Any) -> None:
        out[...] = device_array

    def synchronize(self, stream: Any) -> None:
        return None


def emulated_backend(lib_path: Path, order: int = 0, free_bytes: int = 1 << 34,
                     max_chunks: int = 4) -> tuple[CudaBackend, EmuExecutor]:
    """A CudaBackend whose launcher runs on the emulation (and the executor, to inspect)."""
    executor = EmuExecutor(lib_path, order, free_bytes)
    launcher = Launcher(executor, max_chunks=max_chunks)
    probe = ProbeResult(True, "CPU emulation of the CUDA kernels", device="CPU emulation")
    return CudaBackend(lambda: (probe, launcher)), executor
