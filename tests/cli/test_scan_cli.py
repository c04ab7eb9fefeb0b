"""`atc scan`: the latest signals of the bundled symbols, against an independent computation."""
import gzip

import numpy as np
import pandas as pd

from core.atc import compute_reference
from core.cli.main import main
from core.config import ATCConfig
from tests.conftest import REPO


def test_scan_prints_each_bundled_symbols_latest_signals(capsys):
    assert main(["scan", "--set", "robustness=Wide"]) == 0
    out = capsys.readouterr().out
    with gzip.open(REPO / "resources" / "stocks_daily_2000_2013.csv.gz", "rt") as fh:
        raw = pd.read_csv(fh)
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line[:1].isalpha()}
    for symbol, rows in raw.groupby("Ticker"):
        rows = rows.sort_values("Date")
        ref = compute_reference(rows["Adj Close"].to_numpy(np.float64), ATCConfig(robustness="Wide"))
        cells = lines[symbol]
        assert cells[1] == rows["Date"].iloc[-1]
        assert float(cells[3]) == round(ref.average_signal[-1], 3)
        assert [float(v) for v in cells[4:10]] == list(ref.signals[:, -1])
    assert "5 symbols" in out
