"""Render docs/screenshots/chart.png: the bundled AAPL daily history with the full ATC from
the numpy reference. Run ``python -m tools.chart_screenshot [out.png]`` (offscreen
works: the platform plugin is forced to ``offscreen`` unless one is set)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "chart.png"


def render(out: Path = OUT, width: int = 1600, height: int = 1000, theme: str = "dark",
           crosshair_bar: int | None = None, visible: int = 260) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from core.atc import compute_reference
    from core.config import ATCConfig
    from atc_desktop.chart import ChartWidget
    from atc_desktop.chart.sample import bundled_bars

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    bars = bundled_bars("AAPL")
    config = ATCConfig()
    result = compute_reference(bars.close, config, detail=True)
    chart = ChartWidget()
    chart.resize(width, height)
    chart.set_intervals(["1d", "1wk", "1mo"], "1d")
    chart.set_theme(theme)
    chart.show()
    chart.set_data(bars, result, config)
    n = len(bars)
    chart.set_x_range(n - visible - 0.5, n - 0.5 + 6)
    app.processEvents()
    if crosshair_bar is not None:
        chart.crosshair.move_to(crosshair_bar if crosshair_bar >= 0 else n + crosshair_bar, 0,
                                float(bars.close[crosshair_bar]))
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    image = chart.grab().toImage()
    if not image.save(str(out), "PNG"):
        raise OSError(f"could not write {out}")
    chart.close()
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    theme = args[1] if len(args) > 1 else "dark"
    print(render(out, theme=theme, crosshair_bar=-40))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
