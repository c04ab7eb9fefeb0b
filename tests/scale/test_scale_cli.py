"""`atc export`, `atc scan --universe` and `atc sweep` end to end (in-process): output
lines, files, exit statuses, and the one-line errors."""
from __future__ import annotations

import csv

import pytest

from core.cli.main import main

SYMBOLS = ["SYN0001", "SYN0002", "SYN0003"]


@pytest.fixture
def universe_dir(tmp_path, capsys):
    assert main(["fetch", *SYMBOLS, "--source", "synthetic"]) == 0
    target = tmp_path / "universe"
    assert main(["export", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"wrote 3 symbols (15,000 bars) of 1d in 1 partition(s) to {target}/interval=1d" in out
    assert "adjustment: none (synthetic prices); cleaning: all clean" in out
    return target


def test_export_refuses_to_replace_a_universe_unless_asked(universe_dir, capsys):
    assert main(["export", str(universe_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists already; pass --overwrite" in err
    assert main(["export", str(universe_dir), "--overwrite", "--symbols", "SYN0002"]) == 0
    assert "wrote 1 symbols" in capsys.readouterr().out


def test_scan_writes_the_table_best_signal_first(universe_dir, tmp_path, capsys):
    out_csv = tmp_path / "scan.csv"
    assert main(["scan", "--universe", str(universe_dir), "-o", str(out_csv), "--set", "ema_len=20"]) == 0
    printed = capsys.readouterr().out
    assert "3 symbols of 1d" in printed and "sorted by average_signal" in printed
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["symbol"] for r in rows) == SYMBOLS
    signals = [float(r["average_signal"]) for r in rows]
    assert signals == sorted(signals, reverse=True) and rows[0]["backend"] in ("rust", "numba")
    assert main(["scan", "--universe", str(universe_dir), "--mode", "ema_only", "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["symbol", "date", "close", "bars", "ema_signal"] and len(lines) == 5



def test_scan_on_one_family_is_the_reference_family_alone(universe_dir, tmp_path, capsys):
    import numpy as np

    from core.atc import compute_reference
    from core.config import FAMILIES, ATCConfig
    from core.data.providers.synthetic import SyntheticProvider

    out_csv = tmp_path / "kama.csv"
    assert main(["scan", "--universe", str(universe_dir), "--family", "KAMA", "-o", str(out_csv)]) == 0
    assert "sorted by kama_signal" in capsys.readouterr().out
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:5] == ["symbol", "date", "close", "bars", "kama_signal"]
    assert "average_signal" not in rows[0] and "ema_signal" not in rows[0]
    signals = [float(r["kama_signal"]) for r in rows]
    assert signals == sorted(signals, reverse=True)
    k = FAMILIES.index("KAMA")
    bars = SyntheticProvider().fetch(SYMBOLS, "1d").bars
    for r in rows:
        ref = compute_reference(np.asarray(bars[r["symbol"]].close, dtype=np.float64), ATCConfig(),
                                families=1, family=k)
        assert float(r["kama_signal"]) == ref.signals[k, -1]
        assert float(r["kama_direction"]) == ref.direction[-1]

@pytest.mark.parametrize("argv, message", [
    (["-o", "x.txt"], "the output must end in .csv or .parquet"),
    (["--cluster", "locale"], "write local or local:N"),
    (["SYN0001"], "symbols and --universe: give one of them"),
])
def test_scan_errors_are_one_line(universe_dir, capsys, argv, message):
    assert main(["scan", "--universe", str(universe_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("atc: error: ") and message in err


def test_scan_options_for_universes_need_one(capsys):
    assert main(["scan", "--cluster", "local"]) == 2
    assert "--cluster works with --universe DIR" in capsys.readouterr().err


def test_sweep_summarises_and_a_rerun_resumes(universe_dir, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nema_len = [20, 28]\nrobustness = ['Narrow', 'Wide']\n")
    out = tmp_path / "sweep.parquet"
    argv = ["sweep", "--universe", str(universe_dir), "--grid", str(grid), "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "4 tasks (4 parameter sets × 1 partitions of 3 symbols): 4 computed, 0 already done" in printed
    assert "best parameter sets across the universe (by median sharpe):" in printed
    assert (out / "_best_per_symbol.csv").exists()
    assert main(argv + ["--metric", "max_drawdown"]) == 0
    printed = capsys.readouterr().out
    assert "0 computed, 4 already done" in printed and "by median max_drawdown" in printed
    grid.write_text("[grid]\nema_len = [20, 30]\n")
    assert main(argv) == 2
    assert "holds a sweep of another grid" in capsys.readouterr().err


def test_sweep_grid_errors_name_the_file_and_field(universe_dir, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nema_len = [20, 5000]\n")
    assert main(["sweep", "--universe", str(universe_dir), "--grid", str(grid),
                 "-o", str(tmp_path / "o.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "grid.toml: parameter set 1 (ema_len=5000): ema_len = 5000 is out of range" in err
    assert not (tmp_path / "o.parquet").exists()


def test_export_from_a_source_without_a_symbol_list_asks_for_symbols(tmp_path, capsys):
    # Yahoo cannot list its symbols: a one-line error naming the option, not an
    # AttributeError traceback, and no universe folder left behind.
    target = tmp_path / "universe"
    assert main(["export", "--source", "yahoo", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("atc: error: ")
    assert "the yahoo source cannot list its symbols" in err and "--symbols" in err
    assert not target.exists()
