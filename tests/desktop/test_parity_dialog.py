"""Chart → Compare with TradingView export…: the dialog opened through the menu shows the
comparison of a TradingView-format export (built from the golden outputs) row by row, and
one clear message for a file it cannot use."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from tests.conftest import golden_dir
from tests.fixtures.tradingview_export import FIXTURES, atc_export, load, times

MSFT = golden_dir() / "ties" / "msft_close_default.npz"
COLUMNS = ["Average_Signal", "EMA_Signal", "HMA_Signal", "WMA_Signal", "DEMA_Signal", "LSMA_Signal",
           "KAMA_Signal", "direction", "arrow_long", "arrow_short", "long", "short",
           "EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA"]
HEADINGS = ["column", "bars", "bit-identical %", "within 1e-9 %", "first differing bar", "time",
            "ours", "theirs", "compared as", "agrees"]


def menu_action(window: Any, menu: str, text: str) -> Any:
    bar = window.menuBar()
    chart = next(a.menu() for a in bar.actions() if a.text() == menu)
    return next(a for a in chart.actions() if a.text() == text)


def open_through_menu(qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch, path: Path) -> Any:
    asked: list[str] = []

    def pick(parent: Any, caption: str, *args: Any) -> tuple[str, str]:
        asked.append(caption)
        return str(path), "CSV (*.csv)"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", pick)
    menu_action(window, "&Chart", "&Compare with TradingView export…").trigger()
    dialog = window.parity_dialog
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)
    assert asked == ["TradingView export of AAA"]
    return dialog


@pytest.fixture
def window(qtbot: Any, make_window: Any, scripted: Any) -> Any:
    """A main window charting AAA; the ATC on the numpy reference (the yardstick)."""
    registry = Registry(factories={"numpy": NumpyBackend})
    win = make_window(provider=scripted(["AAA"], bars=120), registry=registry)
    with qtbot.waitSignal(win.session.analysis.analysed, timeout=60_000):
        win.session.analysis.show("AAA")
    return win


def test_dialog_shows_every_column_of_an_agreeing_export(qtbot, window, monkeypatch):
    dialog = open_through_menu(qtbot, window, monkeypatch, FIXTURES / "atc_msft_unix.csv")
    assert dialog.isVisible() and "AAA" in dialog.windowTitle()
    table = dialog.table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == HEADINGS
    gold, _ = load(MSFT)
    rows = dialog.rows()
    assert [r[0] for r in rows] == ["Average Signal"] + COLUMNS[1:]
    for row, name in zip(rows, COLUMNS):
        events = name in ("arrow_long", "arrow_short", "long", "short")
        bars = 400 if events else int(np.isfinite(gold[name][:400]).sum())
        assert row[1:8] == [str(bars), "100.00", "100.00", "-", "-", "-", "-"], row
        assert row[9] == "yes"
    assert rows[0][8] == "Average_Signal (1e-9)" and rows[1][8] == "exact" and rows[12][8] == "bit-identical"
    assert dialog.verdict.text() == "✔ all 18 recognised columns agree with TradingView's export"
    assert "'Plot'" in dialog.notes.text() and "export's first bar" in dialog.notes.text()
    assert "ATC on numpy" in dialog.header.text()


def test_dialog_reports_the_first_differing_bar(qtbot, window, monkeypatch, tmp_path):
    gold, _ = load(MSFT)
    export = atc_export(MSFT, tmp_path / "msft.csv", "iso", columns=["EMA_Signal", "LSMA2", "R"])
    with export.open(newline="") as fh:
        table = list(csv.reader(fh))
    lsma = float(gold["LSMA2"][2500])
    table[2501][table[0].index("LSMA2")] = repr(float(np.nextafter(lsma, -np.inf)))
    with export.open("w", newline="") as fh:
        csv.writer(fh).writerows(table)
    dialog = open_through_menu(qtbot, window, monkeypatch, export)
    rows = {r[0]: r for r in dialog.rows()}
    bars = int(np.isfinite(gold["LSMA2"]).sum())
    assert rows["LSMA2"][1:] == [str(bars), f"{int(10000 * (bars - 1) / bars) / 100:.2f}", "100.00",
                                 "2500", times(3270, "iso")[2500], repr(lsma),
                                 repr(float(np.nextafter(lsma, -np.inf))), "bit-identical", "NO"]
    assert rows["EMA_Signal"][9] == "yes" and rows["R"][9] == "yes"
    assert dialog.verdict.text().startswith("1 of 3 recognised columns differ: LSMA2 from bar 2500")
    assert dialog.verdict.property("invalid") is True


def test_dialog_says_why_a_file_cannot_be_used(qtbot, window, monkeypatch, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,close,EMA\n100,1.5,\n50,1.5,\n")
    dialog = open_through_menu(qtbot, window, monkeypatch, bad)
    assert dialog.report is None and dialog.table.rowCount() == 0
    assert dialog.verdict.text() == (f"⚠ {bad}: line 3, column 'time': '50' is earlier than "
                                     "line 2's '100'; times must increase")
    assert dialog.error is not None and window.isVisible()
