"""Chart benchmarks, offscreen: a 5,000-bar symbol from set_data to a painted chart, panning
frames, a live update, and (for context) the whole "select a symbol" path with the ATC
computed by the registry's active backend.

``python -m benchmarks.chart_bench [--repeats N]`` prints the rows; ``python -m benchmarks``
includes them. "Painted" means a synchronous repaint of the whole chart widget (toolbar,
panes, readout, weights table) into the offscreen backing store has returned, and the
candle item's paint count proves the panes were drawn.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from benchmarks.timing import median_time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BARS = 5000
SIZE = (1600, 1000)
BACKEND = "pyqtgraph offscreen"
TARGETS = {
    # The 200 ms covers compute + painting; the chart's part must be a small
    # fraction of it, here one fifth.
    "chart set_data→painted, 5000 bars": 0.040,
    "select symbol→painted (compute + chart), 5000 bars": 0.200,
    "chart pan frame, 5000 bars, 180 visible": 1 / 30,
    "chart pan frame, 5000 bars, 4000 visible": 1 / 30,
    "chart live update_data→painted, 5000 bars": 0.016,
}


def _row(workload: str, seconds: float, note: str = "", backend: str = BACKEND) -> dict:
    return {"workload": workload, "backend": backend, "median_s": seconds,
            "target_s": TARGETS.get(workload), "note": note}


class _Rig:
    """One shown chart widget and the inputs to feed it."""

    def __init__(self) -> None:
        from PySide6 import QtWidgets

        from atc_desktop.chart import ChartWidget
        from atc_desktop.chart.sample import synthetic_bars
        from core.atc import compute_reference
        from core.config import ATCConfig

        self.app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        self.config = ATCConfig()
        self.bars = synthetic_bars(BARS)
        self.result = compute_reference(self.bars.close, self.config, detail=True)
        self.chart = ChartWidget()
        self.chart.resize(*SIZE)
        self.chart.show()
        self.app.processEvents()

    def paint(self) -> None:
        """Run the event loop once, as the next frame would: Qt paints what is dirty. If the
        panes were not repainted by that (nothing posted), repaint synchronously."""
        before = self.chart.panes.candles.paint_count
        self.app.processEvents()
        if self.chart.panes.candles.paint_count == before:
            self.chart.repaint()

    def set_and_paint(self) -> None:
        before = self.chart.panes.candles.paint_count
        self.chart.set_data(self.bars, self.result, self.config)
        self.paint()
        if self.chart.panes.candles.paint_count == before:
            raise RuntimeError("the chart did not paint its candles")

    def clear(self) -> None:
        # A different symbol first, so every set_data starts from a foreign chart (view reset,
        # every cache rebuilt), as selecting a new row does.
        other = self.bars.slice(0, 300)
        from core.atc import compute_reference
        self.chart.set_data(other, compute_reference(other.close, self.config, detail=True),
                            self.config)
        self.paint()

    def pan_frames(self, visible: int, frames: int) -> list[float]:
        """Per-frame times of a pan that moves the view by 1/60 of its width a frame."""
        chart, n = self.chart, BARS
        chart.set_x_range(n - visible - 0.5, n + 4.5)
        self.paint()
        step = max(1.0, visible / 60)
        times = []
        x0 = n - visible - 0.5
        painted = chart.panes.candles.paint_count
        for k in range(frames):
            x0 -= step
            if x0 < 0:
                x0 = n - visible - 0.5
            t0 = time.perf_counter()
            chart.set_x_range(x0, x0 + visible + 5)
            self.paint()
            times.append(time.perf_counter() - t0)
        if chart.panes.candles.paint_count - painted < frames:
            raise RuntimeError("a pan frame did not repaint the candles")
        return times


def _compute_select(rig: _Rig, repeats: int) -> dict:
    from core.backends.registry import default_registry

    registry = default_registry()
    backend = registry.active()
    registry.compute(rig.bars.close, rig.config, detail=True)     # JIT / first-call warm-up

    def select() -> None:
        result = registry.compute(rig.bars.close, rig.config, detail=True)
        rig.chart.set_data(rig.bars, result, rig.config)
        rig.paint()

    t = median_time(select, repeats, setup=rig.clear)
    return _row("select symbol→painted (compute + chart), 5000 bars", t,
                "ATC on the registry's active backend", backend=f"{backend} + pyqtgraph")


def run(repeats: int = 7) -> list[dict[str, Any]]:
    rig = _Rig()
    rows = []
    t = median_time(rig.set_and_paint, repeats, setup=rig.clear)
    rows.append(_row("chart set_data→painted, 5000 bars", t, "ATC precomputed (the app's worker)"))
    try:
        rows.append(_compute_select(rig, repeats))
    except Exception as exc:   # a missing backend must not hide the chart's own rows
        rows.append({**_row("select symbol→painted (compute + chart), 5000 bars", float("nan")),
                     "median_s": None, "note": f"not measured: {exc}"})
    rig.set_and_paint()
    frames = max(60, 20 * repeats)
    for visible, name in ((180, "chart pan frame, 5000 bars, 180 visible"),
                          (4000, "chart pan frame, 5000 bars, 4000 visible")):
        times = rig.pan_frames(visible, frames)
        med = statistics.median(times)
        rows.append(_row(name, med, f"{1 / med:.0f} fps median, {1 / max(times):.0f} fps worst "
                                    f"of {frames} frames, {SIZE[0]}×{SIZE[1]}"))
    rig.chart.reset_view()
    rig.paint()
    bars, result = rig.bars, rig.result

    def live() -> None:
        rig.chart.update_data(bars, result)
        rig.paint()
    rows.append(_row("chart live update_data→painted, 5000 bars", median_time(live, repeats),
                     "last bar revised, view at the right edge"))
    rig.chart.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    for r in run(args.repeats):
        med = r["median_s"]
        shown = "-" if med is None else f"{med * 1e3:8.2f} ms"
        target = "" if r["target_s"] is None else f"(target ≤ {r['target_s'] * 1e3:.1f} ms)"
        print(f"{r['workload']:55s} {r['backend']:28s} {shown} {target}  {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
