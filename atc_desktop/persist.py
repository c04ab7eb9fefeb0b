"""Atomic JSON files: a crash mid-write leaves the previous file, never half of one."""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, fsync it, then rename over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False))


def read_json(path: Path) -> Any | None:
    """The parsed file, or None when it is missing.

    A file that cannot be parsed is moved aside (``*.corrupt-<time>``) and logged, so the
    caller starts from defaults without overwriting the evidence.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("cannot read %s: %s; using defaults", path, exc)
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        log.error("%s is not valid JSON (%s); kept as %s, using defaults", path, exc, aside.name)
        return None


class BackgroundWriter:
    """Writes JSON files on its own thread, so the GUI thread never waits on the disk.

    ``submit(path, data)`` keeps only the newest data per path (a burst of alerts is one
    write); ``flush()`` waits until everything submitted is on disk.
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Any] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, path: Path, data: Any) -> None:
        with self._cond:
            self._pending[path] = data
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="atc-json-writer", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    if not self._cond.wait(30.0):
                        self._thread = None       # idle: let the thread end
                        return
                path, data = self._pending.popitem()
                self._busy = True
            try:
                write_json(path, data)
            except OSError as exc:
                log.error("cannot write %s: %s", path, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
