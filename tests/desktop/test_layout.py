"""Layout a trader can live in: the window fits 1024 px, a 1184×700 window gives the price
pane real room, a bigger window goes to the chart, legends and the growth banner stay off
the data, pane boundaries and the price axis can be dragged, the crosshair names its date
on the time axis, watchlist numbers are never cut, PNG exports carry a title at a chosen
size, and the last symbol, CSV folder and pane proportions come back after a restart.

Window geometry is real (offscreen or Xvfb: run with ``QT_QPA_PLATFORM=xcb xvfb-run -a``
to see it on an X server); expected values come from the bars and from
``core.atc.compute_reference``, never from the widget's own state.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from PySide6 import QtCore, QtGui
from PySide6.QtWidgets import QFileDialog, QMenu

from atc_desktop.chart import ChartWidget
from atc_desktop.chart.export import TITLE_PX
from atc_desktop.chart.pane_splitter import DEFAULT_PROPORTIONS, row_heights
from atc_desktop.chart.sample import bundled_bars, synthetic_bars
from atc_desktop.watchlist.columns import COLUMN_INDEX
from atc_desktop.watchlist.row import RowState
from core.atc import compute_reference
from core.config import ATCConfig

CONFIG = ATCConfig()


@pytest.fixture(scope="module")
def aapl() -> tuple[Any, Any]:
    bars = bundled_bars("AAPL")
    return bars, compute_reference(bars.close, CONFIG, detail=True)


def shown_chart(qtbot: Any, bars: Any, result: Any, width: int = 1200, height: int = 760,
                config: ATCConfig = CONFIG) -> ChartWidget:
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(width, height)
    chart.show()
    chart.set_data(bars, result, config)
    qtbot.waitExposed(chart)
    qtbot.wait(20)
    return chart


def charted(qtbot: Any, window: Any, symbol: str) -> ChartWidget:
    with qtbot.waitSignal(window.session.analysis.analysed, timeout=60_000):
        window.watchlist.select_symbol(symbol)
    qtbot.wait(60)                          # the new chart settles into the dock
    return window.chart_pane.chart()


def settle(qtbot: Any) -> None:
    qtbot.wait(120)


def scene_rect(item: Any) -> QtCore.QRectF:
    return item.sceneBoundingRect()


def data_top(chart: ChartWidget, k: int) -> float:
    """Scene y where pane ``k``'s data area begins (under its legend band)."""
    vb = chart.panes.view_box(k)
    return scene_rect(vb).top() + vb.band


# -- the window -------------------------------------------------------------------------------
def test_window_fits_1024_wide_with_a_chart(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB"], bars=400))
    chart = charted(qtbot, window, "AAA")
    window.resize(1024, 700)
    settle(qtbot)
    assert window.minimumSizeHint().width() <= 1024
    assert (window.width(), window.height()) == (1024, 700)
    # Everything the chart needs is still on screen; what folded away is offered elsewhere.
    t = chart.toolbar
    for w in (t.title, t.interval, t.calibration, t.png_button):
        assert w.isVisibleTo(chart) and w.geometry().right() <= t.width()
    if not t.ma_buttons["EMA"].isVisibleTo(chart):
        assert t.ma_menu_button.isVisibleTo(chart)
    assert window.watchlist_dock.width() >= window.watchlist.minimumSizeHint().width()


def test_price_pane_has_room_at_1184x700(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=400))
    window.resize(1184, 700)
    chart = charted(qtbot, window, "AAA")
    settle(qtbot)
    price = chart.panes.view_box(0)
    # It was ~80 px including the legend; now the data alone has well over twice that.
    assert price.data_height() >= 160
    assert price.height() > chart.panes.view_box(1).height()
    assert price.height() > chart.panes.view_box(2).height()


def test_a_bigger_window_goes_to_the_chart(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=400))
    window.resize(1184, 700)
    charted(qtbot, window, "AAA")
    settle(qtbot)
    wl, log, dock = window.watchlist_dock.width(), window.log_dock.height(), window.chart_dock.size()
    window.resize(1600, 1000)
    settle(qtbot)
    assert abs(window.watchlist_dock.width() - wl) <= 2
    assert abs(window.log_dock.height() - log) <= 2
    assert window.chart_dock.width() >= dock.width() + 400
    assert window.chart_dock.height() >= dock.height() + 280
    window.resize(1184, 700)                 # and back: the chart gives it back
    settle(qtbot)
    assert abs(window.watchlist_dock.width() - wl) <= 2
    assert abs(window.log_dock.height() - log) <= 2


def test_a_dragged_separator_is_what_the_resize_keeps(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=300))
    window.resize(1300, 800)
    settle(qtbot)
    # What a separator drag does: the docks change size while the window does not.
    window.resizeDocks([window.watchlist_dock, window.chart_dock], [300, 994], QtCore.Qt.Orientation.Horizontal)
    settle(qtbot)
    kept = window.watchlist_dock.width()
    window.resize(1500, 900)
    settle(qtbot)
    assert abs(window.watchlist_dock.width() - kept) <= 2


# -- legends, banner, bands -------------------------------------------------------------------
@pytest.mark.parametrize("width", [700, 1300])
def test_legends_and_growth_banner_never_cover_data(qtbot: Any, width: int) -> None:
    bars = synthetic_bars(5000)                  # growth factor > 1.1: the banner shows
    result = compute_reference(bars.close, CONFIG, detail=True)
    chart = shown_chart(qtbot, bars, result, width, 700)
    p = chart.panes
    assert chart.growth_warning_text() is not None
    legend_rects = [scene_rect(label.item) for label in p.legends]
    warning = scene_rect(p.warning.item)
    assert not warning.intersects(legend_rects[0])
    for k, rect in enumerate(legend_rects):
        assert rect.bottom() <= data_top(chart, k) + 0.5, k
    assert warning.bottom() <= data_top(chart, 0) + 0.5
    # The highest visible high and the top of the volume bars map under the bands.
    vb = p.view_box(0)
    i0, i1 = chart.visible_bar_range()
    top = vb.mapViewToScene(QtCore.QPointF(i1 - 1, float(np.max(bars.high[i0:i1])))).y()
    assert top >= data_top(chart, 0)
    vtop = p.view_box(1).mapViewToScene(QtCore.QPointF(i1 - 1, float(np.max(bars.volume[i0:i1])))).y()
    assert vtop >= data_top(chart, 1)
    stop = p.view_box(2).mapViewToScene(QtCore.QPointF(i1 - 1, 1.0)).y()
    assert stop >= data_top(chart, 2)
    # Whatever the scale, items are clipped below the band: the legend's strip stays clear.
    assert vb.shape().boundingRect().top() == pytest.approx(vb.band)


def test_legend_wraps_in_a_narrow_pane(qtbot: Any, aapl: Any) -> None:
    bars, result = aapl
    chart = shown_chart(qtbot, bars, result, 640, 600)
    vb = chart.panes.view_box(0)
    legend = scene_rect(chart.panes.price_legend.item)
    assert legend.right() <= scene_rect(vb).right() + 0.5       # not over the price axis
    assert legend.bottom() <= data_top(chart, 0) + 0.5


# -- dragging -----------------------------------------------------------------------------------
def _mouse(widget: Any, kind: QtCore.QEvent.Type, pos: QtCore.QPointF, held: bool) -> None:
    buttons = QtCore.Qt.MouseButton.LeftButton if held else QtCore.Qt.MouseButton.NoButton
    button = QtCore.Qt.MouseButton.NoButton if kind == QtCore.QEvent.Type.MouseMove else QtCore.Qt.MouseButton.LeftButton
    event = QtGui.QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons,
                              QtCore.Qt.KeyboardModifier.NoModifier)
    QtCore.QCoreApplication.sendEvent(widget, event)


def drag(widget: Any, start: QtCore.QPointF, end: QtCore.QPointF, steps: int = 6) -> None:
    T = QtCore.QEvent.Type
    _mouse(widget, T.MouseButtonPress, start, True)
    for s in range(1, steps + 1):
        f = s / steps
        _mouse(widget, T.MouseMove, start + (end - start) * f, True)
    _mouse(widget, T.MouseButtonRelease, end, False)


def test_pane_boundary_drag_changes_the_proportions(qtbot: Any, aapl: Any) -> None:
    bars, result = aapl
    chart = shown_chart(qtbot, bars, result)
    p = chart.panes
    before = p.row_heights()
    assert chart.pane_proportions() == pytest.approx(DEFAULT_PROPORTIONS)
    y = chart.pane_splitter.boundaries()[0]                  # price | volume
    x = p.view.viewport().width() / 2
    with qtbot.waitSignal(chart.layout_changed, timeout=2000):
        drag(p.view.viewport(), QtCore.QPointF(x, y), QtCore.QPointF(x, y + 40))
    after = p.row_heights()
    assert after[0] == pytest.approx(before[0] + 40, abs=2)
    assert after[1] == pytest.approx(before[1] - 40, abs=2)
    assert after[2] == before[2]
    assert chart.pane_proportions()[0] > DEFAULT_PROPORTIONS[0]
    # Proportions, not pixels: a taller chart keeps them.
    props = chart.pane_proportions()
    chart.resize(1200, 1000)
    qtbot.wait(30)
    total = sum(p.row_heights())
    assert p.row_heights() == row_heights(total, props, p.minimum_heights())


def test_price_axis_drag_scales_and_double_click_fits_again(qtbot: Any, aapl: Any) -> None:
    bars, result = aapl
    chart = shown_chart(qtbot, bars, result)
    p = chart.panes
    lo, hi = chart.price_range()
    axis = p.price_axis
    center = axis.mapToScene(axis.boundingRect().center())
    start = QtCore.QPointF(p.view.mapFromScene(center))
    drag(p.view.viewport(), start, start + QtCore.QPointF(0, 60))          # down: compress
    lo2, hi2 = chart.price_range()
    assert not chart.price_autoscale
    assert (hi2 - lo2) > 1.3 * (hi - lo)
    assert (lo2 + hi2) / 2 == pytest.approx((lo + hi) / 2, rel=1e-9)
    chart.set_x_range(*chart.x_range())                                      # panning keeps the scale
    assert chart.price_range() == pytest.approx((lo2, hi2))
    T = QtCore.QEvent.Type
    pos = start
    _mouse(p.view.viewport(), T.MouseButtonPress, pos, True)
    _mouse(p.view.viewport(), T.MouseButtonRelease, pos, False)
    _mouse(p.view.viewport(), T.MouseButtonDblClick, pos, True)
    _mouse(p.view.viewport(), T.MouseButtonRelease, pos, False)
    qtbot.waitUntil(lambda: chart.price_autoscale, timeout=2000)
    assert chart.price_range() == pytest.approx((lo, hi))


# -- crosshair --------------------------------------------------------------------------------
def test_crosshair_names_its_date_on_the_time_axis(qtbot: Any, aapl: Any) -> None:
    bars, result = aapl
    chart = shown_chart(qtbot, bars, result)
    n = len(bars)
    assert chart.crosshair.time_text() == ""
    for i in (n - 1, n - 57):
        chart.crosshair.move_to(i, 0, float(bars.close[i]))
        assert chart.crosshair.time_text() == chart.readout_at(i)["time"]
        tag = scene_rect(chart.crosshair.time_tag)
        axis = scene_rect(chart.panes.axis)
        x = chart.panes.view_box(2).mapViewToScene(QtCore.QPointF(i, 0)).x()
        assert abs(tag.center().x() - x) <= 1.0
        assert axis.top() - 0.5 <= tag.top() and tag.bottom() <= axis.bottom() + 4
    chart.crosshair.hide()
    assert chart.crosshair.time_text() == ""


# -- watchlist ----------------------------------------------------------------------------------
def test_watchlist_numbers_are_never_cut_names_elide(qtbot: Any) -> None:
    from atc_desktop.watchlist.model import WatchlistModel
    from atc_desktop.watchlist.view import WatchlistWidget

    model = WatchlistModel()
    model.set_symbols(["BRK-A", "AAPL"])
    view = WatchlistWidget(model)
    qtbot.addWidget(view)
    view.resize(420, 300)
    view.show()
    qtbot.waitExposed(view)
    model.apply([RowState("BRK-A", last=612345.67, change_pct=-12.3456, signal=-0.987, bars_since=1234,
                          bars=500, interval="1d", data_time=1_700_000_000_000_000_000,
                          source="a source name much longer than its column")])
    header = view.table.horizontalHeader()
    col = COLUMN_INDEX["last"]
    numbers = [COLUMN_INDEX[k] for k in ("last", "change", "signal", "bars_ago", "time")]
    assert view.table.sizeHintForColumn(col) > header.sectionSize(col)     # would be cut
    qtbot.waitUntil(lambda: all(header.sectionSize(i) >= view.table.sizeHintForColumn(i)
                                for i in numbers), timeout=3000)
    header.resizeSection(col, 12)                                  # dragged too narrow
    qtbot.waitUntil(lambda: header.sectionSize(col) >= view.table.sizeHintForColumn(col), timeout=3000)
    src = COLUMN_INDEX["source"]
    header.moveSection(header.visualIndex(src), 1)                  # not the stretched last one
    header.resizeSection(src, 40)                                   # a name may elide
    qtbot.wait(300)
    assert header.sectionSize(src) == 40
    assert view.table.textElideMode() == QtCore.Qt.TextElideMode.ElideRight
    view.set_column_visible(COLUMN_INDEX["direction"], False)
    assert header.isSectionHidden(COLUMN_INDEX["direction"])
    view.set_column_visible(COLUMN_INDEX["symbol"], False)          # the symbol always stays
    assert not header.isSectionHidden(COLUMN_INDEX["symbol"])


# -- PNG export ---------------------------------------------------------------------------------
def _pixels(image: QtGui.QImage) -> np.ndarray:
    rgb = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    return np.stack([np.frombuffer(rgb.constScanLine(y), dtype=np.uint32, count=rgb.width()).copy()
                     & 0xFFFFFF for y in range(rgb.height())])


def _rgb(color: str) -> int:
    return QtGui.QColor(color).rgb() & 0xFFFFFF


def test_png_export_has_a_title_and_the_chosen_size(qtbot: Any, aapl: Any, tmp_path: Any) -> None:
    bars, result = aapl
    chart = shown_chart(qtbot, bars, result, 900, 600)
    rows_before = chart.panes.row_heights()
    title = chart.png_title()
    assert title.startswith("AAPL · 1d · bundled replay · 2000-03-01 – 2013-03-01")
    for size in ((1920, 1080), (1280, 720)):
        path = tmp_path / f"chart_{size[0]}.png"
        got = chart.export_png(path, size)
        image = QtGui.QImage(str(path))
        assert (image.width(), image.height()) == size == (got.width(), got.height())
        px = _pixels(image)
        t = chart.panes.theme
        strip = px[:TITLE_PX]
        assert np.count_nonzero(strip == _rgb(t.panel)) > 0.5 * strip.size      # the title line
        assert np.count_nonzero(strip == _rgb(t.foreground)) > 30                # its text
        body = px[TITLE_PX:]
        assert np.count_nonzero(body == _rgb(t.bull)) > 100                      # candles drawn
        # The panes were laid out at the export size: the signal pane reaches the bottom.
        signal_rows = np.flatnonzero((body == _rgb(t.bear)).any(axis=1))
        assert signal_rows.max() > 0.8 * body.shape[0]
    assert chart.panes.row_heights() == rows_before                             # and laid back
    with pytest.raises(ValueError, match="width = 10 is out of range"):
        chart.export_png(tmp_path / "tiny.png", (10, 500))
    assert not (tmp_path / "tiny.png").exists()


def test_png_size_menu_of_the_window(qtbot: Any, make_window: Any, scripted: Any, tmp_path: Any,
                                     monkeypatch: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=300))
    charted(qtbot, window, "AAA")
    target = tmp_path / "big.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "Export chart as PNG &at")
    action = next(a for a in menu.actions() if a.text().startswith("1920 × 1080"))
    action.trigger()
    image = QtGui.QImage(str(target))
    assert (image.width(), image.height()) == (1920, 1080)
    assert window.chart_pane.export_dir == str(tmp_path)


# -- restart ------------------------------------------------------------------------------------
def test_symbol_csv_folder_and_chart_layout_come_back(qtbot: Any, make_window: Any, make_session: Any,
                                                     scripted: Any, tmp_path: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=300)
    first = make_window(provider=provider)
    chart = charted(qtbot, first, "BBB")
    folder = str(tmp_path / "my csv files")
    first.settings_panel.csv_dir.setText(folder)           # typed, source left as it is
    chart.set_pane_proportions((0.5, 0.2, 0.3))
    chart.set_bottom_height(90)
    first.chart_pane.export_dir = str(tmp_path)
    first.close()
    second = make_window(session=make_session(provider=provider))
    qtbot.waitUntil(lambda: second.session.analysis.last_outcome is not None, timeout=60_000)
    assert second.session.analysis.symbol == "BBB"
    assert second.watchlist.current_symbol() == "BBB"
    assert second.settings_panel.csv_dir.text() == folder
    assert second.chart_pane.export_dir == str(tmp_path)
    chart2 = second.chart_pane.chart()
    assert chart2.pane_proportions() == pytest.approx((0.5, 0.2, 0.3), abs=1e-3)
    assert chart2.asked_bottom_height() == 90


def test_a_damaged_saved_view_state_is_ignored(qtbot: Any, make_window: Any, make_session: Any,
                                                scripted: Any, home: Any) -> None:
    from PySide6.QtCore import QSettings

    provider = scripted(["AAA"], bars=200)
    make_window(provider=provider).close()
    q = QSettings(str(home.layout_file), QSettings.Format.IniFormat)
    q.setValue("pane_proportions", "0.5,-1,0.2")
    q.setValue("last_symbol", "NOT-IN-LIST")
    q.sync()
    window = make_window(session=make_session(provider=provider))
    assert window.session.analysis.symbol is None
    assert window.chart_pane.chart_layout() == (None, None)
    assert math.isclose(sum(DEFAULT_PROPORTIONS), 1.0)
