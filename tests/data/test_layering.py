"""``core.data`` stays light and Qt-free: the app imports it at start-up."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_core_data_loads_no_qt_pandas_or_yfinance():
    code = ("import sys, core.data; "
            "print(sorted(m for m in ('PySide6', 'pyqtgraph', 'pandas', 'yfinance', 'cupy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_public_api_names():
    import core.data as data

    for name in ("Bars", "CleaningReport", "FetchResult", "Provider", "make_provider", "BarStore",
                 "refresh", "RefreshReport", "closes_for_symbol", "is_stale"):
        assert hasattr(data, name), name
    from core.data.providers.bundled import BundledProvider
    from core.data.providers.synthetic import SyntheticProvider

    assert isinstance(BundledProvider(), data.Provider)
    assert isinstance(SyntheticProvider(count=3, bars=10), data.Provider)
