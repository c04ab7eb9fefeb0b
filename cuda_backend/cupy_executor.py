"""The CuPy executor of :class:`cuda_backend.launcher.Launcher`: the kernels compiled by
NVRTC at first use (cached per device), device memory, streams, copies and launches.

This is the only module of the backend that imports CuPy, and only inside its functions
and classes: importing it is free on a machine without a GPU.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cuda_backend import host
from cuda_backend.launcher import DeviceInfo, KernelArg

_SCALARS = {"i32": np.int32, "i64": np.int64, "f64": np.float64}
_MODULES: dict[tuple[int, tuple[str, ...]], Any] = {}
_MODULES_LOCK = threading.Lock()


def compiled_module(device_id: int, defines: tuple[str, ...] = ()) -> Any:
    """The RawModule of the kernels for one device, compiled by NVRTC at first use.

    Cached per (device, defines) in this process; CuPy also caches the binary on disk
    (``~/.cupy/kernel_cache``), so later processes load it without compiling.
    """
    import cupy  # type: ignore[import-not-found, unused-ignore]

    key = (device_id, defines)
    with _MODULES_LOCK:
        module = _MODULES.get(key)
        if module is None:
            options = host.COMPILE_OPTIONS + tuple(f"-D{d}" for d in defines)
            with cupy.cuda.Device(device_id):
                module = cupy.RawModule(code=host.module_source(), options=options)
                for name in host.KERNEL_SIGNATURES:
                    module.get_function(name)        # compiles and loads now, not mid-batch
            _MODULES[key] = module
        return module


#: Host arrays at least this large are uploaded through pinned staging buffers.
STAGING_THRESHOLD = 32 << 20


class PinnedStager:
    """Host → device copies of large pageable arrays through two pinned buffers.

    A copy from pageable memory is staged by the driver through its own pinned buffers and
    blocks the host until the last byte is staged; for a 400 MB batch that single-threaded
    staging, not the PCIe link, tends to set the pace. Here several threads copy each piece
    into one of two pinned buffers (numpy releases the GIL for large copies) while the DMA of
    the previous piece runs, and the DMAs are queued on the caller's stream, so the kernels
    queued after them wait for the data and the host returns before the last DMA ends.
    """

    def __init__(self, cupy: Any, piece_bytes: int = 16 << 20, threads: int | None = None) -> None:
        self.cp = cupy
        self.piece = piece_bytes
        self.threads = max(1, min(8, threads or (os.cpu_count() or 1)))
        self._buffers = [cupy.cuda.alloc_pinned_memory(piece_bytes) for _ in range(2)]
        self._done: list[Any] = [None, None]    # event after the last DMA out of each buffer
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="atc-cuda-stage")
        self._lock = threading.Lock()

    def copy(self, src: np.ndarray, dst_ptr: int, stream: Any) -> None:
        """Queue the copy of C-contiguous ``src`` to device address ``dst_ptr`` on ``stream``."""
        flat = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
        total = flat.nbytes
        with self._lock:
            for i, offset in enumerate(range(0, total, self.piece)):
                k = i % 2
                if self._done[k] is not None:
                    self._done[k].synchronize()          # the buffer's previous DMA has ended
                n = min(self.piece, total - offset)
                staging = np.frombuffer(self._buffers[k], dtype=np.uint8, count=n)
                step = -(-n // self.threads)
                parts = [(a, min(n, a + step)) for a in range(0, n, step)]
                list(self._pool.map(
                    lambda ab: np.copyto(staging[ab[0]:ab[1]], flat[offset + ab[0]:offset + ab[1]]), parts))
                self.cp.cuda.runtime.memcpyAsync(dst_ptr + offset, staging.ctypes.data, n,
                                                 self.cp.cuda.runtime.memcpyHostToDevice, stream.ptr)
                event = self.cp.cuda.Event()
                event.record(stream)
                self._done[k] = event


class CupyExecutor:
    """The launcher's device operations on a CUDA device through CuPy.

    Parameters
    ----------
    device_id : CUDA device ordinal (default: CuPy's current device).
    defines : extra preprocessor definitions (e.g. ``("ATC_FULL_MIN_BLOCKS=1",)``) for
        measuring kernel variants; the default build is what the backend runs.
    staging : "pinned" (default, or $ATC_CUDA_STAGING) uploads arrays of at least
        ``staging_threshold`` bytes through :class:`PinnedStager`; "pageable" hands every
        array to the driver as it is.
    """

    def __init__(self, device_id: int | None = None, defines: tuple[str, ...] = (),
                 staging: str | None = None) -> None:
        import cupy  # type: ignore[import-not-found, unused-ignore]

        self.cp = cupy
        # Large uploads go through pinned staging buffers (see PinnedStager) unless
        # $ATC_CUDA_STAGING or `staging` says "pageable".
        mode = staging or os.environ.get("ATC_CUDA_STAGING", "pinned")
        self.staging_threshold = STAGING_THRESHOLD
        self._stager = PinnedStager(cupy) if mode == "pinned" else None
        self.device_id = int(cupy.cuda.runtime.getDevice() if device_id is None else device_id)
        self.defines = tuple(defines)
        with cupy.cuda.Device(self.device_id):
            self.module = compiled_module(self.device_id, self.defines)
            self.kernels = {name: self.module.get_function(name) for name in host.KERNEL_SIGNATURES}
            self._params = self.module.get_global("c_atc")
            self._streams = [cupy.cuda.Stream(non_blocking=True) for _ in range(2)]
        self._info = self._describe()

    def _describe(self) -> DeviceInfo:
        cp = self.cp
        props = cp.cuda.runtime.getDeviceProperties(self.device_id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        blocks: dict[str, int] = {}
        kernels: dict[str, str] = {}
        threads = {"atc_prepare_kernel": 256, "atc_full_kernel": host.FULL_THREADS,
                   "atc_full_hull_kernel": host.FULL_THREADS, "atc_ema_only_kernel": host.EMA_THREADS}
        with cp.cuda.Device(self.device_id):
            for kname, kernel in self.kernels.items():
                blocks[kname] = int(cp.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(
                    kernel.kernel.ptr, threads[kname], 0))
                kernels[kname] = (f"{kernel.num_regs} registers, {kernel.local_size_bytes} B local, "
                                  f"{kernel.shared_size_bytes} B shared, {blocks[kname]} blocks/SM")
        return DeviceInfo(name=name, compute_capability=f"{props['major']}.{props['minor']}",
                          sm_count=int(props["multiProcessorCount"]),
                          total_bytes=int(props["totalGlobalMem"]),
                          resident_blocks_per_sm=blocks, kernels=kernels)

    # -- Executor ----------------------------------------------------------------------
    def info(self) -> DeviceInfo:
        return self._info

    def free_bytes(self) -> int:
        with self.cp.cuda.Device(self.device_id):
            free, _total = self.cp.cuda.runtime.memGetInfo()
            # Blocks cached by CuPy's pool are free for our buffers too.
            return int(free) + int(self.cp.get_default_memory_pool().free_bytes())

    def set_params(self, data: np.ndarray) -> None:
        buf = np.ascontiguousarray(data, dtype=np.uint8)
        with self.cp.cuda.Device(self.device_id):
            # Through pinned memory on stream 0, then wait: the streams are non-blocking, so
            # a copy on the legacy stream would not be ordered before their kernels. No
            # kernel of this launcher is in flight here (every call ends synchronised).
            pinned = self.cp.cuda.alloc_pinned_memory(buf.nbytes)
            staging = np.frombuffer(pinned, dtype=np.uint8, count=buf.nbytes)
            staging[:] = buf
            self._params.copy_from_host_async(staging.ctypes.data, buf.nbytes, stream=self._streams[0])
            self._streams[0].synchronize()

    def stream(self, index: int) -> Any:
        return self._streams[index % len(self._streams)]

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        with self.cp.cuda.Device(self.device_id):
            return self.cp.empty(shape, dtype=dtype)

    def fill(self, device_array: Any, value: Any, stream: Any) -> None:
        with self.cp.cuda.Device(self.device_id), stream:
            device_array.fill(value)

    def upload_into(self, host_array: np.ndarray, device_array: Any, stream: Any) -> None:
        with self.cp.cuda.Device(self.device_id):
            if self._stager is not None and host_array.nbytes >= self.staging_threshold:
                self._stager.copy(host_array, device_array.data.ptr, stream)
            else:
                device_array.set(host_array, stream=stream)

    def launch(self, kernel: str, grid: tuple[int, int], block: tuple[int, int],
               args: tuple[KernelArg, ...], stream: Any) -> None:
        values = tuple(a.value if a.kind == "ptr" else _SCALARS[a.kind](a.value) for a in args)
        with self.cp.cuda.Device(self.device_id), stream:
            self.kernels[kernel]((int(grid[0]), int(grid[1])), (int(block[0]), int(block[1])), values)

    def download(self, device_array: Any, out: np.ndarray, stream: Any) -> None:
        with self.cp.cuda.Device(self.device_id):
            device_array.get(stream=stream, out=out)

    def synchronize(self, stream: Any) -> None:
        stream.synchronize()
