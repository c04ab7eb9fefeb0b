"""The installed PySide6 must not leak references to None/True (6.12.0 does on Python 3.11:
the interpreter aborts after a few thousand Qt calls). pyproject.toml pins below it."""
import sys

from PySide6 import QtCore


class Emitter(QtCore.QObject):
    fired = QtCore.Signal(bool)


def test_void_qt_calls_keep_the_references_to_none():
    rect = QtCore.QRectF()
    before = sys.getrefcount(None)
    for _ in range(2000):
        rect.setWidth(1.0)
    assert before - sys.getrefcount(None) < 50, QtCore.qVersion()


def test_emitting_true_keeps_the_references_to_true(qtbot):
    emitter = Emitter()
    seen = []
    emitter.fired.connect(seen.append)
    before = sys.getrefcount(True)
    for _ in range(2000):
        emitter.fired.emit(True)
    assert len(seen) == 2000
    assert before - sys.getrefcount(True) < 50, QtCore.qVersion()
