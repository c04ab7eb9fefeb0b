"""Work around a reference-count bug of PySide6 6.12 on CPython 3.11.

Measured here (PySide6 6.12.0, Python 3.11.7): every call of a C++ method that returns
``void`` (``QPen.setWidth``, ``QRectF.setWidth``, ``QWidget.setVisible`` …) leaves
``None`` with one reference fewer. The bindings appear to assume CPython ≥ 3.12, where
None, True and False are immortal and their counts are never checked. Under 3.11 the count
of None (≈5,000 at start-up) reaches zero after a few thousand Qt calls — a couple of
chart repaints — and the interpreter aborts with ``Fatal Python error: none_dealloc``
(or ``bool_dealloc`` once memory is damaged), often only at exit.

The fix gives the three singletons what 3.12 gives them: a reference count so large that
no number of lost decrements can reach zero. It is applied only when a probe shows the
leak, so a fixed PySide or a newer Python makes it a no-op.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6 import QtCore

_PINNED = False
_HEADROOM = 1 << 60   # ~1e18 lost references: centuries at millions of Qt calls a second


def void_call_leaks_none() -> bool:
    """True when calling a void Qt method drops a reference to None."""
    rect = QtCore.QRectF()
    before = sys.getrefcount(None)
    for _ in range(16):
        rect.setWidth(1.0)
    return sys.getrefcount(None) < before - 8


def pin_singletons() -> bool:
    """Make None/True/False effectively immortal if this PySide leaks them; returns
    whether the fix was applied (now or before)."""
    global _PINNED
    if _PINNED:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not void_call_leaks_none():
        return False
    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object header.
        ctypes.c_ssize_t.from_address(id(obj)).value += _HEADROOM
    _PINNED = True
    return True
