"""Layout figures of the main window (pixels, not times): the narrowest window that shows
the watchlist and a chart, and the price pane's data height at 1184×700.

The figures go in the note with their verdicts (the table's time columns stay empty). Qt's
offscreen platform computes the same geometry as a real window for these figures
(``tests/desktop/test_layout.py`` checks them under Xvfb too).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import row

MIN_WIDTH_TARGET = 1024
PRICE_PANE_TARGET = 160


def run(repeats: int = 1) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from benchmarks.app_bench import SteppingProvider, _window, settle, wait_for

    provider = SteppingProvider(2, 420, visible=400)
    with tempfile.TemporaryDirectory(prefix="atc-layout-bench-") as tmp:
        app, window = _window(Path(tmp), provider)
        try:
            session = window.session
            session.refresh.request(fetch=True)
            wait_for(app, session.refresh.refreshed)
            window.watchlist.select_symbol(provider.symbols[0])
            wait_for(app, session.analysis.analysed)
            window.resize(1184, 700)
            settle(app, 0.3)
            chart = window.chart_pane.chart()
            price = chart.panes.view_box(0).data_height()
            width = window.minimumSizeHint().width()
        finally:
            window.close()
    return [
        row("main window minimum width, chart shown", "Qt", None, None,
            f"{width} px (target ≤ {MIN_WIDTH_TARGET} px: {'yes' if width <= MIN_WIDTH_TARGET else 'NO'})"),
        row("price pane data height at 1184×700", "Qt", None, None,
            f"{price:.0f} px below the legend band (target ≥ {PRICE_PANE_TARGET} px: "
            f"{'yes' if price >= PRICE_PANE_TARGET else 'NO'}; was ~80 px with the legend over it)"),
    ]


def main(argv: list[str] | None = None) -> int:
    for r in run():
        print(r["workload"], "—", r["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
