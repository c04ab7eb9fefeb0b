"""A guard against a reference-counting bug of PySide6 6.12.0.

``SignalInstance.emit()`` returns ``True`` without taking a reference, so every emit from
Python code takes one reference away from the ``True`` singleton. On Python 3.11 (where
``True`` is not yet immortal) the count reaches zero after a few thousand emits and the
interpreter aborts ("bool_dealloc: deallocating True or False"), at the latest when it
exits. The app emits thousands of signals an hour, so it would crash.

``protect_true()`` measures the bug once and, only where it is present, gives ``True`` a
reserve of references no session can use up. Python 3.12+ is unaffected (immortal objects).
"""
from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40
_done = False


def emit_steals_true() -> bool:
    """Whether emitting a signal from Python removes a reference from ``True``."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        probed = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.probed.emit()
    return sys.getrefcount(True) < before


def protect_true() -> bool:
    """Apply the reserve once per process when needed; returns whether it was applied."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return False
    _done = True
    if not emit_steals_true():
        return False
    # ob_refcnt is the first field of every CPython object.
    ctypes.c_ssize_t.from_address(id(True)).value += _RESERVE
    return True
