"""The one place where `atc` writes a file named by the user (``-o OUT``).

Nothing the user owns is destroyed by it:

* an input of the same run is refused, however it is spelled (the comparison is by file
  identity, so another spelling, a symbolic link and a hard link are all caught);
* a symbolic link is followed: its target is written and the link stays a link;
* a regular file is replaced atomically (a temporary file beside it, then a rename), keeps
  its permission bits (and, where allowed, its owner) and is never left half-written, also
  when the run is stopped by SIGTERM, SIGINT or SIGHUP while writing;
* a read-only file is refused rather than replaced;
* anything else that exists (a FIFO, ``/dev/null``, ``/dev/full``, a terminal) is written
  through, never replaced.

``-`` is standard output (a file really named ``-`` is ``./-``).

Errors name the user's path, never the temporary file's.
"""
from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Iterator, Sequence, TextIO, TypeAlias

from core.errors import ATCInputError

#: Signals that stop a command-line run; while a temporary file exists they remove it first.
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                      if hasattr(signal, name))

#: The ``-o`` value that means standard output, as for most Unix tools.
STDOUT = "-"
_SIGPIPE = getattr(signal, "SIGPIPE", 13)

#: What ``signal.signal`` takes and returns: a function, SIG_DFL/SIG_IGN, or None (a
#: handler not installed from Python).
_Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True)
class OutputTarget:
    """A checked ``-o`` path: ``user`` as typed, ``real`` with symbolic links resolved
    (None for standard output)."""

    user: str
    real: Path | None

    @property
    def is_stdout(self) -> bool:
        return self.real is None

    def write(self, fill: Callable[[TextIO], None]) -> None:
        """Call ``fill(fh)`` with a text file (newline="") whose content becomes the output."""
        if self.real is None:
            _write_stdout(fill)
            return
        try:
            info = os.stat(self.real)
        except FileNotFoundError:
            info = None
        try:
            if info is not None and not stat.S_ISREG(info.st_mode):
                with open(self.real, "w", newline="", encoding="utf-8") as fh:
                    fill(fh)
            else:
                _replace_atomically(self.real, info, fill)
        except OSError as exc:
            # The user's path, not the temporary name (or none: a failed flush has no name).
            raise OSError(exc.errno, exc.strerror or str(exc), self.user) from None


def check_output(path: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str] | None] = ()
                 ) -> OutputTarget:
    """Refuse an output path that would destroy something; see the module docstring.

    Called before the work starts, so a bad ``-o`` costs nothing; ``inputs`` are the
    files the run reads (missing ones and None are skipped).
    """
    user = os.fspath(path)
    if not user:
        raise ATCInputError("the output file name is empty", field="output")
    if user == STDOUT:
        return OutputTarget(user, None)
    for source in inputs:
        if source is not None and _same_file(user, source):
            raise ATCInputError(f"{user}: this is the input file {os.fspath(source)}; "
                                "choose another output file", field="output")
    real = Path(os.path.realpath(user))
    try:
        info = os.stat(real)
    except FileNotFoundError:
        if not real.parent.is_dir():
            raise ATCInputError(f"{user}: the folder {real.parent} does not exist",
                                field="output") from None
        return OutputTarget(user, real)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, user) from None
    if stat.S_ISDIR(info.st_mode):
        raise ATCInputError(f"{user}: is a folder; give a file name", field="output")
    if stat.S_ISREG(info.st_mode) and _read_only(real, info):
        raise ATCInputError(f"{user}: the file is read-only; not replacing it (make it "
                            "writable or choose another output file)", field="output")
    return OutputTarget(user, real)


def write_output(path: str | os.PathLike[str], fill: Callable[[TextIO], None],
                 inputs: Sequence[str | os.PathLike[str] | None] = ()) -> None:
    """:func:`check_output` then :meth:`OutputTarget.write`."""
    check_output(path, inputs).write(fill)


def _write_stdout(fill: Callable[[TextIO], None]) -> None:
    try:
        fill(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): end quietly with the status a tool killed by
        # SIGPIPE has, as `cat` would. The descriptor goes to /dev/null first, or the
        # interpreter's own flush at exit would fail a second time on the closed pipe.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):   # a replaced sys.stdout without a descriptor
            pass
        raise SystemExit(128 + _SIGPIPE) from None


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:          # either one missing: nothing to overwrite
        return False


def _read_only(path: Path, info: os.stat_result) -> bool:
    # No write bit at all counts as read-only even for root, whom access() always lets write.
    return not (info.st_mode & 0o222) or not os.access(path, os.W_OK)


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _replace_atomically(target: Path, info: os.stat_result | None,
                        fill: Callable[[TextIO], None]) -> None:
    with _stop_signals_raise():
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, stat.S_IMODE(info.st_mode) if info is not None else _new_file_mode())
            if info is not None:
                try:
                    os.chown(tmp, info.st_uid, info.st_gid)
                except OSError:  # only root may give a file away; the mode is kept anyway
                    pass
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _Stopped(BaseException):
    """Raised by the signal handler so that the writer's cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """Inside the block a stop signal raises :class:`_Stopped` (once); on the way out the
    previous handlers come back and the signal is delivered to them, so the process ends
    the way it would have without the block, only without the temporary file."""
    if threading.current_thread() is not threading.main_thread():
        yield                 # handlers can only be set from the main thread
        return
    fired: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if not fired:         # a second signal must not interrupt the cleanup
            fired.append(signum)
            raise _Stopped(signum)

    previous: dict[int, _Handler] = {}
    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:   # nohup and friends stay ignored
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    except _Stopped as stop:
        _restore(previous)
        previous = {}
        signal.raise_signal(stop.signum)
        raise SystemExit(128 + stop.signum) from None   # the previous handler returned
    finally:
        _restore(previous)


def _restore(previous: dict[int, _Handler]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old if old is not None else signal.SIG_DFL)
