"""One editor row per ``ATCConfig`` field: the widget, its range and its inline error."""
from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal, QObject
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QWidget

from core.config import describe_field

#: Display groups of the ATC parameters; a field not listed lands in "Other", so a new
#: parameter in ``ATCConfig`` appears in the panel without touching this file.
GROUPS: dict[str, tuple[str, ...]] = {
    "Signal": ("La", "De", "cutout", "robustness", "long_threshold", "short_threshold",
               "cut_threshold"),
    "Lengths": ("ema_len", "hull_len", "wma_len", "dema_len", "lsma_len", "kama_len"),
    "Starting weights": ("ema_w", "hma_w", "wma_w", "dema_w", "lsma_w", "kama_w"),
    "Options": ("strategy", "colbase", "alertbase", "hma_kind", "use_codegen_specialization"),
}


def group_of(name: str) -> str:
    return next((g for g, names in GROUPS.items() if name in names), "Other")


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if abs(value) < 1e6 else f"{value:g}"
    return str(value)


class FieldEditor(QObject):
    """Editor, range label and error label for one dataclass field.

    ``edited`` fires on every user change; ``text_value()`` returns the raw entry (a string
    for numbers, so an invalid entry can be shown and explained rather than refused).
    """

    edited = Signal()

    def __init__(self, f: dataclasses.Field[Any], value: Any, parent: QWidget) -> None:
        super().__init__(parent)
        self.field = f
        self.name = f.name
        meta = f.metadata
        self.help = str(meta.get("help", ""))
        self.range_label = QLabel(describe_field(f), parent)
        self.range_label.setObjectName("rangeLabel")
        self.error_label = QLabel("", parent)
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.widget: QWidget
        if f.type == "bool":
            box = QCheckBox(parent)
            box.toggled.connect(self.edited)
            self.widget = box
        elif "choices" in meta:
            combo = QComboBox(parent)
            combo.addItems(list(meta["choices"]))
            combo.currentTextChanged.connect(self.edited)
            self.widget = combo
        else:
            line = QLineEdit(parent)
            line.setMaximumWidth(120)
            line.textEdited.connect(self.edited)
            self.widget = line
        self.widget.setObjectName(f"edit_{f.name}")
        self.widget.setToolTip(f"{f.name}: {self.help}\nallowed: {describe_field(f)}")
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentText(str(value))
            elif isinstance(w, QLineEdit):
                w.setText(format_value(value))
        finally:
            w.blockSignals(False)

    def raw(self) -> Any:
        """The entry as typed: bool, choice string, or the text of a number."""
        w = self.widget
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentText()
        assert isinstance(w, QLineEdit)
        return w.text()

    def set_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self.widget.setProperty("invalid", bool(message))
        # Re-polish so the style sheet's [invalid="true"] rule applies at once.
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)

    @property
    def error(self) -> str:
        return self.error_label.text()
