"""Data problems the app shows instead of hiding: every cleaning action in the row's
tooltip and the log, as ``atc fetch`` reports it; a symbol the source has no bars for yet
says so plainly, without an error marker (a real per-symbol failure keeps its marker:
test_offline_truth)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from atc_desktop.watchlist.columns import COLUMN_INDEX
from core.cli.main import main as atc
from core.data import make_provider


def cell(session: Any, symbol: str, column: str, role: Any = Qt.ItemDataRole.DisplayRole) -> Any:
    return session.model.index(session.model.row_of(symbol), COLUMN_INDEX[column]).data(role)


@pytest.fixture
def negative_price_folder(tmp_path: Path) -> Path:
    """AAA.csv: 300 business days, the close of the 121st row negative."""
    folder = tmp_path / "csv"
    folder.mkdir()
    rng = np.random.default_rng(5)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 300)))
    close[120] = -close[120]
    days = pd.bdate_range("2023-01-02", periods=300)
    lines = ["Date,Open,High,Low,Close,Volume"]
    lines += [f"{d:%Y-%m-%d},{abs(c):.4f},{abs(c) * 1.01:.4f},{abs(c) * 0.99:.4f},{c:.4f},1000"
              for d, c in zip(days, close)]
    (folder / "AAA.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_a_dropped_negative_price_shows_in_the_tooltip_and_the_log_as_atc_fetch_says_it(
        qtbot: Any, make_session: Any, refreshed: Any, negative_price_folder: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    assert atc(["fetch", "AAA", "--source", f"csv:{negative_price_folder}",
                "--db", str(tmp_path / "cli.sqlite3")]) == 0
    printed = [ln.strip() for ln in capsys.readouterr().out.splitlines() if "cleaned:" in ln]
    assert len(printed) == 1 and "1 non_positive" in printed[0]
    session = make_session(provider=make_provider(f"csv:{negative_price_folder}"), symbols=["AAA"])
    with caplog.at_level(logging.INFO):
        refreshed(qtbot, session)
        refreshed(qtbot, session)                        # incremental: the note stays
        refreshed(qtbot, session, fetch=False)           # a re-screen: the note stays
    row = session.model.state_of("AAA")
    assert row.note == printed[0]                        # what, how many, first bar
    assert "first 2023-06-19" in row.note and "rows with a zero or negative price dropped" in row.note
    assert printed[0] in cell(session, "AAA", "symbol", Qt.ItemDataRole.ToolTipRole)
    assert row.has_values and not row.error
    logged = [r for r in caplog.records if r.getMessage() == printed[0]]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING     # once, as a warning


def test_a_symbol_without_data_yet_says_so_without_an_error(
        qtbot: Any, make_window: Any, refreshed: Any, caplog: pytest.LogCaptureFixture) -> None:
    window = make_window()                               # bundled replay before FB's listing
    session = window.session
    with caplog.at_level(logging.INFO):
        out = refreshed(qtbot, session)
        refreshed(qtbot, session)
        refreshed(qtbot, session, fetch=False)
    fb = session.model.state_of("FB")
    assert not fb.error and not fb.has_values and not fb.stale
    assert fb.note.startswith("no bars yet: FB's bundled history starts 2012-05-18; the replay is at ")
    assert cell(session, "FB", "error") == "" and cell(session, "FB", "stale") == ""
    assert fb.note in cell(session, "FB", "symbol", Qt.ItemDataRole.ToolTipRole)
    assert "FB" not in out.failures
    assert "error" not in window.error_badge.text()
    assert sum("FB: no bars yet" in r.getMessage() for r in caplog.records) == 1
    assert not any(r.levelno >= logging.WARNING and "FB" in r.getMessage() for r in caplog.records)
