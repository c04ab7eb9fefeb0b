"""The chart dock's content: the ChartWidget (created on first use, so start-up does not
wait for pyqtgraph) under a one-line status: what is shown, history window, errors. It
also keeps the chart's layout (pane proportions, readout height) and export folder until
the chart exists, so a saved layout can be restored before the first chart."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from atc_desktop.chart.pane_splitter import normalised
from atc_desktop.elided_label import ElidedLabel

from atc_desktop.interval_combo import Choice, timeframes
from atc_desktop.watchlist.columns import format_time
from core.data.resample import is_forming


class ChartPane(QWidget):
    """Holds the chart; forwards its interval switch."""

    interval_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # One line (its whole text in the tooltip): the height belongs to the chart.
        self.status = ElidedLabel("Select a symbol in the watchlist to chart its full ATC.", self)
        self.status.setObjectName("chartStatus")
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(2)
        self._lay.addWidget(self.status)
        self._chart: Any = None
        self._theme = "dark"
        self._intervals: tuple[list[Choice], str] | None = None
        self._resampled: dict[str, str] = {}       # resampled interval → its base
        self._marked_forming = False
        self._proportions: tuple[float, ...] | None = None
        self._bottom_px: int | None = None
        self._export_dir = ""

    @property
    def has_chart(self) -> bool:
        return self._chart is not None

    def chart(self) -> Any:
        """The ChartWidget, created on the first call."""
        if self._chart is None:
            from atc_desktop.chart import ChartWidget

            self._chart = ChartWidget(self)
            self._chart.setObjectName("chartWidget")
            self._chart.set_theme(self._theme)
            self._chart.interval_requested.connect(self.interval_requested)
            if self._intervals is not None:
                self._chart.set_intervals(*self._intervals)
            if self._proportions is not None:
                self._chart.set_pane_proportions(self._proportions)
            if self._bottom_px is not None:
                self._chart.set_bottom_height(self._bottom_px)
            self._chart.export_dir = self._export_dir
            self._lay.insertWidget(0, self._chart, 1)
        return self._chart

    # -- layout kept across sessions -----------------------------------------------------------
    def chart_layout(self) -> tuple[tuple[float, ...] | None, int | None]:
        """(pane proportions, readout panel height) the user chose; None where they did not."""
        if self._chart is None:
            return self._proportions, self._bottom_px
        return self._chart.pane_proportions(), self._chart.asked_bottom_height()

    def restore_chart_layout(self, proportions: tuple[float, ...] | None, bottom_px: int | None) -> None:
        """Apply a saved chart layout now or when the chart is created (ValueError: bad
        proportions)."""
        if proportions is not None:
            self._proportions = normalised(proportions)
            if self._chart is not None:
                self._chart.set_pane_proportions(self._proportions)
        if bottom_px is not None:
            self._bottom_px = int(bottom_px)
            if self._chart is not None:
                self._chart.set_bottom_height(self._bottom_px)

    @property
    def export_dir(self) -> str:
        """Folder the last export went to (the next export dialog starts there)."""
        return self._chart.export_dir if self._chart is not None else self._export_dir

    @export_dir.setter
    def export_dir(self, folder: str) -> None:
        self._export_dir = folder
        if self._chart is not None:
            self._chart.export_dir = folder

    def set_theme(self, name: str) -> None:
        self._theme = name
        if self._chart is not None:
            self._chart.set_theme(name)

    def set_intervals(self, intervals: list[Choice], current: str) -> None:
        """Offer ``intervals`` (names or ``Timeframe``s) in the chart's interval box."""
        self._intervals = (list(intervals), current)
        self._resampled = {t.interval: t.base for t in timeframes(intervals) if t.base}
        if self._chart is not None:
            self._chart.set_intervals(list(intervals), current)

    def _resampled_note(self, interval: str, bars: Any) -> str:
        """How the last bar stands; a resampled interval's last bar is flagged as forming
        on the chart while its period (week, month, slot) is still open."""
        base = self._resampled.get(interval)
        forming = base is not None and len(bars) > 0 and is_forming(bars)
        if self._chart is not None and (forming or self._marked_forming):
            self._chart.set_last_bar_forming(forming)
            self._marked_forming = forming
        if base is None:
            return "the last bar is the last closed bar"
        state = "is still forming" if forming else "is complete"
        return f"{interval} bars resampled from {base}; the last one {state}"

    def show_busy(self, symbol: str, interval: str) -> None:
        self._say(f"Computing the full ATC of {symbol} ({interval})…")
        self.status.setProperty("invalid", False)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def show_error(self, symbol: str, message: str) -> None:
        self._say(f"⚠ {symbol}: {message}")
        self.status.setProperty("invalid", True)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def show_result(self, out: Any) -> None:
        """History window and warm-up, stated (spec §13.1), plus where the numbers came from."""
        bars, res, req = out.bars, out.result, out.request
        warm = min(req.config.warmup_bars(), len(bars))
        first = format_time(int(bars.timestamps[0]), req.interval, bars.tz)
        note = " (synthetic data)" if getattr(bars, "synthetic", False) else ""
        last = self._resampled_note(req.interval, bars)
        self._say(
            f"{req.symbol} · {len(bars)} bars from {first}{note} · first {warm} bars are warm-up · "
            f"full ATC on {res.backend} in {out.compute_s * 1e3:.0f} ms · values depend on the "
            f"first bar loaded (spec §10); {last}")
        self.status.setProperty("invalid", False)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
