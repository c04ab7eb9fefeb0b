"""The log dock: every log record of the app, shown live, from any thread."""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont, QTextCharFormat, QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

MAX_LINES = 5000
_LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING,
           "Error": logging.ERROR}


class _Bridge(QObject):
    record_emitted = Signal(int, str)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records to the GUI thread by signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self.bridge.record_emitted.emit(record.levelno, text)
        except RuntimeError:              # the bridge is gone (shutdown)
            pass
        except Exception:
            self.handleError(record)


class LogWidget(QWidget):
    """Read-only, bounded log view with a level filter."""

    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handler = handler
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFont("DejaVu Sans Mono", 9))
        self.level = QComboBox(self)
        self.level.addItems(list(_LEVELS))
        self.level.setCurrentText("Info")
        self.level.setToolTip("lowest level shown")
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.view.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addStretch(1)
        bar.addWidget(clear)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.view)
        self._colors: dict[int, QColor] = {}
        handler.bridge.record_emitted.connect(self.append)

    def set_level_colors(self, warn: QColor, error: QColor) -> None:
        self._colors = {logging.WARNING: warn, logging.ERROR: error, logging.CRITICAL: error}

    def lines(self) -> list[str]:
        return self.view.toPlainText().splitlines()

    def append(self, level: int, text: str) -> None:
        if level < _LEVELS[self.level.currentText()]:
            return
        fmt = QTextCharFormat()
        colour = self._colors.get(level)
        if colour is not None:
            fmt.setForeground(colour)
        cursor = self.view.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self.view.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, fmt)
        self.view.ensureCursorVisible()
