"""The chart's own toolbar: symbol, data source and forming-bar badges, the interval combo,
one toggle per family MA, the calibration choice, zoom and export buttons. It only emits
signals; the chart widget decides what they do.

In a narrow chart the toolbar drops what is available elsewhere (the source badge, which
the price legend repeats; the zoom buttons, which the main toolbar and keys have) instead
of forcing the window wider."""
from __future__ import annotations

from typing import Callable, Sequence

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from core.config import FAMILIES

from atc_desktop import interval_combo
from atc_desktop.chart.export import PNG_SIZES, size_label
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
    calibration_requested = Signal(str)     # a family, or "" for the six family lines
    export_png_sized = Signal(int, int)     # PNG export at (width, height) pixels

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = DARK
        # A plain QWidget subclass ignores its style sheet's background without this.
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.setSpacing(4)
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
        # In a narrow chart the six toggles fold into one menu button with the same choices.
        self.ma_menu_button = QtWidgets.QToolButton()
        self.ma_menu_button.setText("MAs")
        self.ma_menu_button.setToolTip("Show or hide each family's MA line")
        self.ma_menu_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.ma_menu_button.setAutoRaise(True)
        menu = QtWidgets.QMenu(self.ma_menu_button)
        self.ma_actions: dict[str, QtGui.QAction] = {}
        for fam, button in self.ma_buttons.items():
            act = menu.addAction(fam)
            act.setCheckable(True)
            act.setChecked(True)
            act.toggled.connect(button.setChecked)       # the button emits ma_toggled
            button.toggled.connect(act.setChecked)
            self.ma_actions[fam] = act
        self.ma_menu_button.setMenu(menu)
        self.ma_menu_button.setVisible(False)
        row.addWidget(self.ma_menu_button)
        self.calibration = QtWidgets.QComboBox()
        self.calibration.setObjectName("calibrationBox")
        self.calibration.addItem("6 families", "")
        for fam in FAMILIES:
            self.calibration.addItem(f"{fam} ×9", fam)
        self.calibration.setToolTip(
            "Calibration: show one family's nine member MAs, coloured by their crossover state, "
            "instead of the six family lines; its row of the weights table is highlighted")
        self.calibration.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.calibration.activated.connect(
            lambda i: self.calibration_requested.emit(str(self.calibration.itemData(i))))
        row.addWidget(self.calibration)
        row.addStretch(1)
        buttons = []
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
            buttons.append(button)
        self.zoom_buttons = buttons[:3]
        # PNG: a click saves at the on-screen size, the arrow offers fixed sizes.
        png = buttons[3]
        png.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        png.setToolTip("Save the chart as a PNG image (the arrow: choose its size)")
        sizes = QtWidgets.QMenu(png)
        for w, h in PNG_SIZES:
            sizes.addAction(size_label((w, h)), self._export_sized(w, h))
        png.setMenu(sizes)
        png.setObjectName("pngButton")
        self.png_button = png
        #: Dropped first to last when the toolbar is too narrow for everything.
        self._optional: list[list[QtWidgets.QWidget]] = [[self.source], list(self.zoom_buttons),
                                                          list(self.ma_buttons.values())]
        self._dropped = 0
        self.set_theme(DARK)

    def _export_sized(self, w: int, h: int) -> Callable[[], None]:
        return lambda: self.export_png_sized.emit(w, h)

    # -- fitting a narrow chart ----------------------------------------------------------------
    def _width_for(self, dropped: int) -> int:
        """Width the row needs with the first ``dropped`` optional groups hidden."""
        lay = self.layout()
        assert isinstance(lay, QtWidgets.QBoxLayout)
        optional = {w for group in self._optional for w in group}
        hidden = {w for group in self._optional[:dropped] for w in group}
        m = lay.contentsMargins()
        width, widgets = m.left() + m.right(), 0
        for i in range(lay.count()):
            item = lay.itemAt(i)
            if item is None:
                continue
            w = item.widget()
            if w is None:
                width += item.sizeHint().width()        # the fixed spacings (stretch: 0)
            elif w is self.ma_menu_button:
                if set(self.ma_buttons.values()) <= hidden:
                    width += w.sizeHint().width()       # stands in for the folded toggles
                    widgets += 1
            elif w not in hidden and (w in optional or not w.isHidden()):
                width += w.sizeHint().width()
                widgets += 1
        return width + lay.spacing() * max(widgets - 1, 0)

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        return QtCore.QSize(self._width_for(len(self._optional)), hint.height())

    def refit(self) -> None:
        """Show as many optional groups as the width allows (in order)."""
        dropped = 0
        while dropped < len(self._optional) and self._width_for(dropped) > self.width():
            dropped += 1
        if dropped != self._dropped:
            self._dropped = dropped
            for k, group in enumerate(self._optional):
                for w in group:
                    w.setVisible(k >= dropped)
            self.ma_menu_button.setVisible(dropped >= len(self._optional))

    def dropped_widgets(self) -> list[QtWidgets.QWidget]:
        """Optional widgets hidden for lack of width."""
        return [w for group in self._optional[:self._dropped] for w in group]

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.refit()

    def set_labels(self, title: str, source: str) -> None:
        self.title.setText(title)
        self.source.setText(source)
        self.refit()

    def set_forming(self, forming: bool) -> None:
        self.forming.setVisible(forming)
        self.refit()

    def set_calibration(self, family: str | None) -> None:
        """Select ``family`` (None: the six family lines) without emitting a signal."""
        self.calibration.blockSignals(True)
        self.calibration.setCurrentIndex(max(self.calibration.findData(family or ""), 0))
        self.calibration.blockSignals(False)
        for button in self.ma_buttons.values():
            button.setEnabled(family is None)      # calibration shows no family line
        self.ma_menu_button.setEnabled(family is None)

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
            f"QToolButton {{ color: {t.foreground}; padding: 1px 3px; border-radius: 3px; }}",
            f"QToolButton:hover {{ background: {t.background}; }}",
            # Room for the size menu's arrow beside the text (a style sheet drops the default).
            "QToolButton#pngButton { padding-right: 15px; }",
            "QToolButton#pngButton::menu-button { width: 12px; border: none; }",
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

