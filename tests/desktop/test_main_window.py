"""The main window: watchlist editing through the UI, named lists, shortcuts, themes,
exports, layout round-trip, and exceptions that never stop the app."""
from __future__ import annotations

import csv
import json
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QTabBar

from atc_desktop.watchlist.columns import COLUMN_INDEX


def test_add_validates_and_remove_persists(qtbot: Any, make_window: Any, scripted: Any, home: Any,
                                           refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=300)
    window = make_window(provider=provider, symbols=["AAA", "BBB"])
    session, w = window.session, window.watchlist
    qtbot.keyClicks(w.add_field, "zzz")
    with qtbot.waitSignal(session.add_failed, timeout=10_000) as failed:
        qtbot.keyClick(w.add_field, Qt.Key.Key_Return)
    assert "ZZZ" in failed.args[0] and "not a symbol" in failed.args[0]
    assert w.add_error.isVisibleTo(w) and "ZZZ" in w.add_error.text()
    assert session.model.symbols() == ["AAA", "BBB"]
    w.add_field.clear()
    with qtbot.waitSignal(session.add_failed, timeout=10_000) as failed:
        w.add_requested.emit("$$")
    assert "not a valid ticker" in failed.args[0]
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000):
        w.add_requested.emit("ccc")
    assert session.model.symbols() == ["AAA", "BBB", "CCC"]
    assert json.loads(home.watchlists_file.read_text())["lists"]["Default"] == ["AAA", "BBB", "CCC"]
    assert session.model.state_of("CCC").has_values
    w.select_symbol("BBB")
    w.table.setFocus()
    window.act_remove.trigger()
    assert session.model.symbols() == ["AAA", "CCC"]
    assert json.loads(home.watchlists_file.read_text())["lists"]["Default"] == ["AAA", "CCC"]
    w.select_symbol("CCC")
    window.act_up.trigger()
    assert json.loads(home.watchlists_file.read_text())["lists"]["Default"] == ["CCC", "AAA"]


def test_named_watchlists(qtbot: Any, make_window: Any, scripted: Any, home: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB"], bars=200), symbols=["AAA"])
    session = window.session
    session.create_list("Second")
    assert session.model.symbols() == [] and window.watchlist.lists.currentText() == "Second"
    window.watchlist.add_requested.emit("BBB")
    qtbot.waitUntil(lambda: session.model.symbols() == ["BBB"], timeout=10_000)
    window.watchlist.lists.setCurrentText("Default")
    assert session.model.symbols() == ["AAA"]
    saved = json.loads(home.watchlists_file.read_text())
    assert saved == {"version": 1, "active": "Default", "lists": {"Default": ["AAA"], "Second": ["BBB"]}}
    with pytest.raises(ValueError):
        session.create_list("Second")


def test_shortcuts(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=300))
    K = QKeySequence
    expected = {
        window.act_add: K("Ctrl+N"), window.act_remove: K(K.StandardKey.Delete),
        window.act_refresh: K(K.StandardKey.Refresh), window.act_chart: K("Ctrl+O"),
        window.act_zoom_in: K(K.StandardKey.ZoomIn), window.act_zoom_out: K(K.StandardKey.ZoomOut),
        window.act_reset: K("Ctrl+0"),
    }
    for action, seq in expected.items():
        assert action.shortcut() == seq and not seq.isEmpty(), action.text()
    with qtbot.waitSignal(window.session.refresh.refreshed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.watchlist.add_field.hasFocus()
    window.watchlist.select_symbol("AAA")
    with qtbot.waitSignal(window.session.analysis.analysed, timeout=60_000):
        pass
    chart = window.chart_pane.chart()
    x0, x1 = chart.x_range()
    window.act_zoom_in.trigger()
    assert chart.x_range()[1] - chart.x_range()[0] < x1 - x0
    window.act_zoom_out.trigger()
    window.act_zoom_out.trigger()
    assert chart.x_range()[1] - chart.x_range()[0] > x1 - x0
    window.act_reset.trigger()
    assert chart.x_range() == pytest.approx((x0, x1))


def test_themes(qtbot: Any, make_window: Any, scripted: Any, home: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=100))
    app = QApplication.instance()
    window.theme_actions["light"].trigger()
    assert app.palette().color(QPalette.ColorRole.Base).lightness() > 200
    assert json.loads(home.settings_file.read_text())["theme"] == "light"
    window.theme_actions["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Base).lightness() < 60


def test_exports(qtbot: Any, make_window: Any, scripted: Any, tmp_path: Any, monkeypatch: Any,
                 refreshed: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB"], bars=300))
    session = window.session
    refreshed(qtbot, session)
    path = tmp_path / "list.csv"
    window.export_watchlist(str(path))
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["symbol"] for r in rows] == ["AAA", "BBB"]
    assert float(rows[0]["EMA_Signal"]) == session.model.state_of("AAA").signal
    assert [r["family"] for r in rows] == ["EMA", "EMA"]
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol("BBB")
    for name in ("chart.csv", "chart.png"):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        (window.export_chart_csv if name.endswith("csv") else window.export_chart_png)()
        assert target.stat().st_size > 1000
    header = (tmp_path / "chart.csv").read_text().splitlines()[0].split(",")
    assert {"Average_Signal", "EMA_Signal", "KAMA_S", "direction", "long", "short", "eq.KAMA_4"} <= set(header)


def visible_tab_bars(window: Any) -> list[list[str]]:
    """Tab bars a user can see (Qt parks unused ones outside the window)."""
    return sorted([bar.tabText(i) for i in range(bar.count())] for bar in window.findChildren(QTabBar)
                  if bar.isVisible() and bar.parent() is window
                  and window.rect().intersects(bar.geometry()))


def test_layout_round_trip(qtbot: Any, make_window: Any, make_session: Any, scripted: Any) -> None:
    provider = scripted(["AAA"], bars=100)
    first = make_window(provider=provider)
    assert visible_tab_bars(first) == [["Chart", "Settings and backends"], ["Log", "Alerts"]]
    first.resize(720, 530)          # within the offscreen screen (800×600): restore clamps to it
    first.alerts_dock.hide()
    header = first.watchlist.table.horizontalHeader()
    header.resizeSection(COLUMN_INDEX["signal"], 133)
    header.moveSection(COLUMN_INDEX["source"], 1)
    first.close()                                  # saves the layout
    second = make_window(session=make_session(provider=provider))
    assert (second.width(), second.height()) == (720, 530)
    assert not second.alerts_dock.isVisible() and second.log_dock.isVisible()
    header2 = second.watchlist.table.horizontalHeader()
    assert header2.sectionSize(COLUMN_INDEX["signal"]) == 133
    assert header2.visualIndex(COLUMN_INDEX["source"]) == 1
    assert visible_tab_bars(second) == [["Chart", "Settings and backends"]]
    second.reset_layout()
    assert second.alerts_dock.isVisible()


@pytest.mark.qt_no_exception_capture
def test_exceptions_never_stop_the_app(qtbot: Any, make_window: Any, scripted: Any) -> None:
    import sys

    from PySide6.QtCore import QTimer

    from atc_desktop.guard import guarded, install_excepthook

    window = make_window(provider=scripted(["AAA"], bars=100))
    old = sys.excepthook
    install_excepthook()
    try:
        def boom() -> None:
            raise RuntimeError("slot exploded")

        QTimer.singleShot(0, boom)                    # unguarded: reaches the hook
        qtbot.waitUntil(lambda: "slot exploded" in window.statusBar().currentMessage(), timeout=5000)
        guarded(lambda: 1 / 0)()                      # guarded: reported, returns None
        qtbot.waitUntil(lambda: "ZeroDivisionError" in window.statusBar().currentMessage(), timeout=5000)
        assert any("slot exploded" in line for line in window.log_widget.lines())
        assert window.isVisible()
    finally:
        sys.excepthook = old
