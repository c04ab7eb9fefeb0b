"""The live-data benchmark suite (benchmarks/live_bench.py): its bookkeeping, and one run
on a tiny batch and a short stream from a loopback WebSocket server (here for the desktop
fixtures: the shared cache of the generated EMA-only kernel, offscreen Qt)."""
from __future__ import annotations

import pytest

from benchmarks import live_bench
from benchmarks.live_bench import Latencies, StreamPlan, latency_rows, quote_schedule
from core.backends.registry import Registry


def test_schedule_interleaves_the_charted_symbol_and_climbs_a_quarter_per_quote() -> None:
    plan = StreamPlan(chart_every=4)
    start = {"A": 400, "B": 800, "C": 1200}
    quotes = quote_schedule(plan, ["A", "B", "C"], "A", start, 9)
    assert [s for s, _ in quotes] == ["A", "B", "C", "B", "A", "C", "B", "C", "A"]
    assert [q for s, q in quotes if s == "B"] == [801, 802, 803]
    assert start == {"A": 403, "B": 803, "C": 1203}      # the next schedule continues


def test_a_charted_quote_counts_only_once_the_watchlist_and_the_chart_painted_it() -> None:
    lat = Latencies()
    # B: painted in the watchlist 30 ms after its send.
    lat.sent[("B", 1)], lat.picked[("B", 1)], lat.applied[("B", 1)] = 0.0, 0.010, 0.028
    lat.cell_painted[("B", 1)] = 0.030
    # A (charted): cell painted at 40 ms, chart at 90 ms -> 90 ms.
    lat.sent[("A", 5)], lat.applied[("A", 5)], lat.cell_painted[("A", 5)] = 1.0, 1.035, 1.040
    lat.chart_painted[("A", 5)] = 1.090
    # A's next quote: cell painted, chart never -> not counted; C: replaced before release.
    lat.sent[("A", 6)], lat.applied[("A", 6)], lat.cell_painted[("A", 6)] = 2.0, 2.01, 2.02
    lat.sent[("C", 9)] = 3.0
    median, p95, stall = latency_rows(StreamPlan(), lat, "A", "numba + rust", 0.004)
    assert median["median_s"] == pytest.approx(0.060)            # of 30 ms and 90 ms
    assert p95["median_s"] == pytest.approx(0.087)
    assert "2 of 4 quotes painted (1 replaced" in median["note"]
    assert stall["median_s"] == 0.004 and stall["target_s"] == live_bench.STALL_TARGET_S


def test_the_suite_runs_on_a_tiny_batch_and_a_short_stream() -> None:
    plan = StreamPlan(symbols=30, bars=300, rate=60.0, seconds=1.0, warmup_s=0.5, chart_every=3)
    rows = live_bench.run(1, symbols=40, bars=300, plan=plan)
    by_name = {(r["workload"], r["backend"]): r for r in rows}
    assert by_name[("40 symbols, 1 new bar, EMA-only (incremental)", "numba")]["median_s"] > 0
    sizes = [r for r in rows if r["workload"] == "incremental state size per symbol (default params)"]
    assert all(r["median_s"] is None and 0 < r["peak_mb"] * 2**20 <= 8192 for r in sizes)
    if Registry().probe("rust").available:
        update = by_name[("40 symbols, 1 new closed bar, full ATC (incremental)", "rust")]
        # The ratio is reported; its size is the benchmark's business (a loaded machine can
        # bring one bar against 300 on 40 symbols down to 1×).
        assert float(update["note"].split("× faster than the full recompute")[0]) > 0
        assert len(sizes) == 2
    label = "quote → repainted watchlist cell and chart bar, 60 quotes/s over 30 symbols"
    latency = next(r for r in rows if r["workload"] == label)
    assert latency["median_s"] is not None and 0 < latency["median_s"] < 2.0
    stall = next(r for r in rows if r["workload"].endswith("longest GUI stall"))
    assert stall["median_s"] >= 0
