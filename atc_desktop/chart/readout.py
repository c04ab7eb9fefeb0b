"""The data window beside the weights table: OHLCV, Average_Signal and the six Layer-1
signals at the crosshair's bar (the last bar when the cursor is off the chart)."""
from __future__ import annotations

import math
from typing import Any

from PySide6 import QtCore, QtWidgets

from core.types import SIGNAL_NAMES

from atc_desktop.chart.data import format_number, format_volume
from atc_desktop.chart.theme import DARK, Theme

_LEFT = ("time", "open", "high", "low", "close", "volume", "change")
_LEFT_TITLES = ("Time", "Open", "High", "Low", "Close", "Volume", "Change")
_RIGHT = ("Average_Signal",) + SIGNAL_NAMES
_RIGHT_TITLES = ("Average", "EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA")


def _set_color(label: QtWidgets.QLabel, color: str) -> None:
    # Style sheets win over palettes (and a parent's re-polish resets palettes), so colour by
    # style sheet, but only when it changes: restyling is the costly part of a cursor move.
    css = f"color: {color};"
    if label.property("css") != css:
        label.setProperty("css", css)
        label.setStyleSheet(css)


class ReadoutWidget(QtWidgets.QFrame):
    """Two columns of name/value pairs; values coloured by sign where that means trend."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = DARK
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self._values: dict[str, QtWidgets.QLabel] = {}
        self._names: list[QtWidgets.QLabel] = []
        self._title = QtWidgets.QLabel("Last bar")
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(1)
        grid.addWidget(self._title, 0, 0, 1, 4)
        for col, keys, titles in ((0, _LEFT, _LEFT_TITLES), (2, _RIGHT, _RIGHT_TITLES)):
            for row, (key, title) in enumerate(zip(keys, titles), start=1):
                name = QtWidgets.QLabel(title)
                value = QtWidgets.QLabel("—")
                value.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                value.setMinimumWidth(92 if key == "time" else 70)
                value.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
                grid.addWidget(name, row, col)
                grid.addWidget(value, row, col + 1)
                self._names.append(name)
                self._values[key] = value
        grid.setRowStretch(len(_LEFT) + 1, 1)
        self.set_theme(DARK)

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setStyleSheet(f"ReadoutWidget {{ background: {theme.panel}; }}"
                           " QLabel { font-size: 8.5pt; }")
        for name in self._names:
            _set_color(name, theme.muted)
        self._title.setStyleSheet(f"color: {theme.muted}; font-weight: 600;")
        for label in self._values.values():
            _set_color(label, theme.foreground)

    def text(self, key: str) -> str:
        """The text a value shows (for tests)."""
        return self._values[key].text()

    def show_values(self, values: dict[str, Any], title: str, digits: int,
                    previous_close: float | None) -> None:
        self._title.setText(title)
        t = self._theme
        self._values["time"].setText(str(values["time"]))
        for key in ("open", "high", "low", "close"):
            self._values[key].setText(format_number(values[key], digits))
        self._values["volume"].setText(format_volume(values["volume"]))
        change = self._values["change"]
        if previous_close and math.isfinite(previous_close):
            pct = (values["close"] / previous_close - 1.0) * 100.0
            change.setText(f"{pct:+.2f}%")
            _set_color(change, t.bull if pct >= 0 else t.bear)
        else:
            change.setText("—")
            _set_color(change, t.muted)
        for key in _RIGHT:
            v = float(values[key])
            label = self._values[key]
            digits_sig = 4 if key == "Average_Signal" else 2
            label.setText("—" if not math.isfinite(v) else f"{v:+.{digits_sig}f}")
            color = t.muted if not math.isfinite(v) or v == 0 else t.bull if v > 0 else t.bear
            _set_color(label, color)
