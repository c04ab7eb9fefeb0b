"""The chart of one symbol: candles, volume, the six family MAs, Average_Signal with the
ATC's events, crosshair readout, Layer-1 weights table, warm-up shading and exports.

``ChartWidget`` is imported on first use, so the window can read the chart's Qt-free
modules (export sizes) without loading pyqtgraph at start-up."""
from __future__ import annotations

from typing import Any

__all__ = ["ChartWidget"]


def __getattr__(name: str) -> Any:
    if name == "ChartWidget":
        from atc_desktop.chart.widget import ChartWidget

        return ChartWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
