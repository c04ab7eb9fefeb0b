"""The chart's own toolbar: symbol, data source and forming-bar badges, the interval combo,
one toggle per family MA, zoom and export buttons. It only emits signals; the chart
widget decides what they do."""
from __future__ import annotations

from typing import Sequence

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Signal

from core.config import FAMILIES

from atc_desktop import interval_combo
from atc_desktop.chart.theme import DARK, Theme
from atc_desktop.interval_combo import Choice

INTERVAL_TIP = "Bar interval: the data source's own, and coarser ones resampled from them (marked)"


class ChartToolbar(QtWidgets.QWidget):
    interval_requested = Signal(str)
    ma_toggled = Signal(str, bool)
    zoom_in_clicked = Signal()
    zoom_out_clicked = Signal()
    reset_clicked = Signal()
    export_png_clicked = Signal()
    export_csv_clicked = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = DARK
        # A plain QWidget subclass ignores its style sheet's background without this.
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.setSpacing(6)
        self.title = QtWidgets.QLabel("No symbol")
        self.title.setObjectName("chartTitle")
        self.source = QtWidgets.QLabel("")
        self.source.setObjectName("sourceBadge")
        self.source.setToolTip("Where these bars come from")
        self.forming = QtWidgets.QLabel("last bar forming")
        self.forming.setObjectName("formingBadge")
        self.forming.setToolTip("The last bar is not closed yet: its values change until the close "
                                "(spec §13.3); every ATC value is defined on closed bars.")
        self.forming.setVisible(False)
        self.interval = QtWidgets.QComboBox()
        self.interval.setToolTip(INTERVAL_TIP)
        self.interval.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.interval.activated.connect(self._interval_activated)
        row.addWidget(self.title)
        row.addWidget(self.source)
        row.addWidget(self.forming)
        row.addSpacing(8)
        row.addWidget(self.interval)
        row.addSpacing(8)
        self.ma_buttons: dict[str, QtWidgets.QToolButton] = {}
        for fam in FAMILIES:
            button = QtWidgets.QToolButton()
            button.setText(fam)
            button.setCheckable(True)
            button.setChecked(True)
            button.setAutoRaise(True)
            button.toggled.connect(lambda on, f=fam: self.ma_toggled.emit(f, on))
            row.addWidget(button)
            self.ma_buttons[fam] = button
        row.addStretch(1)
        for text, tip, signal in (("−", "Zoom out", self.zoom_out_clicked),
                                  ("+", "Zoom in", self.zoom_in_clicked),
                                  ("⟲", "Reset view: the latest bars", self.reset_clicked),
                                  ("PNG", "Save the chart as a PNG image", self.export_png_clicked),
                                  ("CSV", "Save bars and every ATC output as CSV", self.export_csv_clicked)):
            button = QtWidgets.QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(signal.emit)
            row.addWidget(button)
        self.set_theme(DARK)

    def set_intervals(self, intervals: Sequence[Choice], current: str) -> None:
        """Offer ``intervals`` (names or ``Timeframe``s: resampled ones are marked);
        selecting ``current`` does not emit ``interval_requested``."""
        interval_combo.fill(self.interval, intervals, current, tooltip=INTERVAL_TIP)

    def set_current_interval(self, interval: str) -> None:
        """Select the shown bars' interval; before the app offered any, show it alone."""
        if self.interval.count() == 0:
            interval_combo.fill(self.interval, [interval], interval, tooltip=INTERVAL_TIP)
            return
        self.interval.blockSignals(True)
        interval_combo.select(self.interval, interval)
        self.interval.blockSignals(False)

    def set_family_tooltip(self, family: str, text: str) -> None:
        self.ma_buttons[family].setToolTip(text)

    def _interval_activated(self, index: int) -> None:
        self.interval_requested.emit(interval_combo.interval_at(self.interval, index))

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        t = theme
        css = [
            f"ChartToolbar {{ background: {t.panel}; }}",
            f"QLabel {{ color: {t.foreground}; }}",
            "QLabel#chartTitle { font-weight: 700; font-size: 11pt; }",
            f"QLabel#sourceBadge {{ color: {t.muted}; border: 1px solid {t.muted};"
            " border-radius: 3px; padding: 0px 5px; }",
            f"QLabel#formingBadge {{ color: {t.warning_fg}; background: {t.warning_bg};"
            " border-radius: 3px; padding: 0px 5px; }",
            f"QToolButton {{ color: {t.foreground}; padding: 2px 6px; border-radius: 3px; }}",
            f"QToolButton:hover {{ background: {t.background}; }}",
            f"QComboBox {{ color: {t.foreground}; background: {t.background};"
            f" border: 1px solid {t.muted}; border-radius: 3px; padding: 1px 6px; }}",
            # Disabled (nothing to choose) must not look like a live box: muted, dashed.
            f"QComboBox:disabled {{ color: {t.muted}; background: {t.panel};"
            f" border: 1px dashed {t.muted}; }}",
            f"QComboBox QAbstractItemView {{ color: {t.foreground}; background: {t.panel}; }}",
        ]
        for fam, button in self.ma_buttons.items():
            colors = t.family(fam)
            css.append(f"QToolButton#ma_{fam}:checked {{ color: {colors.bull};"
                       f" border-bottom: 2px solid {colors.bear}; }}")
            css.append(f"QToolButton#ma_{fam}:!checked {{ color: {t.muted}; }}")
            button.setObjectName(f"ma_{fam}")
        self.setStyleSheet("\n".join(css))

