"""Chart → Compare with TradingView export…: the `atc parity` comparison in a dialog.

The user picks a CSV that TradingView's "Export chart data" wrote for the charted symbol;
the comparison (``core.parity.compare_export``: parse, compute from the export's first bar,
compare every recognised plot column) runs on the app's worker pool, and the dialog shows
one row per column — bars, bit-identical %, within-1e-9 %, the first differing bar with its
time and both values — or one clear message when the file cannot be used.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QLabel,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from atc_desktop.guard import guarded
from atc_desktop.table_text import table_rows
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.config import ATCConfig
from core.errors import ATCError
from core.parity import ParityReport, compare_export, report_rows, summary

log = logging.getLogger("atc_desktop.parity")
KIND = "parity"
#: The dialog's table columns, and where each comes from in ``core.parity.report_rows``.
HEADINGS = ("column", "bars", "bit-identical %", "within 1e-9 %", "first differing bar", "time",
            "ours", "theirs", "compared as", "agrees")
_FROM_ROW = (0, 2, 3, 4, 5, 6, 7, 8, 1, 9)
#: What the dialog says about the rules (the command line's help says the same).
RULES = ("Discrete columns (states, Layer-1 signals, Cut, direction, events) must be identical, "
         "moving averages bit-identical (TradingView's arithmetic, spec §4.8), other continuous "
         "columns within 1e-9. Values are computed from the export's first bar.")


class ParityDialog(QDialog):
    """Runs one comparison on ``runner`` and shows its result; ``finished_comparison``
    carries the :class:`ParityReport`, or None when the comparison failed."""

    finished_comparison = Signal(object)

    def __init__(self, runner: JobRunner, compute: Any, config: ATCConfig, path: str | Path,
                 symbol: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("parityDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.path = Path(path)
        self.symbol = symbol
        self.report: ParityReport | None = None
        self.error: str | None = None
        self.setWindowTitle(f"Compare with TradingView export — {symbol}" if symbol
                            else "Compare with TradingView export")
        self.header = QLabel(f"Comparing {self.path.name} with our computation"
                             + (f" for {symbol}" if symbol else "") + "…", self)
        self.header.setObjectName("parityHeader")
        self.header.setWordWrap(True)
        self.header.setToolTip(str(self.path))
        self.notes = QLabel("", self)
        self.notes.setObjectName("parityNotes")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(HEADINGS), self)
        self.table.setObjectName("parityTable")
        self.table.setHorizontalHeaderLabels(list(HEADINGS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.verdict = QLabel("computing…", self)
        self.verdict.setObjectName("parityVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rules = QLabel(RULES, self)
        rules.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (self.header, self.notes):
            lay.addWidget(w)
        lay.addWidget(self.table, 1)
        for tail in (self.verdict, rules, buttons):
            lay.addWidget(tail)
        self.resize(1100, 560)

        self._runner = runner
        path_, config_ = self.path, config
        self.request_id = runner.submit(
            KIND, lambda: compare_export(path_, config_, compute=compute),
            on_done=self._succeeded, on_failed=self._failed)

    @property
    def busy(self) -> bool:
        return self.report is None and self.error is None

    def rows(self) -> list[list[str]]:
        """The table's text, row by row (what the user sees)."""
        return table_rows(self.table)

    @guarded
    def _succeeded(self, result: JobResult[ParityReport]) -> None:
        report: ParityReport = result.value
        self.report = report
        self.header.setText(f"{report.path.name}: {report.bars} bars, {report.first_time} … "
                            f"{report.last_time}"
                            + (f" · ATC on {report.backend}" if report.backend else "")
                            + (f" · charted symbol {self.symbol}" if self.symbol else ""))
        notes = list(report.notes)
        if report.ignored:
            notes.append("ignored (not recognised): "
                         + "; ".join(f"{t!r} ({why})" for t, why in report.ignored))
        self.notes.setText("\n".join(notes))
        rows = report_rows(report)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, k in enumerate(_FROM_ROW):
                item = QTableWidgetItem(row[k])
                if c not in (0, 5, 8):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row[9] != "yes":
                    item.setToolTip(f"{row[0]} differs from bar {row[5]} ({row[6]})")
                self.table.setItem(r, c, item)
        self._set_verdict(summary(report), ok=report.agrees)
        self.finished_comparison.emit(report)

    @guarded
    def _failed(self, failure: JobFailure) -> None:
        if isinstance(failure.error, ATCError):
            self.error = str(failure.error)
        else:
            log.error("comparison with %s failed:\n%s", self.path, failure.trace)
            self.error = f"unexpected error: {failure.message}"
        self.header.setText(f"Cannot compare {self.path.name}.")
        self._set_verdict("⚠ " + self.error, ok=False)
        self.finished_comparison.emit(None)

    def _set_verdict(self, text: str, ok: bool) -> None:
        self.verdict.setText(("✔ " if ok else "") + text)
        self.verdict.setProperty("invalid", not ok)
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)

    def done(self, code: int) -> None:  # noqa: D401 - Qt's name
        self._runner.drop(self.request_id)      # closed before the answer: nobody to show it to
        super().done(code)


def compare_with_export(window: Any, path: str | None = None) -> ParityDialog | None:
    """Ask for a TradingView export of the charted symbol (unless ``path`` is given), then
    open the dialog that compares it on the window's session; None when cancelled."""
    session = window.session
    symbol = session.analysis.symbol
    if path is None:
        caption = (f"TradingView export of {symbol}" if symbol
                   else "TradingView chart-data export")
        path, _ = QFileDialog.getOpenFileName(window, caption, "", "CSV (*.csv);;All files (*)")
    if not path:
        return None
    dialog = ParityDialog(session.runner, session.registry.compute, session.settings.config, path,
                          symbol, window)
    dialog.show()
    return dialog
