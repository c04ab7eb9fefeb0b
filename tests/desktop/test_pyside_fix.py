"""PySide6 6.12.0's emit() drops a reference to True per call; the package import guards
against it, so a long session (or its exit) never aborts in bool_dealloc."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import atc_desktop  # noqa: F401 - applies the guard


class Emitter(QObject):
    ticked = Signal(int)


def test_many_emits_leave_true_alive() -> None:
    e = Emitter()
    e.ticked.connect(lambda v: None)
    before = sys.getrefcount(True)
    for i in range(20_000):                  # more than True's natural reference count
        e.ticked.emit(i)
    assert sys.getrefcount(True) > 10_000
    assert sys.getrefcount(True) >= before - 20_000
