"""The chart dock's content: the ChartWidget (created on first use, so start-up does not
wait for pyqtgraph) under a one-line status: what is shown, history window, errors."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from atc_desktop.watchlist.columns import format_time


class ChartPane(QWidget):
    """Holds the chart; forwards its interval switch."""

    interval_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("Select a symbol in the watchlist to chart its full ATC.", self)
        self.status.setObjectName("chartStatus")
        self.status.setWordWrap(True)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(2)
        self._lay.addWidget(self.status)
        self._chart: Any = None
        self._theme = "dark"
        self._intervals: tuple[list[str], str] | None = None

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
            self._lay.insertWidget(0, self._chart, 1)
        return self._chart

    def set_theme(self, name: str) -> None:
        self._theme = name
        if self._chart is not None:
            self._chart.set_theme(name)

    def set_intervals(self, intervals: list[str], current: str) -> None:
        self._intervals = (list(intervals), current)
        if self._chart is not None:
            self._chart.set_intervals(list(intervals), current)

    def show_busy(self, symbol: str, interval: str) -> None:
        self.status.setText(f"Computing the full ATC of {symbol} ({interval})…")
        self.status.setProperty("invalid", False)

    def show_error(self, symbol: str, message: str) -> None:
        self.status.setText(f"⚠ {symbol}: {message}")
        self.status.setProperty("invalid", True)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def show_result(self, out: Any) -> None:
        """History window and warm-up, stated (spec §13.1), plus where the numbers came from."""
        bars, res, req = out.bars, out.result, out.request
        warm = min(req.config.warmup_bars(), len(bars))
        first = format_time(int(bars.timestamps[0]), req.interval, bars.tz)
        note = " (synthetic data)" if getattr(bars, "synthetic", False) else ""
        self.status.setText(
            f"{req.symbol} · {len(bars)} bars from {first}{note} · first {warm} bars are warm-up · "
            f"full ATC on {res.backend} in {out.compute_s * 1e3:.0f} ms · values depend on the "
            "first bar loaded (spec §10); the last bar is the last closed bar")
        self.status.setProperty("invalid", False)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
