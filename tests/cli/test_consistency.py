"""`atc` behaves as its users expect from the rest of the project and from Unix tools: an
unknown symbol is an error, `-o -` is standard output, a series inside the warm-up is
warned about, and directions are named long/short as in the app."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.config import ATCConfig
from tests.cli.test_compute_cli import write_prices
from tests.conftest import REPO

WARMUP = ATCConfig().warmup_bars()


def not_warm_up(err: str) -> list[str]:
    """The stderr lines of a run other than its warm-up warning (for tests of short series
    that check the other messages)."""
    return [line for line in err.strip().splitlines() if "bars, no more than the warm-up" not in line]


def daily_rows(n: int) -> list[list[str]]:
    """``n`` consecutive daily bars (Date, Close, HL2) with a mild zig-zag."""
    import datetime as dt

    start = dt.date(2001, 1, 1)
    return [[str(start + dt.timedelta(days=i)), str(100 + (i * 7) % 13), str(99 + (i * 5) % 11)]
            for i in range(n)]


def test_scan_of_an_unknown_symbol_prints_no_table_and_fails_naming_it(capsys):
    assert main(["scan", "ZZZZ"]) == 2
    out, err = capsys.readouterr()
    assert out == ""                                  # no empty table with "0 symbols"
    assert err.startswith("atc: ZZZZ: ") and "not in the bundled data" in err


def test_dash_output_writes_the_csv_to_stdout_and_no_file(tmp_path, monkeypatch, capsys):
    prices = write_prices(tmp_path / "prices.csv", daily_rows(120))
    reference = tmp_path / "reference.csv"
    assert main(["compute", str(prices), "-o", str(reference)]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["compute", str(prices), "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert not (tmp_path / "-").exists()
    assert out == reference.read_bytes().decode("utf-8")
    # The summary must not end up inside the CSV a pipe reads.
    assert "wrote 120 bars" in err and "standard output" in err


def test_a_file_named_dash_is_still_reachable_as_dot_slash(tmp_path, monkeypatch, capsys):
    prices = write_prices(tmp_path / "prices.csv", daily_rows(120))
    monkeypatch.chdir(tmp_path)
    assert main(["compute", str(prices), "-o", "./-"]) == 0
    assert (tmp_path / "-").read_text().startswith("date,close,")
    assert capsys.readouterr().out.startswith("wrote 120 bars")


def test_a_reader_closing_the_pipe_ends_the_run_quietly(tmp_path):
    # Large enough (detail columns) to fill the pipe, so the write meets the closed end.
    prices = write_prices(tmp_path / "prices.csv", daily_rows(3000))
    with subprocess.Popen([sys.executable, "-m", "core.cli", "compute", str(prices),
                           "--detail", "-o", "-"], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:    # closes both pipes at the end
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(5) == b"date,"
        proc.stdout.close()                           # what `| head -1` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=300) == 141          # as a tool ended by SIGPIPE
    assert "Traceback" not in err and "error" not in err


@pytest.mark.parametrize("bars, warned", [(WARMUP, True), (WARMUP + 1, False)])
def test_compute_warns_about_a_series_inside_the_warm_up(tmp_path, capsys, bars, warned):
    prices = write_prices(tmp_path / "prices.csv", daily_rows(bars))
    assert main(["compute", str(prices), "-o", str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line not in not_warm_up(err)]
    if warned:
        assert len(warning) == 1, err
        assert warning[0].startswith("atc: warning: ")
        assert f"{bars} bars" in warning[0] and f"warm-up of {WARMUP} bars" in warning[0]
    else:
        assert warning == []


def test_compute_warm_up_warning_follows_the_parameters(tmp_path, capsys):
    config = ATCConfig(dema_len=60)
    prices = write_prices(tmp_path / "prices.csv", daily_rows(WARMUP + 10))
    assert main(["compute", str(prices), "--set", "dema_len=60", "-o", str(tmp_path / "o.csv")]) == 0
    err = capsys.readouterr().err
    assert f"warm-up of {config.warmup_bars()} bars" in err and config.warmup_bars() > WARMUP + 10


def test_scan_warns_naming_the_symbol_whose_history_is_inside_the_warm_up(capsys):
    config = ATCConfig(dema_len=2000)
    assert main(["scan", "AAPL", "--set", "dema_len=2000"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("atc: warning: AAPL: ")
    assert f"warm-up of {config.warmup_bars()} bars" in err


def test_scan_names_directions_and_events_long_or_short_like_the_app(capsys):
    assert main(["scan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    rows = [line for line in lines[2:] if line[:1].isalpha()]
    assert len(rows) == 5
    for line in rows:
        cells = line.split()
        assert cells[header.index("dir")] in {"long", "short", "-"}
        event = cells[header.index("dir") + 1:]
        assert event == ["-"] or (event[0] in {"long", "short"} and event[2:] == ["bars", "ago"])
    text = "\n".join(lines).lower()
    assert " up " not in f" {text} " and " down " not in f" {text} "
