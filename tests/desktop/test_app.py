"""The entry point: ``python -m atc_desktop`` starts offline on the bundled data, paints
the watchlist with values, writes its log and profile under the chosen home."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def test_python_m_atc_desktop_starts_offline(tmp_path: Path, numba_cache: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               NUMBA_CACHE_DIR=str(numba_cache))
    env.pop("ATC_DESKTOP_HOME", None)
    home = tmp_path / "profile"
    run = subprocess.run([sys.executable, "-m", "atc_desktop", "--home", str(home), "--exit-when-painted"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "painted" in run.stdout
    log = (home / "log" / "atc-desktop.log").read_text()
    assert "ATC Desktop starting" in log
    assert json.loads((home / "config" / "watchlists.json").read_text())["lists"]["Default"] == \
        ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    assert (home / "data" / "bars.sqlite3").exists()


def test_numba_cache_dir_defaults_to_the_user_cache(monkeypatch: Any, tmp_path: Path) -> None:
    from atc_desktop.app import prepare_environment
    from atc_desktop.paths import AppPaths

    paths = AppPaths.resolve(tmp_path)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    prepare_environment(paths)
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    prepare_environment(paths)
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else"
