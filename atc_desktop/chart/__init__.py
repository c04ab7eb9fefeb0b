"""The chart of one symbol: candles, volume, the six family MAs, Average_Signal with the
ATC's events, crosshair readout, Layer-1 weights table, warm-up shading and exports."""
from atc_desktop.chart._pyside_compat import pin_singletons

# Before any chart code runs: PySide6 6.12 on Python 3.11 loses a reference to None on
# every void Qt call, which aborts the process after a few repaints (see the module).
pin_singletons()

from atc_desktop.chart.widget import ChartWidget  # noqa: E402

__all__ = ["ChartWidget"]
