"""User JSON files: atomic writes (a crash mid-write leaves the previous file, never half
of one) and loads that never stop the app (an unusable file is kept aside, defaults used)."""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class ShapeError(ValueError):
    """A user file is valid JSON but not laid out the way its loader needs."""


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "true or false", type(None): "null"}


def expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """``value`` when it is of ``kind`` (JSON's true/false never counts as a number);
    otherwise a :class:`ShapeError` naming ``what``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return value
    named = [k for k in kinds if not (k is int and float in kinds)]   # "a number" covers both
    wanted = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in named)
    got = _JSON_NAMES.get(type(value), type(value).__name__)
    raise ShapeError(f"{what} must be {wanted}, not {got}")


_REQUIRED: Any = object()


def member(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
    """``obj[key]`` checked with :func:`expect`; ``default`` when absent (else ShapeError)."""
    if key not in obj:
        if default is _REQUIRED:
            raise ShapeError(f"{key!r} is missing")
        return default
    return expect(obj[key], kind, repr(key))


@dataclass(frozen=True)
class SetAside:
    """A user file the app could not use, and where its original bytes were kept."""

    path: Path
    kept_as: Path | None         # None: it could not be renamed and is still at ``path``
    reason: str

    def message(self) -> str:
        where = (f"the original is kept as {self.kept_as}" if self.kept_as is not None
                 else f"it could not be moved aside and is left at {self.path}")
        return f"{self.path.name} could not be used ({self.reason}); started with the defaults, {where}"


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    k = 1
    while target.exists():           # never replace an earlier copy kept the same second
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{k}")
        k += 1
    return target


def set_aside(path: Path, reason: str) -> SetAside:
    """Rename an unusable user file to ``<name>.corrupt-<time>`` (never overwritten later)."""
    target = _aside_name(path)
    kept: Path | None = target
    try:
        os.replace(path, target)
    except OSError as exc:
        log.error("cannot move %s aside: %s", path, exc)
        kept = None
    done = SetAside(path, kept, reason)
    log.error("%s", done.message())
    return done


def _why_unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, OSError):
        return f"cannot be read: {exc.strerror or exc}"
    return f"wrong layout: {exc}"


def load_json(path: Path, parse: Callable[[Any], T]) -> tuple[T | None, SetAside | None]:
    """``(parse(data), None)`` for the JSON at ``path``; ``(None, None)`` when it is missing.

    A file that cannot be read, is not UTF-8, is not JSON, or whose data ``parse`` rejects
    (ShapeError, or TypeError/ValueError from building its objects) is moved aside by
    :func:`set_aside` and ``(None, the SetAside)`` returned: the caller starts from its
    defaults and the user's bytes stay on disk.
    """
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))   # a BOM from an editor is fine
        return parse(data), None
    except FileNotFoundError:
        return None, None
    # ValueError: UTF-8, JSON, ShapeError; RecursionError: absurdly deep nesting.
    except (OSError, ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as exc:
        return None, set_aside(path, _why_unreadable(exc))


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
