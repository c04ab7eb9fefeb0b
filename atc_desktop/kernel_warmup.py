"""The first start's background compile of numba's screening kernels.

On a fresh installation numba has not compiled the screening kernels yet (seconds of
work). Rather than make the first refresh wait, :class:`KernelWarmup` runs
``atc-desktop --warm-cache`` (``kernel_cache``) as a separate process — it competes for no
lock and no interpreter time with the window — while the screening runs on the Rust
backend's EMA-only batch (the same discrete outputs). Once the process has filled the
cache, ``ready`` turns true and the next refresh builds the numba state from the cache in
a fraction of a second. Where no process can be started, the kernels compile on a thread
of this process instead (slower for the window, same outcome).

Until ``start()`` is called the kernels count as ready: code that never asked for a
warm-up (tests, tools) compiles in line, as before.
"""
from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, QProcess, Signal

from atc_desktop import kernel_cache

log = logging.getLogger("atc_desktop.kernels")

#: What the status bar says while the kernels compile.
COMPILING = "screening on rust while the numba kernel compiles — first run only"


class KernelWarmup(QObject):
    """State of numba's screening kernels: "ready", "compiling" or "failed"."""

    state_changed = Signal(str)
    _thread_done = Signal(bool, str)          # from the fallback thread to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ready = threading.Event()
        self._ready.set()
        self.state = "ready"
        self.message = ""
        self._process: QProcess | None = None
        self._t0 = 0.0
        self._thread_done.connect(self._done)

    @property
    def ready(self) -> bool:
        """True when screening may run on numba without compiling (any thread may ask)."""
        return self._ready.is_set()

    def start(self) -> None:
        """Warm the cache in the background unless it is warm already."""
        if self.state == "compiling" or kernel_cache.is_warm():
            return
        self._ready.clear()
        self._t0 = time.perf_counter()
        self._set("compiling", COMPILING)
        log.info("numba screening kernels are not compiled yet: %s", COMPILING)
        command = kernel_cache.warm_command()
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process = process
        process.start(command[0], command[1:])

    def stop(self, wait_ms: int = 0) -> None:
        """The app is closing: let a running compile finish within ``wait_ms`` (so that
        the next start finds the cache warm), else end it."""
        process, self._process = self._process, None
        if process is None or process.state() == QProcess.ProcessState.NotRunning:
            return
        process.finished.disconnect(self._finished)
        process.errorOccurred.disconnect(self._error)
        if wait_ms > 0 and process.waitForFinished(wait_ms):
            return
        process.kill()
        process.waitForFinished(2000)

    # -- outcomes -------------------------------------------------------------------------------
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self._process
        self._process = None
        output = ""
        if process is not None:
            output = bytes(process.readAll().data()).decode("utf-8", "replace").strip()
            process.deleteLater()
        if status == QProcess.ExitStatus.NormalExit and code == 0 and kernel_cache.is_warm():
            self._done(True, "")
        else:
            self._done(False, output.splitlines()[-1] if output else f"exit code {code}")

    def _error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self._process is None:
            return                              # a crash also ends in _finished
        self._process = None
        log.info("cannot start the kernel compile process (%s); compiling in this process",
                 error.name)
        threading.Thread(target=self._compile_here, name="numba-warmup", daemon=True).start()

    def _compile_here(self) -> None:
        try:
            kernel_cache.warm()
        except Exception as exc:          # reported; the screening stays on Rust
            self._thread_done.emit(False, f"{type(exc).__name__}: {exc}")
        else:
            self._thread_done.emit(True, "")

    def _done(self, ok: bool, why: str) -> None:
        seconds = time.perf_counter() - self._t0
        if ok:
            self._ready.set()
            log.info("numba screening kernels compiled in %.1f s; screening moves to numba", seconds)
            self._set("ready", "")
        else:
            log.warning("numba screening kernels failed to compile (%s); screening stays on rust",
                        why)
            self._set("failed", f"screening on rust: the numba kernel failed to compile ({why})")

    def _set(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state)
