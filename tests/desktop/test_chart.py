"""ChartWidget against independent computations: every expected value comes from
core.atc.compute_reference on the same bars, never from the widget's own state."""
from __future__ import annotations

import csv
import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from core.atc import compute_reference
from core.config import FAMILIES, ATCConfig
from core.types import SIGNAL_NAMES

from atc_desktop.chart import ChartWidget
from atc_desktop.chart.sample import bundled_bars, synthetic_bars
from core.data import Bars
from atc_desktop.chart.theme import BEAR, BULL, NEUTRAL

CONFIG = ATCConfig()


@pytest.fixture(scope="module")
def aapl() -> tuple[Bars, object]:
    bars = bundled_bars("AAPL")
    return bars, compute_reference(bars.close, CONFIG, detail=True)


@pytest.fixture
def chart(qtbot, aapl) -> ChartWidget:
    bars, result = aapl
    widget = ChartWidget()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    widget.set_data(bars, result, CONFIG)
    qtbot.waitExposed(widget)
    return widget


def with_last_bar(bars: Bars, close: float, volume: float) -> Bars:
    """The same bars with the last one revised (a forming bar ticking)."""
    c = bars.close.copy()
    h, lo, v = bars.high.copy(), bars.low.copy(), bars.volume.copy()
    c[-1] = close
    h[-1] = max(h[-1], close)
    lo[-1] = min(lo[-1], close)
    v[-1] = volume
    return Bars(bars.symbol, bars.interval, bars.timestamps, bars.open, h, lo, c, v,
                      bars.tz, bars.source, bars.synthetic)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def same_row(a: dict, b: dict) -> bool:
    """Readout rows equal, NaN matching NaN (Pine's na)."""
    return a.keys() == b.keys() and all(
        same(a[k], b[k]) if isinstance(a[k], float) else a[k] == b[k] for k in a)


# -- last values, readout ----------------------------------------------------------------
def test_readout_at_last_bar_equals_the_reference_result(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), ATCConfig(), detail=True)
    got = chart.readout_at(-1)
    assert got["bar"] == len(bars) - 1
    assert got["Average_Signal"] == ref.average_signal[-1]
    for f, name in enumerate(SIGNAL_NAMES):
        assert got[name] == ref.signals[f, -1]
    for key in ("open", "high", "low", "close", "volume"):
        assert got[key] == getattr(bars, key)[-1]
    assert got["time"] == "2013-03-01"
    # What is on screen: the data window and the signal pane's legend.
    assert chart.readout.text("Average_Signal") == f"{ref.average_signal[-1]:+.4f}"
    assert chart.readout.text("close") == f"{bars.close[-1]:,.3f}"
    for f, fam in enumerate(FAMILIES):
        key = fam + "_Signal"
        assert chart.readout.text(key) == f"{ref.signals[f, -1]:+.2f}"
    assert f"{ref.average_signal[-1]:+.4f}" in chart.panes.signal_legend.text


def test_crosshair_moves_readout_and_weights_to_the_bar(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    for i in (0, 70, 1234, len(bars) - 2):
        chart.crosshair.move_to(i, 0, float(bars.close[i]))
        got = chart.readout_at(i)
        assert same(got["Average_Signal"], float(ref.average_signal[i]))
        assert [got[n] for n in SIGNAL_NAMES] == pytest.approx(ref.signals[:, i].tolist(), nan_ok=True, abs=0)
        want = "—" if np.isnan(ref.average_signal[i]) else f"{ref.average_signal[i]:+.4f}"
        assert chart.readout.text("Average_Signal") == want
        np.testing.assert_array_equal(chart.weights.values(), ref.equities[:, i].reshape(6, 9))
    chart.crosshair.hide()   # cursor leaves: back to the last bar
    np.testing.assert_array_equal(chart.weights.values(), ref.equities[:, -1].reshape(6, 9))


def test_real_mouse_move_snaps_crosshair_to_a_bar(chart, qtbot, aapl):
    bars, _ = aapl
    vb = chart.panes.price.getViewBox()
    target = len(bars) - 30
    scene_pt = vb.mapViewToScene(QtCore.QPointF(target + 0.2, float(bars.close[target])))
    view_pt = chart.panes.view.mapFromScene(scene_pt)
    qtbot.mouseMove(chart.panes.view.viewport(), view_pt)
    qtbot.waitUntil(lambda: chart.crosshair.bar == target, timeout=2000)


# -- markers, colours, MAs -----------------------------------------------------------------
def test_markers_exactly_at_event_bars(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    got = chart.marker_bars()
    for name in ("arrow_long", "arrow_short", "long", "short"):
        want = np.flatnonzero(getattr(ref, name))
        assert want.size > 10, name   # the data really has events of each kind
        np.testing.assert_array_equal(got[name], want)
    # ▲ anchored at the bar's low, ▼ at its high (Pine's belowbar / abovebar).
    np.testing.assert_array_equal(chart.panes.arrow_up.anchors(), bars.low[np.flatnonzero(ref.arrow_long)])
    np.testing.assert_array_equal(chart.panes.arrow_down.anchors(), bars.high[np.flatnonzero(ref.arrow_short)])


def test_bar_colours_follow_the_colour_base(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    lvl = chart.panes.candles._level(1)
    base = ref.average_signal   # colbase = "Average", no Strategy View
    want = np.where(np.isnan(base), NEUTRAL, np.where(base > 0, BULL, BEAR))
    np.testing.assert_array_equal(lvl.cls, want)


def test_family_lines_are_the_base_length_mas_coloured_by_state(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    for f, fam in enumerate(FAMILIES):
        line = chart.panes.ma_lines[fam]
        np.testing.assert_array_equal(line.values, ref.mas[f * 9])
        state = ref.states[f * 9]
        cls = line._level(1).cls            # segment i → i+1 takes the state at i+1
        drawn = cls != -1
        want = np.where(state[1:] > 0, BULL, np.where(state[1:] < 0, BEAR, NEUTRAL))
        np.testing.assert_array_equal(cls[drawn], want[drawn])
        assert drawn.sum() == np.isfinite(ref.mas[f * 9]).sum() - 1


def test_ma_toggles(chart, qtbot):
    button = chart.toolbar.ma_buttons["DEMA"]
    assert chart.panes.ma_lines["DEMA"].isVisible()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    assert not chart.panes.ma_lines["DEMA"].isVisible()
    assert not chart.ma_visible("DEMA")
    assert "DEMA 28" not in chart.panes.price_legend.text
    assert all(chart.panes.ma_lines[f].isVisible() for f in FAMILIES if f != "DEMA")
    chart.set_ma_visible("DEMA", True)
    assert button.isChecked() and chart.panes.ma_lines["DEMA"].isVisible()
    chart.set_ma_visible("KAMA", False)
    assert not chart.toolbar.ma_buttons["KAMA"].isChecked()


def test_hma_label_names_what_the_family_computes(qtbot, aapl):
    bars, _ = aapl
    for kind, needle in (("sma", "an SMA, as in the original script"),
                         ("hull", "does not match TradingView")):
        cfg = ATCConfig(hma_kind=kind)
        result = compute_reference(bars.close, cfg, detail=True)
        chart = ChartWidget()
        qtbot.addWidget(chart)
        chart.set_data(bars, result, cfg)
        assert needle in chart.toolbar.ma_buttons["HMA"].toolTip()
        assert chart.weights.row_labels()[1] == ("HMA (Hull*)" if kind == "hull" else "HMA (SMA)")


# -- warm-up, weights, growth warning -------------------------------------------------------
@pytest.mark.parametrize("cfg", [ATCConfig(), ATCConfig(dema_len=40, robustness="Wide"),
                                 ATCConfig(cutout=300)])
def test_warmup_shading_extent(qtbot, aapl, cfg):
    bars, _ = aapl
    result = compute_reference(bars.close, cfg, detail=True)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.set_data(bars, result, cfg)
    assert chart.warmup_extent() == (0, cfg.warmup_bars())
    for shade in (chart.panes.warmup_volume, chart.panes.warmup_signal):
        assert shade.extent() == (0, cfg.warmup_bars())
    if cfg.cutout == 0:
        # Independent meaning of the number: the first bar on which all 54 MAs exist.
        assert int(np.argmax(np.isfinite(result.mas).all(axis=0))) == cfg.warmup_bars()


def test_weights_table_is_the_member_equities_with_length_headers(chart, aapl):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    np.testing.assert_array_equal(chart.weights.values(), ref.equities[:, -1].reshape(6, 9))
    assert chart.weights.header_labels() == [str(v) for v in CONFIG.member_lengths()[0]]
    assert chart.weights.header_labels() == ["28", "29", "30", "32", "34", "27", "26", "24", "22"]
    want = ref.equities[:, -1].reshape(6, 9)
    assert [[chart.weights.item(r, c).text() for c in range(9)] for r in range(6)] == \
        [[f"{v:.3f}" for v in row] for row in want]
    assert f"Layer-1 equity {want[2, 3]:.6g}" in chart.weights.cell_tooltip(2, 3)


def test_weights_headers_when_families_have_different_lengths(qtbot, aapl):
    bars, _ = aapl
    cfg = ATCConfig(ema_len=20, kama_len=40, robustness="Narrow")
    result = compute_reference(bars.close, cfg, detail=True)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.set_data(bars, result, cfg)
    lengths = cfg.member_lengths()
    assert chart.weights.header_labels() == ["L", "L+1", "L+2", "L+3", "L+4", "L−1", "L−2", "L−3", "L−4"]
    assert chart.weights.row_labels()[0] == "EMA L=20"
    assert chart.weights.row_labels()[5] == "KAMA L=40"
    assert "KAMA 44" in chart.weights.horizontalHeaderItem(4).toolTip()
    assert f"length {lengths[5, 4]}" in chart.weights.cell_tooltip(5, 4)
    np.testing.assert_array_equal(chart.weights.values(), result.equities[:, -1].reshape(6, 9))


def test_growth_warning_shown_only_above_1_1(qtbot, aapl):
    chart = ChartWidget()
    qtbot.addWidget(chart)
    bars, result = aapl                          # 3,270 bars: g = e^(2e-5·3269) ≈ 1.067
    chart.set_data(bars, result, CONFIG)
    assert result.growth_factor < 1.1
    assert chart.growth_warning_text() is None
    long_bars = synthetic_bars(5000)             # g ≈ 1.105
    long_result = compute_reference(long_bars.close, CONFIG, detail=True)
    chart.set_data(long_bars, long_result, CONFIG)
    g = math.exp(CONFIG.lam * (5000 - 1))
    assert g > 1.1 and long_result.growth_factor == pytest.approx(g, rel=1e-12)
    text = chart.growth_warning_text()
    assert text is not None and "1.105" in text and "exceeds 1.1" in text
    steep = ATCConfig(La=0.1)                    # g ≈ e^0.5 > 1.25
    chart.set_data(long_bars, compute_reference(long_bars.close, steep, detail=True), steep)
    assert "exceeds 1.25" in (chart.growth_warning_text() or "")


# -- live refresh ------------------------------------------------------------------------
def _geometry_snapshot(chart: ChartWidget) -> dict[str, np.ndarray]:
    p = chart.panes
    return {"body": p.candles._level(1).body.copy(), "cls": p.candles._level(1).cls.copy(),
            "vol": p.volume_bars._level(1)[0].copy(),
            "avg": p.avg_line._level(1).seg.copy(),
            **{fam: p.ma_lines[fam]._level(1).seg.copy() for fam in FAMILIES}}


def test_update_data_changes_only_the_last_bar_and_keeps_a_zoomed_view(chart, qtbot, aapl):
    bars, result = aapl
    n = len(bars)
    chart.set_x_range(1000.5, 1200.5)            # the user looks at the past
    before = _geometry_snapshot(chart)
    rows_before = [chart.readout_at(i) for i in (0, n // 2, n - 2)]
    revised = with_last_bar(bars, float(bars.close[-1]) * 1.03, float(bars.volume[-1]) * 2)
    revised_result = compute_reference(revised.close, CONFIG, detail=True)
    chart.update_data(revised, revised_result)
    assert chart.x_range() == (1000.5, 1200.5)
    after = _geometry_snapshot(chart)
    for key in before:
        np.testing.assert_array_equal(after[key][:-1], before[key][:-1], err_msg=key)
    assert not np.array_equal(after["body"][-1], before["body"][-1])
    for i, row in zip((0, n // 2, n - 2), rows_before):
        assert same_row(chart.readout_at(i), row)
    last = chart.readout_at(-1)
    assert last["close"] == revised.close[-1] and last["volume"] == revised.volume[-1]
    assert last["Average_Signal"] == revised_result.average_signal[-1]
    # The readout panel and the weights table follow in the event loop's next pass.
    assert chart.readout.text("close") == f"{bars.close[-1]:,.3f}"
    qtbot.waitUntil(lambda: chart.readout.text("close") == f"{revised.close[-1]:,.3f}", timeout=1000)
    np.testing.assert_array_equal(chart.weights.values(), revised_result.equities[:, -1].reshape(6, 9))
    # The cells a tick leaves unchanged are not re-set; every text is still the new bar's.
    assert [[chart.weights.item(r, c).text() for c in range(9)] for r in range(6)] == \
        [[f"{v:.3f}" for v in row] for row in revised_result.equities[:, -1].reshape(6, 9)]


def _pixels(img: QtGui.QImage) -> np.ndarray:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    return np.stack([np.frombuffer(img.constScanLine(y), dtype=np.uint32, count=img.width()).copy()
                     for y in range(img.height())])


def _on_screen(chart: ChartWidget) -> np.ndarray:
    """What the window shows now: the backing store, with only the repainted parts new."""
    return _pixels(chart.screen().grabWindow(chart.window().winId()).toImage())


def test_live_revision_repaints_what_changed_and_equals_a_fresh_render(chart, qtbot, aapl):
    bars, _ = aapl
    n = len(bars)
    qtbot.wait(50)
    before = _on_screen(chart)
    # Within the visible price range, so only the last buckets are invalidated.
    mid = float((bars.high[-20:].max() + bars.low[-20:].min()) / 2)
    revised = with_last_bar(bars, mid, float(bars.volume[-1]))
    chart.update_data(revised, compute_reference(revised.close, CONFIG, detail=True))
    qtbot.wait(50)
    after = _on_screen(chart)
    fresh = _pixels(chart.grab().toImage())       # everything painted from scratch
    h, w = fresh.shape
    np.testing.assert_array_equal(after[:h, :w], fresh)
    vb = chart.panes.price.getViewBox()
    to_px = lambda x, y: chart.panes.view.mapTo(chart, chart.panes.view.mapFromScene(
        vb.mapViewToScene(QtCore.QPointF(x, y))))
    changed = before != after
    # The dotted last-close line spans the pane: it moves from the old close to the new one.
    for close in (float(bars.close[-1]), mid):
        y = to_px(n - 1, close).y()
        changed[y - 2:y + 3] = False
    top = to_px(n - 1, vb.viewRange()[1][1]).y() + 40        # below the legend
    bottom = to_px(n - 1, vb.viewRange()[1][0]).y() - 5
    x_last, x_old = to_px(n - 1, mid).x(), to_px(n - 120, mid).x()
    assert changed[top:bottom, x_last - 3:x_last + 4].any()     # the revised candle
    assert not changed[top:bottom, x_old - 3:x_old + 4].any()   # an old one, untouched


def test_live_ticks_rescale_the_price_pane_only_when_the_bars_leave_it(chart, aapl):
    from atc_desktop.chart.widget import LIVE_HEADROOM, Y_PAD

    bars, _ = aapl
    vb = chart.panes.view_box(0)
    first = chart.visible_bar_range()[0]
    shown = vb.data_range()

    def tick(close: float):
        revised = with_last_bar(bars, close, float(bars.volume[-1]))
        chart.update_data(revised, compute_reference(revised.close, CONFIG, detail=True))
        return revised

    mid = float((bars.high[first:].max() + bars.low[first:].min()) / 2)
    tick(mid)
    assert vb.data_range() == shown                 # inside the scale: no rescale
    above = shown[1] + 0.1 * (shown[1] - shown[0])
    revised = tick(above)
    lo, hi = float(revised.low[first:].min()), float(revised.high[first:].max())
    pad = (hi - lo) * Y_PAD
    grown = vb.data_range()
    assert grown[0] == pytest.approx(lo - pad) and grown[1] == pytest.approx(hi + (1 + LIVE_HEADROOM) * pad)
    tick(above + pad)                               # still inside the headroom
    assert vb.data_range() == grown
    chart._fit_y()                                  # any other refit (scroll, zoom) is tight
    revised_hi = max(hi, above + pad)
    assert vb.data_range()[1] == pytest.approx(revised_hi + (revised_hi - lo) * Y_PAD)


def test_update_data_appending_a_bar_follows_the_right_edge(qtbot, aapl):
    bars, _ = aapl
    n = len(bars)
    head = bars.slice(0, n - 1)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(1000, 700)
    chart.set_data(head, compute_reference(head.close, CONFIG, detail=True), CONFIG)
    x0, x1 = chart.x_range()
    assert x1 >= n - 2                           # the default view shows the latest bar
    before = _geometry_snapshot(chart)
    full = compute_reference(bars.close, CONFIG, detail=True)
    chart.update_data(bars, full)
    assert chart.x_range() == pytest.approx((x0 + 1, x1 + 1))
    after = _geometry_snapshot(chart)
    np.testing.assert_array_equal(after["body"][:-2], before["body"][:-1])
    assert after["body"].shape[0] == n
    np.testing.assert_array_equal(chart.marker_bars()["long"], np.flatnonzero(full.long))
    assert chart.readout_at(-1)["Average_Signal"] == full.average_signal[-1]
    assert chart.readout_at(-1)["time"] == "2013-03-01"


def test_update_data_keeps_a_past_view_when_a_bar_is_appended(qtbot, aapl):
    bars, _ = aapl
    n = len(bars)
    head = bars.slice(0, n - 1)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.set_data(head, compute_reference(head.close, CONFIG, detail=True), CONFIG)
    chart.set_x_range(500.5, 800.5)
    chart.update_data(bars, compute_reference(bars.close, CONFIG, detail=True))
    assert chart.x_range() == (500.5, 800.5)


def test_update_data_with_a_sliding_history_window_keeps_the_view_on_its_dates(qtbot, aapl):
    bars, _ = aapl
    window = 2000
    first = Bars(bars.symbol, bars.interval, *(a[1000:1000 + window] for a in (
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)),
        bars.tz, bars.source, bars.synthetic)
    slid = Bars(bars.symbol, bars.interval, *(a[1003:1003 + window] for a in (
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)),
        bars.tz, bars.source, bars.synthetic)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.set_data(first, compute_reference(first.close, CONFIG, detail=True), CONFIG)
    chart.set_x_range(500.5, 700.5)
    day = chart.readout_at(501)["time"]
    slid_result = compute_reference(slid.close, CONFIG, detail=True)
    chart.update_data(slid, slid_result)          # 3 bars dropped at the front, 3 appended
    x0, x1 = chart.x_range()
    assert (x0, x1) == (497.5, 697.5)
    assert chart.readout_at(498)["time"] == day
    assert chart.readout_at(-1)["Average_Signal"] == slid_result.average_signal[-1]
    # Following the latest bar: still on it after the slide.
    chart.reset_view()
    r = chart.x_range()
    more = Bars(bars.symbol, bars.interval, *(a[1005:1005 + window] for a in (
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)),
        bars.tz, bars.source, bars.synthetic)
    chart.update_data(more, compute_reference(more.close, CONFIG, detail=True))
    assert chart.x_range() == pytest.approx(r)


def test_same_symbol_recomputed_keeps_the_view_new_symbol_resets(chart, aapl, qtbot):
    bars, _ = aapl
    chart.set_x_range(100.5, 300.5)
    cfg = ATCConfig(La=0.03)
    chart.set_data(bars, compute_reference(bars.close, cfg, detail=True), cfg)
    assert chart.x_range() == (100.5, 300.5)
    other = bundled_bars("MSFT")
    chart.set_data(other, compute_reference(other.close, CONFIG, detail=True), CONFIG)
    assert chart.x_range()[1] > len(other) - 1


def test_y_fits_the_visible_bars(chart, aapl):
    bars, _ = aapl
    chart.set_x_range(2000.5, 2100.5)
    # The ranges shown under each pane's legend band (the band is not data room).
    y0, y1 = chart.panes.view_box(0).data_range()
    lo, hi = bars.low[2001:2101].min(), bars.high[2001:2101].max()
    assert y0 < lo and y1 > hi
    assert (y1 - y0) < 1.3 * (hi - lo)
    v0, v1 = chart.panes.view_box(1).data_range()
    assert v0 == 0 and bars.volume[2001:2101].max() <= v1 < 1.2 * bars.volume[2001:2101].max()


def test_zoom_in_out_and_reset(chart, aapl):
    bars, _ = aapl
    n = len(bars)
    x0, x1 = chart.x_range()
    chart.zoom_in()
    z0, z1 = chart.x_range()
    assert z1 == pytest.approx(x1) and (z1 - z0) < (x1 - x0)    # anchored at the right edge
    chart.zoom_out()
    chart.zoom_out()
    o0, o1 = chart.x_range()
    assert (o1 - o0) > (x1 - x0)
    chart.set_x_range(100, 200)
    chart.reset_view()
    assert chart.x_range()[1] > n - 1 and chart.x_range()[0] < n - 100


# -- exports -------------------------------------------------------------------------------
def test_csv_round_trip_is_exact(chart, aapl, tmp_path):
    bars, _ = aapl
    ref = compute_reference(np.array(bars.close), CONFIG, detail=True)
    path = tmp_path / "aapl.csv"
    assert chart.export_csv(path) == len(bars)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        table = list(reader)
    assert len(table) == len(bars)
    cols = {name: [row[k] for row in table] for k, name in enumerate(header)}
    assert header[:7] == ["time", "timestamp_ns", "open", "high", "low", "close", "volume"]
    names = [name for name, _ in ref.columns(detail=True)]
    assert header[7:] == names and len(names) == 1 + 6 + 6 + 6 + 2 + 4 + 1 + 3 * 54   # R: detail
    for name, want in ref.columns(detail=True):
        cells = cols[name]
        assert all(c == "" for c, w in zip(cells, want) if np.isnan(w)), name
        got = np.array([float(c) if c else np.nan for c in cells])
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert all(c == repr(float(w)) for c, w in zip(cells, want) if not np.isnan(w)), name
    np.testing.assert_array_equal(np.array(cols["close"], dtype=float), bars.close)
    assert [int(t) for t in cols["timestamp_ns"]] == bars.timestamps.tolist()
    assert cols["time"][-1] == "2013-03-01"


def test_png_export_has_the_chart_size_and_content(chart, tmp_path):
    path = tmp_path / "chart.png"
    size = chart.export_png(path)
    image = QtGui.QImage(str(path))
    assert not image.isNull()
    dpr = chart.panes.view.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(chart.panes.view.width() * dpr),
                                               round(chart.panes.view.height() * dpr))
    assert (size.width(), size.height()) == (image.width(), image.height())
    # Not a blank canvas: candle colours are present and many distinct colours appear.
    rgb = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)   # kept alive while read
    rows = [np.frombuffer(rgb.constScanLine(y), dtype=np.uint32, count=rgb.width()).copy()
            for y in range(rgb.height())]
    pixels = np.concatenate(rows)
    assert np.unique(pixels).size > 50
    bull = QtGui.QColor(chart.panes.theme.bull).rgb() & 0xFFFFFF
    assert np.count_nonzero((pixels & 0xFFFFFF) == bull) > 100


# -- toolbar, labels, themes ----------------------------------------------------------------
def test_interval_combo_emits_only_on_user_choice(chart, qtbot):
    assert chart.toolbar.interval.currentText() == "1d"        # shown before the app offers any
    emitted: list[str] = []
    chart.interval_requested.connect(emitted.append)
    chart.set_intervals(["1d", "1wk", "1mo"], "1d")
    assert emitted == [] and chart.toolbar.interval.currentText() == "1d"
    combo = chart.toolbar.interval
    combo.setFocus()
    with qtbot.waitSignal(chart.interval_requested, timeout=2000) as blocker:
        qtbot.keyClick(combo, QtCore.Qt.Key.Key_Down)
    assert blocker.args == ["1wk"]


def test_source_and_forming_bar_are_labelled(chart, qtbot):
    assert chart.toolbar.source.text() == "bundled replay"
    syn = synthetic_bars(400)
    chart.set_data(syn, compute_reference(syn.close, CONFIG, detail=True), CONFIG)
    assert chart.toolbar.source.text() == "synthetic"
    assert "synthetic" in chart.panes.price_legend.text
    assert not chart.toolbar.forming.isVisibleTo(chart)
    chart.set_last_bar_forming(True)
    assert chart.toolbar.forming.isVisibleTo(chart)
    assert chart.panes.candles._forming
    assert "forming" in chart.readout._title.text()
    chart.set_last_bar_forming(False)
    assert not chart.toolbar.forming.isVisibleTo(chart)


def test_real_core_bars_are_accepted(qtbot):
    bars_mod = pytest.importorskip("core.data.bars")
    syn = synthetic_bars(300)
    bars = bars_mod.Bars(syn.symbol, syn.interval, syn.timestamps, syn.open, syn.high, syn.low,
                         syn.close, syn.volume, tz="America/New_York", source="bundled")
    chart = ChartWidget()
    qtbot.addWidget(chart)
    result = compute_reference(np.array(bars.close), CONFIG, detail=True)
    chart.set_data(bars, result, CONFIG)
    assert chart.readout_at(-1)["close"] == syn.close[-1]
    assert chart.toolbar.source.text() == "bundled replay"


def test_threshold_lines_are_drawn_at_the_configured_levels(qtbot, aapl):
    bars, _ = aapl
    cfg = ATCConfig(long_threshold=0.3, short_threshold=-0.5)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(1200, 800)
    chart.show()
    chart.set_data(bars, compute_reference(bars.close, cfg, detail=True), cfg)
    qtbot.waitExposed(chart)
    p = chart.panes
    assert p.long_line.value() == 0.3 and p.short_line.value() == -0.5
    image = _pixels(chart.grab().toImage())
    vb = p.signal.getViewBox()
    x0, x1 = chart.x_range()
    for line, color in ((p.long_line, chart.panes.theme.threshold_long),
                        (p.short_line, chart.panes.theme.threshold_short)):
        rect = line.boundingRect()
        assert rect.left() <= x0 and rect.right() >= x1            # spans the whole view
        y = chart.panes.view.mapTo(chart, chart.panes.view.mapFromScene(
            vb.mapViewToScene(QtCore.QPointF((x0 + x1) / 2, line.value())))).y()
        rgb = QtGui.QColor(color).rgb() & 0xFFFFFF
        hits = ((image[y - 1:y + 2] & 0xFFFFFF) == rgb).any(axis=0).sum()
        assert hits > 200, color                                    # a dashed line across


def test_keyboard_steps_the_crosshair(chart, qtbot, aapl):
    bars, _ = aapl
    n = len(bars)
    chart.setFocus()
    qtbot.keyClick(chart, QtCore.Qt.Key.Key_Left)
    assert chart.crosshair.bar == n - 2
    qtbot.keyClick(chart, QtCore.Qt.Key.Key_Left, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert chart.crosshair.bar == n - 12
    assert chart.readout.text("close") == f"{bars.close[n - 12]:,.3f}"
    qtbot.keyClick(chart, QtCore.Qt.Key.Key_Home)
    assert chart.crosshair.bar == 0 and chart.x_range()[0] <= 0 <= chart.x_range()[1]
    qtbot.keyClick(chart, QtCore.Qt.Key.Key_Escape)
    assert chart.crosshair.bar == -1


def test_theme_switch_recolours_items(chart):
    chart.set_theme("light")
    assert chart.theme == "light"
    assert chart.panes.view.backgroundBrush().color().name() == "#ffffff"
    chart.set_theme("dark")
    assert chart.panes.view.backgroundBrush().color().name() == "#131722"
    with pytest.raises(ValueError):
        chart.set_theme("neon")


def test_result_without_detail_is_refused(qtbot, aapl):
    bars, _ = aapl
    chart = ChartWidget()
    qtbot.addWidget(chart)
    with pytest.raises(ValueError, match="detail=True"):
        chart.set_data(bars, compute_reference(bars.close, CONFIG, detail=False), CONFIG)
