"""Compile every kernel file with NVRTC for sm_90, without a GPU or a driver.

NVRTC (``libnvrtc.so``) is a pure compiler library: the ``nvidia-cuda-nvrtc-cu12`` wheel
ships it and it turns CUDA C++ into PTX and, for a real architecture, into a cubin without
touching a device. CuPy's compile path cannot be used for this check because it queries the
driver first. This module calls the library directly through ctypes.

Run ``python -m cuda_backend.nvrtc_check`` to print each file's register and spill report.
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cuda_backend.host import COMPILE_OPTIONS

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
#: The options the runtime compile uses (host.COMPILE_OPTIONS, --fmad=false included); the
#: target is added per call.
BASE_OPTIONS: tuple[str, ...] = COMPILE_OPTIONS


class NvrtcUnavailable(RuntimeError):
    """libnvrtc could not be found or loaded."""


@dataclass(frozen=True)
class CompileReport:
    path: Path
    ok: bool
    log: str
    binary_size: int

    def summary(self) -> str:
        state = "ok" if self.ok else "FAILED"
        lines = [f"{self.path.name}: {state} ({self.binary_size} bytes)"]
        lines += ["    " + line for line in self.log.strip().splitlines() if line.strip()]
        return "\n".join(lines)


def kernel_files() -> list[Path]:
    """The ``.cu`` translation units (headers are compiled through them)."""
    return sorted(KERNEL_DIR.glob("*.cu"))


def find_libnvrtc() -> Path:
    """Path of libnvrtc from the nvidia-cuda-nvrtc-cu12 wheel (or $ATC_NVRTC_LIB)."""
    env = os.environ.get("ATC_NVRTC_LIB")
    if env:
        if Path(env).is_file():
            return Path(env)
        raise NvrtcUnavailable(f"ATC_NVRTC_LIB={env} is not a file")
    try:
        import nvidia.cuda_nvrtc as wheel  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise NvrtcUnavailable(
            "the nvidia-cuda-nvrtc-cu12 wheel is not installed (pip install nvidia-cuda-nvrtc-cu12, "
            "part of the dev extra)") from None
    for root in list(getattr(wheel, "__path__", [])):
        hits = sorted(glob.glob(os.path.join(root, "lib", "libnvrtc.so*")))
        hits = [h for h in hits if "builtins" not in h and ".alt." not in h]
        if hits:
            return Path(hits[0])
    raise NvrtcUnavailable("nvidia-cuda-nvrtc-cu12 is installed but holds no lib/libnvrtc.so*")


class Nvrtc:
    """The few NVRTC entry points this check needs, bound with ctypes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or find_libnvrtc()
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise NvrtcUnavailable(f"cannot load {self.path}: {exc}") from None
        lib = self.lib
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        lib.nvrtcGetErrorString.argtypes = [ctypes.c_int]
        lib.nvrtcVersion.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        lib.nvrtcCreateProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                           ctypes.c_char_p, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_char_p),
                                           ctypes.POINTER(ctypes.c_char_p)]
        lib.nvrtcCompileProgram.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_char_p)]
        lib.nvrtcGetProgramLogSize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.nvrtcGetProgramLog.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nvrtcGetCUBINSize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.nvrtcGetPTXSize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.nvrtcGetPTX.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nvrtcDestroyProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p)]

    def version(self) -> str:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        return f"{major.value}.{minor.value}"

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed: {self.lib.nvrtcGetErrorString(status).decode()}")

    def ptx(self, source: str, name: str, options: tuple[str, ...]) -> str:
        """The PTX of a source for a virtual architecture (``--gpu-architecture=compute_XX``
        among the options); raises RuntimeError with the log when it does not compile."""
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(),
                                                0, None, None), "nvrtcCreateProgram")
        try:
            opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            if self.lib.nvrtcCompileProgram(prog, len(options), opts) != 0:
                size = ctypes.c_size_t()
                self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
                buf = ctypes.create_string_buffer(max(size.value, 1))
                self.lib.nvrtcGetProgramLog(prog, buf)
                raise RuntimeError(buf.value.decode(errors="replace"))
            size = ctypes.c_size_t()
            self._check(self.lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
            buf = ctypes.create_string_buffer(max(size.value, 1))
            self._check(self.lib.nvrtcGetPTX(prog, buf), "nvrtcGetPTX")
            return buf.value.decode(errors="replace")
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))

    def compile(self, source: str, name: str, options: tuple[str, ...]) -> tuple[bool, str, int]:
        """(success, log, size of the cubin — or of the PTX for a virtual architecture)."""
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(),
                                                0, None, None), "nvrtcCreateProgram")
        try:
            opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            status = self.lib.nvrtcCompileProgram(prog, len(options), opts)
            size = ctypes.c_size_t()
            self._check(self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)), "nvrtcGetProgramLogSize")
            buf = ctypes.create_string_buffer(max(size.value, 1))
            self._check(self.lib.nvrtcGetProgramLog(prog, buf), "nvrtcGetProgramLog")
            log = buf.value.decode(errors="replace")
            if status != 0:
                err = self.lib.nvrtcGetErrorString(status).decode()
                return False, f"{err}\n{log}", 0
            out = ctypes.c_size_t()
            real = any(o.split("=")[-1].startswith("sm_") for o in options if "arch" in o)
            getter = self.lib.nvrtcGetCUBINSize if real else self.lib.nvrtcGetPTXSize
            self._check(getter(prog, ctypes.byref(out)), "nvrtcGet*Size")
            return True, log, int(out.value)
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


def compile_file(path: Path, arch: str = "sm_90", verbose: bool = True,
                 nvrtc: Nvrtc | None = None) -> CompileReport:
    """Compile one kernel file for ``arch`` with the runtime options; ptxas's register and
    spill report is in the log when ``verbose``."""
    nv = nvrtc or Nvrtc()
    options = BASE_OPTIONS + (f"--gpu-architecture={arch}", f"--include-path={KERNEL_DIR}")
    if verbose:
        options += ("--ptxas-options=-v",)
    ok, log, size = nv.compile(path.read_text(), path.name, options)
    return CompileReport(path, ok, log, size)


def check_all(arch: str = "sm_90", verbose: bool = True) -> list[CompileReport]:
    """Compile every ``.cu`` file; raises :class:`NvrtcUnavailable` without the library."""
    nv = Nvrtc()
    return [compile_file(p, arch, verbose, nv) for p in kernel_files()]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    arch = args[0] if args else "sm_90"
    try:
        nv = Nvrtc()
    except NvrtcUnavailable as exc:
        print(f"NVRTC unavailable: {exc}")
        return 2
    print(f"NVRTC {nv.version()} from {nv.path}, target {arch}")
    reports = [compile_file(p, arch, True, nv) for p in kernel_files()]
    for report in reports:
        print(report.summary())
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
