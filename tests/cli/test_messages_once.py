"""The core's warnings reach an `atc` user's stderr exactly once.

Run in a subprocess: only there is logging left unconfigured as for a real user, so that a
warning logged by the core and printed again by the command would show twice.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.test_compute_cli import write_prices
from tests.cli.test_consistency import not_warm_up
from tests.conftest import REPO


def atc(*argv: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{prelude}\nfrom core.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_a_recovered_bar_store_is_reported_once(tmp_path):
    db = tmp_path / "bars.sqlite3"
    db.write_bytes(bytes(range(256)) * 16)            # 4 KiB that are no database
    done = atc("fetch", "AAPL", "--db", str(db))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    moved = [line for line in lines if "moved it to" in line]
    assert len(moved) == 1, done.stderr
    assert moved[0].startswith("atc: warning: ") and "bars.sqlite3.corrupt-" in moved[0]
    assert list(tmp_path.glob("bars.sqlite3.corrupt-*"))   # the old file was kept aside


BROKEN_CUDA = """
import core.backends.registry as registry
def unavailable():
    raise ImportError("no GPU in this test")
registry.DEFAULT_FACTORIES["cuda"] = unavailable
"""


def test_a_backend_fallback_is_reported_once(tmp_path):
    rows = [[f"2020-04-{d:02d}", str(100 + d % 5), str(100 + d % 5)] for d in range(1, 29)]
    prices = write_prices(tmp_path / "prices.csv", rows)
    out = tmp_path / "out.csv"
    done = atc("compute", str(prices), "--backend", "cuda", "-o", str(out), prelude=BROKEN_CUDA)
    assert done.returncode == 0, done.stderr
    fallback = [line for line in done.stderr.splitlines() if "no GPU in this test" in line]
    assert len(fallback) == 1, done.stderr
    assert fallback[0].startswith("atc: warning: backend cuda failed")
    assert not_warm_up(done.stderr) == fallback             # and nothing else on stderr
    assert out.read_text().startswith("date,close,")
