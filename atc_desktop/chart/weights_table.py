"""The Layer-1 weights table of the original indicator: families × nine member lengths, each
cell the member's current Layer-1 equity (spec §6/§7: the weight of its state in the
family signal), its text coloured by the member's state and its background by its size.
In the chart's calibration view the calibrated family's row is highlighted."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from core.config import FAMILIES, ROBUSTNESS_OFFSETS, ATCConfig

from atc_desktop.chart.theme import DARK, Theme

def member_labels(robustness: str) -> list[str]:
    """Offsets of the nine members in spec §4.1 order: L, L+o1 … L+o4, L−o1 … L−o4."""
    o = ROBUSTNESS_OFFSETS[robustness]
    return ["L"] + [f"L+{d}" for d in o] + [f"L−{d}" for d in o]


def family_label(family: str, config: ATCConfig) -> str:
    """Family name; the HMA row says what it really is (spec §4.3, §12)."""
    if family != "HMA":
        return family
    return "HMA (Hull*)" if config.hma_kind == "hull" else "HMA (SMA)"


class WeightsTableWidget(QtWidgets.QTableWidget):
    """6 × 9 table of member equities at one bar."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(6, 9, parent)
        self._theme = DARK
        self._values = np.full((6, 9), np.nan)
        self._states: np.ndarray | None = None
        self._highlight: int | None = None
        self._lengths = np.zeros((6, 9), dtype=np.int64)
        self._config: ATCConfig | None = None
        #: What each cell shows (text, colour, shade, bold): a live tick sets only what
        #: changed, since every set is a model signal and a repaint of the cell.
        self._shown: list[list[_Look | None]] = [[None] * 9 for _ in range(6)]
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(20)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setMinimumSectionSize(46)
        font = QtGui.QFont(self.font())
        font.setPointSizeF(8.5)
        self.setFont(font)
        # Our own references to the cells and headers: typed, and no lookups per update.
        self._cells: list[list[QtWidgets.QTableWidgetItem]] = []
        for r in range(6):
            row = []
            for c in range(9):
                item = QtWidgets.QTableWidgetItem("")
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                self.setItem(r, c, item)
                row.append(item)
            self._cells.append(row)
        self._columns = [QtWidgets.QTableWidgetItem("") for _ in range(9)]
        self._rows = [QtWidgets.QTableWidgetItem("") for _ in range(6)]
        for c, item in enumerate(self._columns):
            self.setHorizontalHeaderItem(c, item)
        for r, item in enumerate(self._rows):
            self.setVerticalHeaderItem(r, item)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Full height when there is room; shorter (scrolling) when the user gives the chart
        # panes more of the splitter.
        header = self.horizontalHeader().sizeHint().height()
        self.setMaximumHeight(header + 6 * 20 + 4)
        self.setMinimumHeight(header + 2 * 20 + 4)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Maximum)

    # -- configuration ---------------------------------------------------------------------
    def set_config(self, config: ATCConfig) -> None:
        """Headers from ``config.member_lengths()``: the lengths themselves when every family
        shares them (the default), otherwise the offsets, with each row naming its lengths."""
        self._config = config
        self._lengths = config.member_lengths()
        uniform = bool((self._lengths == self._lengths[0]).all())
        if uniform:
            headers = [str(v) for v in self._lengths[0]]
            rows = [family_label(f, config) for f in FAMILIES]
        else:
            headers = member_labels(config.robustness)
            rows = [f"{family_label(f, config)} L={self._lengths[i, 0]}" for i, f in enumerate(FAMILIES)]
        for item, text in zip(self._columns, headers):
            item.setText(text)
        for item, text in zip(self._rows, rows):
            item.setText(text)
        for c in range(9):
            self._columns[c].setToolTip(
                "member " + member_labels(config.robustness)[c] + ": lengths "
                + ", ".join(f"{FAMILIES[f]} {self._lengths[f, c]}" for f in range(6)))

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setStyleSheet(
            f"QTableWidget {{ background: {theme.panel}; color: {theme.foreground};"
            f" border: none; }}"
            f" QHeaderView::section {{ background: {theme.panel}; color: {theme.muted};"
            f" border: none; padding: 1px 4px; font-weight: 600; }}"
            f" QTableCornerButton::section {{ background: {theme.panel}; border: none; }}")
        self._paint_cells(self._values, self._states)

    # -- values ----------------------------------------------------------------------------
    def show_bar(self, equities: np.ndarray, states: np.ndarray) -> None:
        """Show the (6, 9) member equities and states of one bar (nothing to do when they
        are the ones shown: live ticks re-show the same closed bar under the crosshair)."""
        values = np.array(equities, dtype=np.float64).reshape(6, 9)
        states = np.asarray(states).reshape(6, 9)
        if (self._states is not None and np.array_equal(values, self._values, equal_nan=True)
                and np.array_equal(states, self._states)):
            return
        self._values, self._states = values, states
        self._paint_cells(self._values, self._states)

    def highlight_family(self, family: int | None) -> None:
        """Highlight row ``family`` (0 … 5) and mute the others; None: no highlight."""
        self._highlight = family
        for r, item in enumerate(self._rows):
            font = item.font()
            font.setBold(r == family)
            item.setFont(font)
        self._paint_cells(self._values, self._states)
        if family is not None:
            self.scrollToItem(self._cells[family][0])

    def highlighted_family(self) -> int | None:
        return self._highlight

    def values(self) -> np.ndarray:
        """The (6, 9) equities shown (exact values, not the rounded text)."""
        return self._values.copy()

    def cell_tooltip(self, row: int, column: int) -> str:
        """The tooltip of a cell, made when asked: it names the exact value, which a live
        tick changes without changing the cell's text."""
        v = float(self._values[row, column])
        state = 0 if self._states is None else int(self._states[row, column])
        where = "long" if state > 0 else "short" if state < 0 else "flat"
        return (f"{FAMILIES[row]} length {self._lengths[row, column]}: Layer-1 equity {v:.6g},"
                f" state {where}")

    def viewportEvent(self, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.ToolTip:
            assert isinstance(event, QtGui.QHelpEvent)
            index = self.indexAt(event.pos())
            if index.isValid():
                QtWidgets.QToolTip.showText(event.globalPos(), self.cell_tooltip(index.row(), index.column()),
                                            self.viewport(), self.visualRect(index))
            else:
                QtWidgets.QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def header_labels(self) -> list[str]:
        return [item.text() for item in self._columns]

    def row_labels(self) -> list[str]:
        return [item.text() for item in self._rows]

    def _paint_cells(self, values: np.ndarray, states: np.ndarray | None) -> None:
        t = self._theme
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        colors = {s: QtGui.QColor(c).rgba() for s, c in ((1, t.bull), (-1, t.bear), (0, t.muted))}
        shade = QtGui.QColor(t.foreground).rgba() & 0xFFFFFF
        marked = QtGui.QColor(t.warning_bg).rgba()
        best = np.nanargmax(np.where(np.isfinite(values), values, -np.inf), axis=1)
        for r in range(6):
            muted = self._highlight is not None and r != self._highlight
            for c in range(9):
                v = float(values[r, c])
                fg = colors.get(0 if states is None else int(states[r, c]), colors[0])
                # The background grows with the member's weight relative to the largest one.
                alpha = int(8 + 40 * (v / top)) if math.isfinite(v) and top > 0 else 0
                look = _Look("—" if not math.isfinite(v) else f"{v:.3f}",
                             (90 << 24) | (fg & 0xFFFFFF) if muted else fg,
                             marked if r == self._highlight else (alpha << 24) | shade,
                             bool(c == best[r]) and math.isfinite(v))
                old = self._shown[r][c]
                if look != old:
                    _set_cell(self._cells[r][c], look, old)
                    self._shown[r][c] = look


class _Look(NamedTuple):
    """What a cell shows (colours as ARGB)."""

    text: str
    fg: int
    bg: int
    bold: bool


def _set_cell(item: QtWidgets.QTableWidgetItem, new: _Look, old: _Look | None) -> None:
    """Set the parts of a cell that differ from ``old`` (all of them when None)."""
    if old is None or new.text != old.text:
        item.setText(new.text)
    if old is None or new.fg != old.fg:
        item.setForeground(QtGui.QColor.fromRgba(new.fg))
    if old is None or new.bg != old.bg:
        item.setBackground(QtGui.QColor.fromRgba(new.bg))
    if old is None or new.bold != old.bold:
        font = item.font()
        font.setBold(new.bold)
        item.setFont(font)
