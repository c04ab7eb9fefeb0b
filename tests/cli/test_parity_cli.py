"""`atc parity`: TradingView chart-data exports built from the golden outputs (the values
TradingView shows, spec §4.8) agree on every column; a perturbed value is reported at its
bar; built-in MA plots are bit-identical; unknown columns are noted; bad files exit 2."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.parity import Target, parse_number, read_export, recognise
from tests.conftest import GOLDEN_FILES, REPO, golden_dir, golden_id
from tests.fixtures.tradingview_export import (
    FIXTURES, atc_export, builtin_export, load, member_lengths, times, write_export,
)

DEFAULT = golden_dir() / "gbm1500_default.npz"
#: Every golden output column: Average_Signal, signal_base, direction, R, 6 × (Signal, S, Cut),
#: 4 events, 54 × (MA, sig., eq.).
GOLDEN_OUTPUTS = 4 + 3 * 6 + 4 + 3 * 54


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["parity", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def rows(out: str) -> dict[str, list[str]]:
    """The result table: column title → its cells (split where the table puts 2+ spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("column "))
    table = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        table[cells[0]] = cells
    return table


def params_args(tmp_path: Path, golden: Path) -> list[str]:
    data, params = load(golden)
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    args = ["--params", str(path), "--backend", "numpy"]
    return args + (["--src", "hl2"] if "src" in data else [])


def edit_cell(path: Path, title: str, bar: int, value: str) -> None:
    with path.open(newline="") as fh:
        table = list(csv.reader(fh))
    table[bar + 1][table[0].index(title)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(table)


@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=golden_id)
def test_every_golden_output_agrees(tmp_path, capsys, golden):
    export = atc_export(golden, tmp_path / "export.csv", "unix")
    rc, out, err = run(capsys, export, *params_args(tmp_path, golden))
    assert rc == 0, out + err
    table = rows(out)
    assert len(table) == GOLDEN_OUTPUTS
    for cells in table.values():
        assert cells[3:6] == ["100.00", "100.00", "-"] and cells[-1] == "yes", cells
    assert f"all {GOLDEN_OUTPUTS} recognised columns agree" in out
    assert "ATC on backend numpy" in out and "export's first bar" in out
    assert rows(out)["EMA"][1] == "bit-identical" and rows(out)["EMA_Signal"][1] == "exact"
    assert rows(out)["Average_Signal"][1] == "1e-9"


def test_iso_times_nan_cells_and_shape_events(tmp_path, capsys):
    """ISO 8601 times with an offset, na written NaN, events as shape plots (1 or empty)."""
    export = atc_export(DEFAULT, tmp_path / "export.csv", "iso", na="NaN",
                        titles={"Average_Signal": "Average Signal", "EMA_S": "EMA S",
                                "HMA_Cut": "HULL Cut", "arrow_long": "Arrow Long"})
    text = export.read_text().splitlines()
    assert text[1].startswith("2000-01-03T14:30:00-05:00,") and ",NaN," in text[1]
    rc, out, _ = run(capsys, export, "--backend", "numpy")
    assert rc == 0, out
    table = rows(out)
    assert table["Average Signal"][1] == "Average_Signal (1e-9)"
    assert table["HULL Cut"][1] == "HMA_Cut (exact)" and table["Arrow Long"][2] == "1500"
    assert table["direction"][2] == str(int(np.isfinite(load(DEFAULT)[0]["direction"]).sum()))


def test_perturbed_values_report_their_first_bar(tmp_path, capsys):
    data, _ = load(DEFAULT)
    export = atc_export(DEFAULT, tmp_path / "export.csv", "unix",
                        columns=["Average_Signal", "EMA_Signal", "WMA3", "eq.KAMA"])
    # One ulp on an MA: bit-identical is the rule, so the column differs at that bar.
    wma = float(data["WMA3"][700])
    edit_cell(export, "WMA3", 700, repr(float(np.nextafter(wma, np.inf))))
    # A flipped Layer-1 signal (discrete: exact).
    sig = float(data["EMA_Signal"][900])
    edit_cell(export, "EMA_Signal", 900, repr(-sig if sig else 1.0))
    # One ulp on a continuous column: within 1e-9, agrees, though not bit-identical.
    avg = float(data["Average_Signal"][1200])
    edit_cell(export, "Average_Signal", 1200, repr(float(np.nextafter(avg, np.inf))))
    rc, out, _ = run(capsys, export, "--backend", "numpy")
    assert rc == 1
    table = rows(out)
    wma_row = table["WMA3"]
    defined = int(np.isfinite(data["WMA3"]).sum())          # bars where the MA exists
    assert wma_row[2:] == [str(defined), f"{int(10000 * (defined - 1) / defined) / 100:.2f}",
                           "100.00", "700", times(1500, "unix")[700], repr(wma),
                           repr(float(np.nextafter(wma, np.inf))), "NO"]
    assert table["EMA_Signal"][5:7] == ["900", times(1500, "unix")[900]]
    assert table["EMA_Signal"][7] == repr(sig) and table["EMA_Signal"][-1] == "NO"
    avg_row = table["Average_Signal"]
    assert avg_row[3] != "100.00" and avg_row[4:6] == ["100.00", "-"] and avg_row[-1] == "yes"
    assert table["eq.KAMA"][-1] == "yes"
    assert "2 of 4 recognised columns differ: EMA_Signal from bar 900" in out
    assert "WMA3 from bar 700" in out


def test_short_precision_is_not_bit_identical(tmp_path, capsys):
    """Values rounded to 10 significant digits are close but not TradingView's bits."""
    data, _ = load(DEFAULT)
    cells = ["" if np.isnan(v) else f"{v:.10g}" for v in data["EMA"]]
    export = write_export(tmp_path / "export.csv", times(1500, "unix"), data["close"],
                          [("EMA", cells)])
    rc, out, _ = run(capsys, export, "--backend", "numpy")
    assert rc == 1
    first = int(np.flatnonzero(np.isfinite(data["EMA"]))[0])
    assert rows(out)["EMA"][5] == str(first)


@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=golden_id)
def test_builtin_ma_exports_are_bit_identical(tmp_path, capsys, golden):
    export = builtin_export(golden, tmp_path / "export.csv", "iso", extra=[("Volume", "12")])
    with export.open(newline="") as fh:
        titles = next(csv.reader(fh))[5:]
    source = "hl2" if "src" in load(golden)[0] else "close"
    assert f"ta.sma({source}, {member_lengths(load(golden)[1])['HMA']})" in titles
    rc, out, _ = run(capsys, export)
    assert rc == 0, out
    table = rows(out)
    assert set(table) == set(titles) - {"Volume"}
    for cells in table.values():
        assert cells[1] == "bit-identical" and cells[3] == "100.00" and cells[-1] == "yes"
    assert "note: ignored (not recognised): 'Volume'" in out
    assert "ATC on backend" not in out                # no ATC column: the ATC is not computed


def test_committed_fixtures(capsys):
    rc, out, _ = run(capsys, FIXTURES / "builtin_ma_iso.csv")
    assert rc == 0 and "all 12 recognised columns agree" in out
    assert "ta.linreg(close, 22, 0)" in rows(out) and "'Volume'" in out
    rc, out, _ = run(capsys, FIXTURES / "atc_msft_unix.csv", "--backend", "numpy")
    assert rc == 0 and "all 18 recognised columns agree" in out
    assert rows(out)["Average Signal"][3] == "100.00"
    assert "'Plot' (an untitled plot: give it a title such as ta.sma(close, 10)" in out


def test_params_via_set_match_params_file(tmp_path, capsys):
    golden = golden_dir() / "gbm1500_narrow_cutout.npz"
    export = atc_export(golden, tmp_path / "export.csv", "unix",
                        columns=["Average_Signal", "KAMA_Signal", "LSMA_S", "direction"])
    params = load(golden)[1]
    sets = [f"--set={k}={v}" for k, v in params.items()]
    rc, out, _ = run(capsys, export, "--backend", "numpy", *sets)
    assert rc == 0, out
    rc, out, _ = run(capsys, export, "--backend", "numpy")          # defaults: differs
    assert rc == 1 and "differ" in out


def test_recognised_titles():
    assert recognise("Average_Signal") == Target("atc", "Average_Signal", "1e-9")
    assert recognise(" average signal ").name == "Average_Signal"
    assert recognise("Average").name == "Average_Signal"
    assert recognise("ema s").name == "EMA_S" and recognise("Hull_Signal").name == "HMA_Signal"
    assert recognise("EMA_1") == Target("atc", "EMA_1", "bit-identical")
    assert recognise("ema1").name == "EMA1" and recognise("sig.KAMA_4").rule == "exact"
    assert recognise("eq.WMA2").rule == "1e-9" and recognise("R").rule == "1e-9"
    assert isinstance(recognise("EMA 1"), str)         # ambiguous: L+1 or L−1
    t = recognise("SMA(hl2, 10)")
    assert isinstance(t, Target) and (t.function, t.source, t.length) == ("ta.sma", "hl2", 10)
    assert recognise("ta.linreg(close, 14, 0)").name == "ta.linreg(close, 14, 0)"
    assert recognise("math.sum(ohlc4, 5)").function == "math.sum"
    assert "offset 0" in recognise("ta.linreg(close, 14, 2)")
    assert "unknown source" in recognise("ta.ema(volume, 9)")
    assert isinstance(recognise("ta.rma(close, 14)"), str)
    assert isinstance(recognise("ta.sma(close, 0)"), str)


def test_numbers_round_trip_exactly():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1e3, 5000), rng.uniform(1e-9, 1e9, 5000),
                             np.frombuffer(rng.bytes(8 * 5000), dtype=np.float64)])
    values = values[np.isfinite(values)]
    for v in values:
        assert parse_number(repr(float(v))) == v
    assert np.isnan(parse_number("")) and np.isnan(parse_number("NaN"))
    for bad in ("inf", "1_000", "abc", "1,5", "٢٨", "１２"):
        with pytest.raises(ValueError):
            parse_number(bad)


def test_times_unix_and_iso(tmp_path):
    data, _ = load(DEFAULT)
    for style in ("unix", "iso"):
        export = atc_export(DEFAULT, tmp_path / f"{style}.csv", style, columns=["EMA"], bars=50)
        exp = read_export(export)
        assert np.all(np.diff(exp.seconds) == 86_400)
        assert exp.prices["close"].tolist() == data["close"][:50].tolist()
    assert read_export(tmp_path / "iso.csv").seconds[0] == 946_927_800     # 14:30 at UTC−5


BAD = [
    ("no_close.csv", "time,open,high,low,EMA\n1,1,1,1,1\n", "line 1: no 'close' column"),
    ("no_time.csv", "date,close,EMA\n1,1,1\n", "line 1: no 'time' column"),
    ("bad_time.csv", "time,close,EMA\n100,1.5,\nyesterday,1.5,\n",
     "line 3, column 'time': 'yesterday' is neither UNIX seconds nor an ISO 8601 time"),
    ("unsorted.csv", "time,close,EMA\n2024-01-02,1.5,\n2024-01-01,1.5,\n",
     "line 3, column 'time': '2024-01-01' is earlier than line 2's '2024-01-02'"),
    ("duplicate.csv", "time,close,EMA\n100,1.5,\n200,1.5,\n200,1.6,\n",
     "line 4, column 'time': '200' repeats line 3's '200'"),
    ("text.csv", "time,close,EMA\n100,1.5,\n200,1.5,1.2\n300,1.5,abc\n",
     "line 4, column 'EMA': 'abc' is not a number"),
    ("inf.csv", "time,close,EMA\n100,1.5,inf\n", "line 2, column 'EMA': 'inf' is not a number"),
    ("price.csv", "time,close,EMA\n100,1.5,\n200,x,\n", "line 3, column 'close': 'x' is not a number"),
    ("ragged.csv", "time,close,EMA\n100,1.5\n", "line 2: 2 cells, the header has 3"),
    ("empty.csv", "", "the file is empty"),
    ("header_only.csv", "time,close,EMA\n", "no bars after the header"),
    ("zero.csv", "time,close,EMA\n100,1.5,\n200,0,\n", "line 3, column 'close': no price within 1e-100 … 1e+100 (0.0)"),
    ("unknown.csv", "time,close,Volume,Plot\n100,1.5,3,4\n", "no recognised plot column (found: Volume, Plot)"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    rc, out, err = run(capsys, path, "--backend", "numpy")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"atc: error: {path}: ") and message in err, err


def test_bad_arguments_exit_2(tmp_path, capsys):
    rc, _, err = run(capsys, tmp_path / "missing.csv")
    assert rc == 2 and "missing.csv: no such file" in err
    rc, _, err = run(capsys, FIXTURES / "atc_msft_unix.csv", "--set", "La=9")
    assert rc == 2 and "La" in err and err.count("\n") == 1
    path = tmp_path / "no_high.csv"
    path.write_text("time,close,EMA\n100,1.5,\n200,1.5,\n")
    rc, _, err = run(capsys, path, "--src", "hl2", "--backend", "numpy")
    assert rc == 2 and "source hl2 needs a 'high' column" in err


def test_command_line_never_shows_a_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"time,close,EMA\n100,1.5,\n\xff\xfe,1.5,\n")
    proc = subprocess.run([sys.executable, "-m", "core.cli", "parity", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"atc: error: {path}: cannot read CSV") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "core.cli", "parity",
                           str(FIXTURES / "builtin_ma_iso.csv")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "all 12 recognised columns agree" in proc.stdout
