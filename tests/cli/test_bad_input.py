"""Every bad input to `atc` is one `atc: error:` line and exit 2, never a traceback; JSON and
`--set` share one number rule; the prices file's dates are put in order like the providers'."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.cli.main import build_config, main
from core.config import ATCConfig
from tests.cli.test_compute_cli import write_prices
from tests.cli.test_consistency import not_warm_up

ROWS = [[f"2020-03-{d:02d}", str(100 + d % 7), str(99 + d % 7)] for d in range(1, 31)]


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    return write_prices(tmp_path / "prices.csv", ROWS)


def run_bad(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("atc: error: "), err
    return err


PARAMS_FILES = {
    "float overflow": (b'{"ema_len": 1e400}', ["ema_len", "out of range", "1 … 2000"]),
    "huge integer": (b'{"La": 1' + b"0" * 400 + b"}", ["La", "out of range"]),
    "NaN length": (b'{"ema_len": NaN}', ["ema_len", "out of range"]),
    "not UTF-8": (b'{"La": 0.05, "x": "\xff\xfe"}', ["not UTF-8", "byte"]),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, ["not valid JSON", "nested"]),
    "over the digit limit": (b'{"La": 1' + b"0" * 5000 + b"}", ["not valid JSON"]),
}


@pytest.mark.parametrize("case", PARAMS_FILES)
def test_a_bad_params_file_is_one_line_naming_the_file(tmp_path, prices, capsys, case):
    content, words = PARAMS_FILES[case]
    params = tmp_path / "params.json"
    params.write_bytes(content)
    err = run_bad(["compute", str(prices), "--params", str(params), "-o", str(tmp_path / "o.csv")],
                  capsys)
    assert str(params) in err
    for word in words:
        assert word in err
    assert not (tmp_path / "o.csv").exists()


def test_a_params_file_with_a_byte_order_mark_is_read(tmp_path):
    params = tmp_path / "p.json"
    params.write_bytes(b'\xef\xbb\xbf{"La": 0.05}')
    assert build_config(str(params), []).La == 0.05


@pytest.mark.parametrize("text, value", [("28.0", 28), ("2.8e1", 28), ("1e1", 10)])
def test_json_and_set_accept_the_same_whole_numbers(tmp_path, text, value):
    params = tmp_path / "p.json"
    params.write_text(f'{{"ema_len": {text}}}')
    from_json = build_config(str(params), [])
    from_set = build_config(None, [f"ema_len={text}"])
    assert from_json.ema_len == from_set.ema_len == value
    assert isinstance(from_set.ema_len, int)


def test_json_and_set_reject_a_fraction_alike(tmp_path, prices, capsys):
    params = tmp_path / "p.json"
    params.write_text('{"ema_len": 28.5}')
    out = str(tmp_path / "o.csv")
    from_json = run_bad(["compute", str(prices), "--params", str(params), "-o", out], capsys)
    from_set = run_bad(["compute", str(prices), "--set", "ema_len=28.5", "-o", out], capsys)
    assert from_json.endswith("ema_len = 28.5 must be a whole number in 1 … 2000")
    assert from_set.endswith("ema_len = 28.5 must be a whole number in 1 … 2000")


@pytest.mark.parametrize("name, text", [("ema_len", "٢٨"), ("ema_len", "２８"), ("ema_len", "1_0"),
                                        ("La", "٠.٠٥"), ("La", "0.0_5")],
                         ids=["arabic-indic", "fullwidth", "underscore", "arabic-indic-La",
                              "underscore-La"])
def test_set_takes_plain_ascii_decimal_numbers_only(tmp_path, prices, capsys, name, text):
    err = run_bad(["compute", str(prices), "--set", f"{name}={text}", "-o",
                   str(tmp_path / "o.csv")], capsys)
    assert f"{name} = {text!r} is not a number" in err and "digits 0-9" in err
    assert not (tmp_path / "o.csv").exists()


def read_out(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_byte_order_mark_keeps_the_date_column(tmp_path, capsys):
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbfDate,Close\n" + b"".join(
        f"2020-03-{d:02d},{100 + d}\n".encode() for d in range(1, 11)))
    out = tmp_path / "o.csv"
    assert main(["compute", str(src), "-o", str(out)]) == 0
    rows = read_out(out)
    assert rows[0]["date"] == "2020-03-01" and rows[-1]["date"] == "2020-03-10"
    assert not_warm_up(capsys.readouterr().err) == []


def test_unsorted_and_repeated_dates_are_cleaned_and_reported_in_one_line(tmp_path, capsys):
    rows = [["2020-03-03", "103"], ["2020-03-01", "101"], ["2020-03-02", "102"],
            ["2020-03-02", "202"], *[[f"2020-03-{d:02d}", str(100 + d)] for d in range(4, 20)]]
    src = write_prices(tmp_path / "messy.csv", rows, header=("Date", "Close"))
    out = tmp_path / "o.csv"
    assert main(["compute", str(src), "-o", str(out)]) == 0
    got = read_out(out)
    assert [r["date"] for r in got[:4]] == ["2020-03-01", "2020-03-02", "2020-03-03", "2020-03-04"]
    assert float(got[1]["close"]) == 202.0          # the last row of a repeated date is kept
    assert len(got) == 19
    err = not_warm_up(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("atc: cleaned: messy.csv 1d: 20 rows -> 19 bars")
    assert "1 unsorted" in err[0] and "1 duplicate" in err[0]


def test_dates_that_are_not_times_keep_file_order_with_a_note(tmp_path, capsys):
    rows = [[f"bar {k}", str(100 + k % 3)] for k in range(12)]
    src = write_prices(tmp_path / "labels.csv", rows, header=("Date", "Close"))
    out = tmp_path / "o.csv"
    assert main(["compute", str(src), "-o", str(out)]) == 0
    assert [r["date"] for r in read_out(out)] == [r[0] for r in rows]
    err = not_warm_up(capsys.readouterr().err)
    assert len(err) == 1 and "line 2, column 'Date': 'bar 0' is not a time" in err[0]


def test_a_price_must_be_a_plain_decimal_number(tmp_path, capsys):
    rows = [[f"2020-03-{d:02d}", str(100 + d)] for d in range(1, 11)]
    rows[4][1] = "1_05"
    src = write_prices(tmp_path / "p.csv", rows, header=("Date", "Close"))
    err = run_bad(["compute", str(src), "-o", str(tmp_path / "o.csv")], capsys)
    assert "line 6" in err and "'1_05' is not a number" in err


@pytest.mark.parametrize("symbols", [[""], ["  "], ["AAPL", ""]], ids=["empty", "blank", "mixed"])
def test_fetch_refuses_an_empty_symbol(tmp_path, capsys, symbols):
    db = tmp_path / "bars.sqlite3"
    err = run_bad(["fetch", *symbols, "--db", str(db)], capsys)
    position = next(k for k, s in enumerate(symbols, 1) if not s.strip())
    assert f"SYMBOL {position} is empty" in err
    assert not db.exists()                           # nothing was fetched or created


@pytest.mark.parametrize("symbols, status", [(["AAPL", "ZZZ"], 1), (["ZZZ"], 2)],
                         ids=["some failed", "all failed"])
def test_scan_status_says_when_symbols_failed(capsys, symbols, status):
    assert main(["scan", *symbols]) == status
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("atc: ZZZ: ")
