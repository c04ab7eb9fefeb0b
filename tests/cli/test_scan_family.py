"""`atc scan --family F`: the bundled symbols screened on one family, against the reference."""
import gzip

import numpy as np
import pandas as pd
import pytest

from core.atc import compute_reference
from core.backends.numpy_backend import last_event
from core.cli.main import main
from core.config import FAMILIES, ATCConfig
from tests.conftest import REPO


@pytest.mark.parametrize("family", ["KAMA", "WMA"])
def test_scan_family_prints_the_family_alone(capsys, family):
    assert main(["scan", "--family", family, "--set", "strategy=true"]) == 0
    out = capsys.readouterr().out
    header, _, *body = out.splitlines()
    assert header.split() == ["symbol", "date", "close", f"{family}_Signal", f"{family}_S", "dir",
                              "last", "event"]
    lines = {line.split()[0]: line.split() for line in body if line[:1].isalpha()}
    with gzip.open(REPO / "resources" / "stocks_daily_2000_2013.csv.gz", "rt") as fh:
        raw = pd.read_csv(fh)
    f = FAMILIES.index(family)
    config = ATCConfig(strategy=True)
    for symbol, rows in raw.groupby("Ticker"):
        rows = rows.sort_values("Date")
        ref = compute_reference(rows["Adj Close"].to_numpy(np.float64), config, families=1, family=f)
        cells = lines[symbol]
        assert cells[1] == rows["Date"].iloc[-1]
        assert float(cells[3]) == ref.signals[f, -1]
        assert float(cells[4]) == pytest.approx(ref.family_equities[f, -1], abs=5e-5)
        assert cells[5] == ("long" if ref.direction[-1] > 0 else "short")
        sign, since = last_event(ref.long, ref.short)
        assert cells[6:] == ([("long" if sign > 0 else "short"), str(since), "bars", "ago"]
                             if sign else ["-"])
    assert f"5 symbols, {family} family alone" in out


def test_scan_family_rejects_an_unknown_family_and_mode_beside_it(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--family", "SMA"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'SMA'" in capsys.readouterr().err
    assert main(["scan", "--family", "KAMA", "--mode", "full", "--universe", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "atc: error: --family and --mode: give one of them\n"
    assert main(["scan", "--mode", "full"]) == 2          # the bundled scan has no modes
    assert capsys.readouterr().err == "atc: error: --mode works with --universe DIR\n"
