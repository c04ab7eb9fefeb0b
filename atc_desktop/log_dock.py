"""The log dock: every log record of the app, shown live, from any thread; and the filter
that keeps a chatty library's repeats out of the log."""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont, QTextCharFormat, QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

MAX_LINES = 5000
_LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING,
           "Error": logging.ERROR}


class RepeatFilter(logging.Filter):
    """One line per ``window_s`` from each of the ``collapse`` loggers (and their children).

    yfinance logs a dozen lines for one failed download (per ticker, per lookup, a summary)
    and again on every refresh; the provider reports what matters itself. The first record
    of such a logger passes; the others within the window are counted, and the first one
    after it says how many were left out ("(+14 similar lines since 14:02:05)"). Other
    loggers pass untouched. One instance may filter several handlers: each record is
    judged once, whichever handler asks first.
    """

    def __init__(self, collapse: tuple[str, ...] = ("yfinance",), window_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.collapse = collapse
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[float, float, int]] = {}   # logger → (start, wall, left out)
        self._judged: collections.OrderedDict[int, tuple[logging.LogRecord, bool]] = \
            collections.OrderedDict()

    def _family(self, name: str) -> str | None:
        return next((c for c in self.collapse if name == c or name.startswith(c + ".")), None)

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging's name
        family = self._family(record.name)
        if family is None:
            return True
        with self._lock:
            judged = self._judged.get(id(record))
            if judged is not None and judged[0] is record:
                return judged[1]
            verdict = self._judge(family, record)
            self._judged[id(record)] = (record, verdict)
            while len(self._judged) > 64:
                self._judged.popitem(last=False)
            return verdict

    def _judge(self, family: str, record: logging.LogRecord) -> bool:
        now = self._clock()
        start, wall, left_out = self._open.get(family, (None, 0.0, 0))
        if start is not None and now - start < self.window_s:
            self._open[family] = (start, wall, left_out + 1)
            return False
        if left_out:
            since = time.strftime("%H:%M:%S", time.localtime(wall))
            record.msg = f"{record.getMessage()} (+{left_out} similar line{'s' if left_out > 1 else ''} " \
                         f"since {since})"
            record.args = ()
        self._open[family] = (now, time.time(), 0)
        return True


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
