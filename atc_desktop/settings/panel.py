"""The settings panel: every ATCConfig parameter (built from the dataclass fields) with its
range and inline validation, the data source and refresh, the backend choice, and
"Restore defaults". A valid change is announced once the user pauses typing."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from atc_desktop import interval_combo
from atc_desktop.app_settings import HISTORY_RANGE, REFRESH_RANGE, AppSettings
from atc_desktop.guard import guarded
from atc_desktop.interval_combo import Choice
from atc_desktop.refresh import PROVIDER_MIN_REFRESH_S
from atc_desktop.settings.fields import GROUPS, FieldEditor, group_of
from core.config import FAMILIES, ATCConfig
from core.errors import ATCInputError

#: Data sources offered: provider spec prefix → label.
SOURCES: dict[str, str] = {
    "bundled": "Bundled sample data (offline)",
    "synthetic": "Synthetic random walks (offline)",
    "yahoo": "Yahoo Finance (online)",
    "csv": "CSV folder",
}
DEBOUNCE_MS = 350
INTERVAL_TIP = ("bar interval: the data source's own, and coarser ones resampled from them "
                "(marked \"from …\"); the list follows the chosen source")


def validate_config(raw: dict[str, Any], fallback: ATCConfig) -> tuple[ATCConfig, dict[str, str]]:
    """Parse and check every entry; return the config to use and one message per bad field.

    A bad field keeps its value from ``fallback`` so the remaining fields are still checked
    together (cross-field rules such as length vs robustness name the field they blame).
    """
    specs = {f.name: f for f in dataclasses.fields(ATCConfig)}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, entry in raw.items():
        if isinstance(entry, str) and specs[name].type in ("int", "float"):
            try:
                values[name] = ATCConfig.parse_value(name, entry.strip())
            except ATCInputError as exc:
                errors[name] = str(exc)
                values[name] = getattr(fallback, name)
        else:
            values[name] = entry
    for _ in range(len(specs) + 1):
        try:
            return ATCConfig(**values), errors
        except ATCInputError as exc:
            name = exc.field or "config"
            errors.setdefault(name, str(exc))
            if name not in specs or values[name] == getattr(fallback, name):
                return fallback, errors      # the rule fails even with the old value: keep it all
            values[name] = getattr(fallback, name)
    return fallback, errors


class SettingsPanel(QWidget):
    """Edits :class:`AppSettings`; ``settings_changed(AppSettings)`` on every valid change."""

    settings_changed = Signal(object)

    def __init__(self, settings: AppSettings, backends: Sequence[str], intervals: Sequence[Choice],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply_now)
        self.editors: dict[str, FieldEditor] = {}
        self._intervals: list[Choice] = []

        body = QWidget(self)
        col = QVBoxLayout(body)
        col.addWidget(self._data_box(settings, intervals))
        col.addWidget(self._backend_box(settings, backends))
        groups: dict[str, list[dataclasses.Field[Any]]] = {}
        for f in dataclasses.fields(ATCConfig):
            groups.setdefault(group_of(f.name), []).append(f)
        for title in [*GROUPS, "Other"]:
            if title in groups:
                col.addWidget(self._param_box(title, groups[title], settings.config))
        col.addStretch(1)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.status = QLabel("", self)
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        restore = QPushButton("Restore defaults", self)
        restore.setToolTip("reset every ATC parameter to the spec's defaults")
        restore.clicked.connect(self.restore_defaults)
        foot = QHBoxLayout()
        foot.addWidget(self.status, 1)
        foot.addWidget(restore)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(scroll, 1)
        lay.addLayout(foot)
        self._show_status({})

    # -- building -----------------------------------------------------------------------------
    def _data_box(self, s: AppSettings, intervals: Sequence[Choice]) -> QGroupBox:
        box = QGroupBox("Data and refresh", self)
        form = QFormLayout(box)
        self.source = QComboBox(box)
        for key, label in SOURCES.items():
            self.source.addItem(label, key)
        self.csv_dir = QLineEdit(box)
        self.csv_dir.setPlaceholderText("folder with SYMBOL.csv files")
        browse = QPushButton("…", box)
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.csv_dir, 1)
        row.addWidget(browse)
        self.replay = QCheckBox("replay (reveal one bar per refresh, so values move offline)", box)
        self.interval = QComboBox(box)
        self.refresh = QSpinBox(box)
        self.refresh.setRange(*REFRESH_RANGE)
        self.refresh.setSuffix(" s")
        self.refresh_minimum = QLabel("", box)
        self.refresh_minimum.setObjectName("rangeLabel")
        self.refresh_minimum.setWordWrap(True)
        self.history = QSpinBox(box)
        self.history.setRange(*HISTORY_RANGE)
        self.history.setSingleStep(500)
        self.history.setToolTip("bars of history fed to every computation; the ATC depends on "
                                "its first bar forever (spec §10), so results are for this window")
        form.addRow("Source", self.source)
        form.addRow("CSV folder", row)
        form.addRow("", self.replay)
        form.addRow("Interval", self.interval)
        form.addRow("Refresh every", self.refresh)
        form.addRow("", self.refresh_minimum)
        form.addRow("History (bars)", self.history)
        self.set_intervals(intervals)
        self._load_app_fields(s)
        for sig in (self.source.currentIndexChanged, self.interval.currentTextChanged,
                    self.refresh.valueChanged, self.history.valueChanged, self.replay.toggled,
                    self.csv_dir.textEdited):
            sig.connect(self._edited)
        return box

    def _backend_box(self, s: AppSettings, backends: Sequence[str]) -> QGroupBox:
        box = QGroupBox("Compute backend", self)
        form = QFormLayout(box)
        self.backend = QComboBox(box)
        self.backend.addItems(["auto", *[b for b in backends if b != "auto"]])
        self.backend.setCurrentText(s.backend)
        self.backend.setToolTip("auto: the first available of cuda → rust → numba → numpy; a named "
                                "backend is tried first and falls back (see the fallback log)")
        self.backend.currentTextChanged.connect(self._edited)
        form.addRow("Chart / full ATC", self.backend)
        self.screening_family = QComboBox(box)
        self.screening_family.setObjectName("edit_screening_family")
        self.screening_family.addItems(list(FAMILIES))
        self.screening_family.setCurrentText(s.screening_family)
        self.screening_family.setToolTip("the family the watchlist's screening column computes "
                                         "alone (its Layer-1 signal, equity and §9 events)")
        self.screening_family.currentTextChanged.connect(self._edited)
        form.addRow("Screening family", self.screening_family)
        screening = QLabel("one-family screening runs on numba (use_codegen_specialization on), "
                           "else on this choice; EMA is kept live bar by bar, another family is "
                           "recomputed over the history window on each refresh", box)
        screening.setWordWrap(True)
        screening.setObjectName("rangeLabel")
        form.addRow("Screening", screening)
        return box

    def _param_box(self, title: str, fields: list[dataclasses.Field[Any]], cfg: ATCConfig) -> QGroupBox:
        box = QGroupBox(f"ATC — {title.lower()}", self)
        grid = QGridLayout(box)
        grid.setColumnStretch(3, 1)
        for i, f in enumerate(fields):
            ed = FieldEditor(f, getattr(cfg, f.name), box)
            ed.edited.connect(self._edited)
            self.editors[f.name] = ed
            name = QLabel(f.name, box)
            name.setToolTip(ed.help)
            ed.range_label.setToolTip(ed.help)
            grid.addWidget(name, 2 * i, 0)
            grid.addWidget(ed.widget, 2 * i, 1)
            grid.addWidget(ed.range_label, 2 * i, 2)
            help_label = QLabel(ed.help, box)
            help_label.setWordWrap(True)
            grid.addWidget(help_label, 2 * i, 3)
            grid.addWidget(ed.error_label, 2 * i + 1, 0, 1, 4)
        return box

    # -- public -------------------------------------------------------------------------------
    def settings(self) -> AppSettings:
        """The settings in effect (the last valid ones)."""
        return self._settings

    def editor(self, name: str) -> FieldEditor:
        return self.editors[name]

    def errors(self) -> dict[str, str]:
        return {n: e.error for n, e in self.editors.items() if e.error}

    def set_intervals(self, intervals: Sequence[Choice]) -> None:
        """Offer ``intervals`` (names or ``Timeframe``s: resampled ones are marked). The
        interval in the settings stays listed, marked, even when the source lacks it."""
        self._intervals = list(intervals)
        self._fill_intervals(self._settings.interval)

    def _fill_intervals(self, current: str) -> None:
        interval_combo.fill(self.interval, self._intervals, current, tooltip=INTERVAL_TIP,
                            keep_current=True)

    def chosen_interval(self) -> str:
        """The bare interval selected in the box."""
        i = self.interval.currentIndex()
        return interval_combo.interval_at(self.interval, i) if i >= 0 else ""

    def set_settings(self, settings: AppSettings) -> None:
        """Show ``settings`` (no signal)."""
        self._settings = settings
        self._load_app_fields(settings)
        for combo, value in ((self.backend, settings.backend),
                             (self.screening_family, settings.screening_family)):
            combo.blockSignals(True)
            combo.setCurrentText(value)
            combo.blockSignals(False)
        for name, ed in self.editors.items():
            ed.set_value(getattr(settings.config, name))
            ed.set_error("")
        self._show_status({})

    @guarded
    def restore_defaults(self) -> None:
        defaults = ATCConfig()
        for name, ed in self.editors.items():
            ed.set_value(getattr(defaults, name))
        self.apply_now()

    @guarded
    def apply_now(self) -> None:
        """Validate the form now; announce the new settings when valid and different."""
        self._timer.stop()
        raw = {name: ed.raw() for name, ed in self.editors.items()}
        config, errors = validate_config(raw, self._settings.config)
        for name, ed in self.editors.items():
            ed.set_error(errors.get(name, ""))
        source = str(self.source.currentData())
        if source == "csv":
            source = f"csv:{self.csv_dir.text().strip()}"
            if source == "csv:":
                errors["source"] = "choose the CSV folder"
        try:
            new = self._settings.replace(
                config=config, source=source, replay=self.replay.isChecked(),
                interval=self.chosen_interval() or self._settings.interval,
                refresh_seconds=self.refresh.value(), history_bars=self.history.value(),
                backend=self.backend.currentText(),
                screening_family=self.screening_family.currentText())
        except ATCInputError as exc:
            errors[exc.field or "settings"] = str(exc)
            new = self._settings
        self._show_status(errors)
        if errors and "source" in errors:
            return
        if new != self._settings:
            self._settings = new
            self.settings_changed.emit(new)

    # -- internals ----------------------------------------------------------------------------
    def _edited(self) -> None:
        self.replay.setEnabled(self.source.currentData() == "bundled")
        self.csv_dir.setEnabled(self.source.currentData() == "csv")
        self._show_refresh_minimum(str(self.source.currentData()))
        self._timer.start()

    def _show_refresh_minimum(self, source: str) -> None:
        """Say when the chosen source refreshes less often than the setting asks."""
        least = PROVIDER_MIN_REFRESH_S.get(source)
        self.refresh_minimum.setText(
            "" if least is None else
            f"{SOURCES[source].split(' (')[0]}: at least {least} s between refreshes, whatever is "
            "set here — a provider minimum (it rate-limits clients that ask more often)")
        self.refresh_minimum.setVisible(least is not None)

    def _load_app_fields(self, s: AppSettings) -> None:
        widgets = (self.source, self.csv_dir, self.replay, self.interval, self.refresh, self.history)
        for w in widgets:
            w.blockSignals(True)
        key = "csv" if s.source.startswith("csv:") else s.source.split(":")[0]
        self.source.setCurrentIndex(max(self.source.findData(key), 0))
        self.csv_dir.setText(s.source[4:] if key == "csv" else "")
        self.replay.setChecked(s.replay)
        self._fill_intervals(s.interval)
        self.refresh.setValue(s.refresh_seconds)
        self.history.setValue(s.history_bars)
        for w in widgets:
            w.blockSignals(False)
        self.replay.setEnabled(key == "bundled")
        self.csv_dir.setEnabled(key == "csv")
        self._show_refresh_minimum(key)

    def _show_status(self, errors: dict[str, str]) -> None:
        if errors:
            n = len(errors)
            extra = "; ".join(v for k, v in errors.items() if k not in self.editors)
            self.status.setText(f"{n} invalid value{'s' if n > 1 else ''} — the last valid settings "
                                f"stay in effect. {extra}".strip())
            self.status.setProperty("invalid", True)
        else:
            self.status.setText("All values valid; changes apply automatically.")
            self.status.setProperty("invalid", False)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "CSV folder", self.csv_dir.text())
        if folder:
            self.csv_dir.setText(folder)
            self._edited()
