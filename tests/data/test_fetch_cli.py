"""`atc fetch` and `atc compute --symbol` reading what it stored."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from core.cli import data_commands
from core.cli.main import main
from core.data import BarStore


def test_register_adds_fetch_with_its_options():
    parser = argparse.ArgumentParser()
    data_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fetch", "AAPL", "MSFT", "--interval", "1h", "--source", "yahoo"])
    assert args.symbols == ["AAPL", "MSFT"] and args.interval == "1h" and args.source == "yahoo"
    assert args.func is data_commands.cmd_fetch
    assert parser.parse_args(["fetch", "X"]).source == "bundled"


def test_fetch_bundled_then_compute_from_the_store(capsys, tmp_path):
    assert main(["fetch", "AAPL", "msft"]) == 0
    out = capsys.readouterr().out
    assert "AAPL" in out and "3270 new/changed" in out and "2000-03-01 .. 2013-03-01" in out
    assert "cleaned: AAPL 1d" in out  # the bundled AAPL has a few inconsistent highs/lows
    with BarStore() as s:
        assert s.symbols("1d") == ["AAPL", "MSFT"]
    assert main(["fetch", "AAPL"]) == 0
    assert "0 new/changed" in capsys.readouterr().out
    out_csv = tmp_path / "atc.csv"
    assert main(["compute", "--symbol", "AAPL", "-o", str(out_csv)]) == 0
    assert len(out_csv.read_text().splitlines()) == 3271


def test_partial_and_total_failure_exit_codes(capsys):
    assert main(["fetch", "AAPL", "TSLA"]) == 1
    err = capsys.readouterr().err
    assert "atc: TSLA: 'TSLA' is not in the bundled data" in err
    assert main(["fetch", "TSLA"]) == 2


def test_unknown_source_and_missing_symbol_are_errors_not_tracebacks(capsys):
    assert main(["fetch", "AAPL", "--source", "ftp"]) == 2
    assert "unknown data source 'ftp'" in capsys.readouterr().err
    assert main(["compute", "--symbol", "ZZZ", "-o", "x.csv"]) == 2
    assert "run `atc fetch ZZZ --interval 1d` first" in capsys.readouterr().err


def test_fetch_from_csv_folder_into_a_given_db(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ABC.csv").write_text("Date,Close\n2024-01-02,1\n2024-01-03,2\n")
    db = tmp_path / "my.sqlite3"
    assert main(["fetch", "ABC", "--source", f"csv:{tmp_path / 'data'}", "--db", str(db)]) == 0
    with BarStore(db) as s:
        np.testing.assert_array_equal(s.load("ABC").close, [1.0, 2.0])


def test_fetch_synthetic_is_labelled(capsys):
    assert main(["fetch", "SYN0001", "--source", "synthetic"]) == 0
    assert "SYNTHETIC data" in capsys.readouterr().out


def test_fetch_yahoo_reports_yahoo_failures(fake_yahoo, capsys):
    from tests.data.fakes import daily_frame

    fake_yahoo.add("AAPL", daily_frame(15))
    assert main(["fetch", "AAPL", "NOPE", "--source", "yahoo"]) == 1
    captured = capsys.readouterr()
    assert "15 new/changed" in captured.out
    assert "atc: NOPE: possibly delisted; no timezone found" in captured.err


def test_unknown_interval_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fetch", "AAPL", "--interval", "3h"])
    assert exit_.value.code == 2 and "invalid choice: '3h'" in capsys.readouterr().err
