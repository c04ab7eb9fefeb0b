"""The layout benchmark suite runs and its figures meet the layout targets."""
from __future__ import annotations

import re

from benchmarks import layout_bench


def test_layout_figures_meet_their_targets() -> None:
    rows = {r["workload"]: r["note"] for r in layout_bench.run()}
    width = int(re.match(r"(\d+) px", rows["main window minimum width, chart shown"]).group(1))
    price = int(re.match(r"(\d+) px", rows["price pane data height at 1184×700"]).group(1))
    assert width <= layout_bench.MIN_WIDTH_TARGET
    assert price >= layout_bench.PRICE_PANE_TARGET
