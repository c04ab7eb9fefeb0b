"""The chart of one symbol: candles, volume, the six family MAs, Average_Signal with the
ATC's events, crosshair readout, Layer-1 weights table, warm-up shading and exports."""
from atc_desktop.chart.widget import ChartWidget

__all__ = ["ChartWidget"]
