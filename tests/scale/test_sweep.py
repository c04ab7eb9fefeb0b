"""Sweeps in-process: the rows are the backtest of each symbol's own ATC, a bad symbol or a
failing task is reported while the rest goes on, parts are written atomically and a rerun
resumes; a scan of the universe equals the single-series computation."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.backends.registry import default_registry
from core.backtest import METRICS, backtest_reference
from core.config import ATCConfig
from core.distribute import InProcess
from core.errors import ATCInputError
from core.grid import load_grid, parse_grid
from core.sweep import BEST_FILE, MANIFEST, read_results, run_sweep, universe_summary
from core.universe import export_universe, open_universe, read_panel
from core.universe_scan import run_scan
from tests.scale.conftest import bars_of, synthetic_universe


def test_each_row_is_the_backtest_of_that_symbols_own_atc(universe, grid_file, tmp_path):
    grid = load_grid(grid_file)
    report = run_sweep(universe, grid, tmp_path / "out.parquet", InProcess())
    assert (report.tasks, report.written, report.failed_tasks) == (12, 12, {})
    assert report.symbol_bar_sets == 40 * 400 * 6
    frame = read_results(tmp_path / "out.parquet")
    assert len(frame) == 40 * 6 and list(frame.columns[:4]) == ["symbol", "set", "ema_len", "La"]
    panel = read_panel(universe.url(universe.partitions[1]))
    backend = default_registry().get(frame["backend"].iloc[0])
    for s in (3, 5):                       # (ema_len 28, La 0.01) and (28, 0.03)
        config = grid.configs[s]
        for i in (0, 19):
            res = backend.compute(panel.close[i], config)
            expected = backtest_reference(panel.open[i], panel.close[i], res.long, res.short,
                                          grid.backtest, 252.0)
            row = frame[(frame["set"] == s) & (frame["symbol"] == panel.symbols[i])]
            np.testing.assert_allclose(row[list(METRICS)].to_numpy()[0],
                                       [expected[k] for k in METRICS], rtol=1e-9)
            assert row["ema_len"].item() == 28 and row["La"].item() == config.La
    best = (tmp_path / "out.parquet" / BEST_FILE).read_text().splitlines()
    assert len(best) == 41 and best[0].startswith("symbol,set,")
    summary = universe_summary(frame, list(grid.fields))
    assert len(summary) == 6 and summary["best_for"].sum() == 40
    assert summary["median_sharpe"].is_monotonic_decreasing


def test_a_bad_symbol_is_named_with_its_reason_and_the_others_are_swept(tmp_path):
    rng = np.random.default_rng(3)
    good = [bars_of(f"G{i}", 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))) for i in range(3)]
    bad_close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    bad_close[120] = 1e200
    series = [(b, None) for b in good] + [(bars_of("BAD", bad_close), None),
                                          (bars_of("ONE", np.array([5.0])), None)]
    export_universe(str(tmp_path / "u"), series, "1d", source="csv")
    universe = open_universe(str(tmp_path / "u"))
    grid = parse_grid("[grid]\nema_len = [20, 28]")
    report = run_sweep(universe, grid, tmp_path / "o.parquet", InProcess())
    assert report.failed_tasks == {}
    assert report.failed_symbols["BAD"].startswith("close at bar 120 is 1e+200; prices must be finite")
    assert report.failed_symbols["ONE"] == "1 bar(s); at least 2 are needed"
    assert sorted(read_results(tmp_path / "o.parquet")["symbol"].unique()) == ["G0", "G1", "G2"]


def test_a_failing_task_is_reported_the_rest_written_and_a_rerun_finishes_it(universe, tmp_path):
    grid = parse_grid("[grid]\nema_len = [20, 28]")
    part = tmp_path / "universe" / "interval=1d" / "part-00001.parquet"
    shutil.move(part, tmp_path / "aside.parquet")
    out = tmp_path / "o.parquet"
    report = run_sweep(universe, grid, out, InProcess())
    assert report.written == 2 and len(report.failed_tasks) == 2
    where, reason = next(iter(report.failed_tasks.items()))
    assert where == "set 0 (ema_len=20), partition part-00001.parquet"
    assert "part-00001.parquet: partition file not found" in reason
    assert not (out / BEST_FILE).exists()
    assert sorted(p.name for p in out.iterdir()) == [
        MANIFEST, "set-00000-part-00000.parquet", "set-00001-part-00000.parquet"]
    shutil.move(tmp_path / "aside.parquet", part)
    again = run_sweep(universe, grid, out, InProcess())
    assert (again.skipped, again.written, again.failed_tasks) == (2, 2, {})
    assert len(read_results(out)) == 80


def test_a_rerun_keeps_finished_parts_and_computes_only_the_missing_ones(universe, grid_file, tmp_path):
    grid = load_grid(grid_file)
    out = tmp_path / "o.parquet"
    run_sweep(universe, grid, out, InProcess())
    first = read_results(out)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("set-*")}
    (out / "set-00004-part-00001.parquet").unlink()
    report = run_sweep(universe, grid, out, InProcess())
    assert (report.skipped, report.written) == (11, 1)
    assert all(p.stat().st_mtime_ns == kept[p.name] for p in out.glob("set-*")
               if p.name != "set-00004-part-00001.parquet")
    assert read_results(out).equals(first)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]      # no temporary left


def test_an_output_that_is_not_this_sweep_is_never_touched(universe, grid_file, tmp_path):
    grid = load_grid(grid_file)
    out = tmp_path / "o.parquet"
    run_sweep(universe, grid, out, InProcess())
    other = parse_grid("[grid]\nema_len = [20, 30]")
    with pytest.raises(ATCInputError, match="holds a sweep of another grid and backtest; choose another -o"):
        run_sweep(universe, other, out, InProcess())
    a_file = tmp_path / "mine.parquet"
    a_file.write_bytes(b"precious")
    with pytest.raises(ATCInputError, match="is a file"):
        run_sweep(universe, grid, a_file, InProcess())
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    with pytest.raises(ATCInputError, match="not a sweep's output"):
        run_sweep(universe, grid, folder, InProcess())
    assert a_file.read_bytes() == b"precious" and [p.name for p in folder.iterdir()] == ["a.jpg"]


def test_a_universe_scan_equals_each_symbols_own_computation(tmp_path):
    universe = synthetic_universe(tmp_path / "u", count=12, bars=300, per_file=5)
    config = ATCConfig(ema_len=20)
    report = run_scan(universe, config, "both", InProcess())
    table = report.table
    assert len(table) == 12 and report.failed_tasks == {} and report.sort_column == "average_signal"
    assert table["average_signal"].is_monotonic_decreasing
    backend = default_registry().get(table["backend"].iloc[0])
    panel = read_panel(universe.url(universe.partitions[2]))
    for i, symbol in enumerate(panel.symbols):
        res = backend.compute(panel.close[i], config)
        row = table[table["symbol"] == symbol].iloc[0]
        assert row["average_signal"] == res.average_signal[-1]
        assert row["direction"] == res.direction[-1] and row["bars"] == 300
        assert row["close"] == panel.close[i, -1]
        hits = np.flatnonzero(res.long | res.short)
        assert row["bars_since_event"] == (299 - hits[-1] if hits.size else -1)
