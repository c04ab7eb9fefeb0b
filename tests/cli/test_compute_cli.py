"""`atc compute` and `atc backends`: outputs against golden data, and every bad input."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from tests.conftest import REPO, GOLDEN_FILES, golden_id, load_golden, mismatches


def write_prices(path: Path, rows: list[list[str]], header=("Date", "Close", "HL2")) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def golden_csv(tmp_path: Path, gold: dict) -> Path:
    src = gold.get("src", gold["close"])
    rows = [[f"2001-01-{i}", repr(float(c)), repr(float(s))] for i, (c, s) in enumerate(zip(gold["close"], src))]
    return write_prices(tmp_path / "prices.csv", rows)


def read_output(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows])
            for k in rows[0] if k != "date"}


@pytest.mark.parametrize("backend", ["numpy", "numba", "rust"])
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_compute_writes_golden_columns(tmp_path, path, backend, capsys):
    gold, config = load_golden(path)
    prices = golden_csv(tmp_path, gold)
    params = tmp_path / "params.json"
    params.write_text(str(gold["params_json"]))
    out = tmp_path / "out.csv"
    argv = ["compute", str(prices), "--params", str(params), "--backend", backend,
            "--detail", "-o", str(out)]
    if "src" in gold:
        argv += ["--src-column", "hl2"]
    assert main(argv) == 0
    columns = read_output(out)
    assert {"Average_Signal", "EMA_Signal", "KAMA_S", "long", "short", "sig.KAMA_4",
            "eq.LSMA3", "DEMA_2"} <= set(columns)
    assert len(columns["Average_Signal"]) == len(gold["close"])
    assert mismatches(columns, gold) == []
    assert f"backend {backend}" in capsys.readouterr().out


def test_shared_compare_tool_accepts_the_output(tmp_path):
    gold, _ = load_golden(GOLDEN_FILES[0])
    out = tmp_path / "out.csv"
    assert main(["compute", str(golden_csv(tmp_path, gold)), "--detail", "-o", str(out)]) == 0
    tool = REPO.parent / "shared" / "tools" / "compare_golden.py"
    if not tool.exists():
        pytest.skip("shared/tools/compare_golden.py not beside the checkout")
    done = subprocess.run([sys.executable, str(tool), str(GOLDEN_FILES[0]), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert "columns match" in done.stdout


def test_set_overrides_params_and_values_are_repr_exact(tmp_path):
    gold, _ = load_golden(GOLDEN_FILES[0])
    out = tmp_path / "out.csv"
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"La": 0.3, "robustness": "Wide"}))
    assert main(["compute", str(golden_csv(tmp_path, gold)), "--params", str(params),
                 "--set", "La=0.05", "--set", "cutout=10", "-o", str(out)]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[9]["Average_Signal"] == "" and rows[10]["Average_Signal"] != ""
    from core.atc import compute_reference
    from core.config import ATCConfig
    ref = compute_reference(gold["close"], ATCConfig(La=0.05, cutout=10, robustness="Wide"))
    assert [float(r["EMA_S"]) for r in rows[10:]] == pytest.approx(ref.family_equities[0, 10:], rel=1e-12)
    assert rows[-1]["date"] == f"2001-01-{len(rows) - 1}"


BAD = [
    ("missing file", lambda d: ["compute", str(d / "nope.csv")], ["nope.csv", "no such file"]),
    ("missing column", lambda d: ["compute", str(d / "ok.csv"), "--column", "Adj Close"],
     ["no column 'Adj Close'", "Date, Close, HL2"]),
    ("non-numeric", lambda d: ["compute", str(d / "text.csv")], ["line 4", "'Close'", "'n/a'"]),
    ("non-positive", lambda d: ["compute", str(d / "zero.csv")], ["line 3", "'0'", "within 1e-100 … 1e+100"]),
    ("too few bars", lambda d: ["compute", str(d / "one.csv")], ["1 price row", "at least 2"]),
    ("unknown parameter", lambda d: ["compute", str(d / "ok.csv"), "--set", "Lambda=1"],
     ["unknown parameter 'Lambda'"]),
    ("out of range", lambda d: ["compute", str(d / "ok.csv"), "--set", "De=5"],
     ["De = 5.0", "0.01 … 0.25"]),
    ("bad --set", lambda d: ["compute", str(d / "ok.csv"), "--set", "La"], ["name=value"]),
    ("bad params file", lambda d: ["compute", str(d / "ok.csv"), "--params", str(d / "bad.json")],
     ["not valid JSON"]),
    ("no input", lambda d: ["compute"], ["PRICES.csv", "--symbol"]),
]


@pytest.mark.parametrize("case, argv, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path, capsys, case, argv, words):
    good = [[f"d{i}", str(100 + i), str(100 + i)] for i in range(30)]
    write_prices(tmp_path / "ok.csv", good)
    write_prices(tmp_path / "text.csv", good[:2] + [["d2", "n/a", "1"]] + good[3:])
    write_prices(tmp_path / "zero.csv", good[:1] + [["d1", "0", "1"]] + good[2:])
    write_prices(tmp_path / "one.csv", good[:1])
    (tmp_path / "bad.json").write_text("{La: }")
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    assert main(argv(tmp_path) + ["-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("atc: error:")
    for word in words:
        assert word in err
    assert out.read_text() == "previous results\n"                       # untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_backends_table_lists_every_backend_with_a_reason(capsys):
    assert main(["backends"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["backend", "available", "active"]
    names = [line.split()[0] for line in lines[2:6]]
    assert names == ["cuda", "rust", "numba", "numpy"]
    numba_row = next(line for line in lines if line.startswith("numba"))
    assert " yes " in numba_row and "CPU (" in numba_row


def test_console_script_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "core.cli", "backends"], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0 and "numpy" in done.stdout
