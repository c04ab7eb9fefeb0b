"""Small universes written to a temporary folder, and the grid text the sweeps use."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("fsspec")

from core.data.bars import Bars  # noqa: E402
from core.data.providers.synthetic import SyntheticProvider  # noqa: E402
from core.universe import Universe, bars_from_provider, export_universe, open_universe  # noqa: E402

GRID = """
[grid]
ema_len = [20, 28]
La = { start = 0.01, stop = 0.03, step = 0.01 }

[backtest]
cost_bps = 5
"""


def synthetic_universe(root: Path, count: int = 40, bars: int = 400,
                       per_file: int = 20) -> Universe:
    provider = SyntheticProvider(count=count, bars=bars, seed=11)
    export_universe(str(root), bars_from_provider(provider, "1d"), "1d", source="synthetic",
                    symbols_per_file=per_file)
    return open_universe(str(root))


def bars_of(symbol: str, close: np.ndarray, start_day: int = 0) -> Bars:
    """Daily bars of ``close`` (open = previous close), starting ``start_day`` days after
    2020-01-01."""
    n = close.size
    ts = (np.datetime64("2020-01-01", "ns") + np.arange(start_day, start_day + n)
          * np.timedelta64(1, "D")).astype(np.int64)
    open_ = np.concatenate(([close[0]], close[:-1]))
    return Bars(symbol, "1d", ts, open_, np.maximum(open_, close), np.minimum(open_, close),
                close, np.ones(n), source="csv")


@pytest.fixture
def universe(tmp_path: Path) -> Universe:
    return synthetic_universe(tmp_path / "universe")


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path
