"""The chart's items and helpers on their own: level of detail, visible-range painting,
incremental updates equal to a rebuild, axes, grid, markers, and the PySide workaround."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore

from atc_desktop.chart import candles_item, trend_line_item, volume_item
from atc_desktop.chart.axis import BarTimeAxisItem, CompactAxisItem
from atc_desktop.chart.cached_item import LevelCachedItem
from atc_desktop.chart.candles_item import CandlesItem
from atc_desktop.chart.data import is_intraday, local_times, sign_classes, state_classes
from atc_desktop.chart.geometry import bucket_ohlc, lod_factor, visible_bars
from atc_desktop.chart.sample import synthetic_bars
from atc_desktop.chart.theme import BEAR, BULL, NEUTRAL
from atc_desktop.chart.trend_line_item import NO_CLASS, TrendLineItem
from atc_desktop.chart.volume_item import VolumeItem


# -- geometry helpers ---------------------------------------------------------------------
@pytest.mark.parametrize("px, want", [(10.0, 1), (3.0, 1), (2.9, 2), (1.0, 4), (0.3, 16), (0.01, 512)])
def test_lod_factor_is_the_smallest_power_of_two_wide_enough(px, want):
    k = lod_factor(px, 3.0)
    assert k == want
    assert k * px >= 3.0 or k == 1


def test_bucket_ohlc_matches_a_loop():
    b = synthetic_bars(1003, seed=3)
    for k in (1, 2, 8, 64):
        for start_bucket in (0, 5):
            first, last, o, h, lo, c = bucket_ohlc(b.open, b.high, b.low, b.close, k, start_bucket * k)
            starts = range(start_bucket * k, 1003, k)
            assert first.tolist() == list(starts)
            for j, s in enumerate(starts):
                e = min(s + k, 1003)
                assert last[j] == e - 1
                assert o[j] == b.open[s] and c[j] == b.close[e - 1]
                assert h[j] == b.high[s:e].max() and lo[j] == b.low[s:e].min()


def test_visible_bars_clamps_to_the_data():
    assert visible_bars(QtCore.QRectF(-50, 0, 30, 1), 100, 0) == (0, 0)
    assert visible_bars(QtCore.QRectF(10.2, 0, 20, 1), 100, 0) == (10, 31)
    assert visible_bars(QtCore.QRectF(90, 0, 50, 1), 100, 1) == (89, 100)
    assert visible_bars(None, 7) == (0, 7)


def test_classes():
    np.testing.assert_array_equal(sign_classes(np.array([0.5, 0.0, -0.2, np.nan])),
                                  [BULL, BEAR, BEAR, NEUTRAL])
    np.testing.assert_array_equal(state_classes(np.array([1, 0, -1], dtype=np.int8)), [BULL, NEUTRAL, BEAR])
    assert is_intraday("1h") and is_intraday("90m") and is_intraday("1m")
    assert not is_intraday("1d") and not is_intraday("1mo") and not is_intraday("1wk")


def test_local_times_follow_daylight_saving():
    # 2021-03-12 and 2021-03-15 at 14:30 UTC: New York switches from UTC−5 to UTC−4 between them.
    ts = np.array(["2021-03-12T14:30", "2021-03-15T14:30"], dtype="datetime64[ns]").astype(np.int64)
    local = local_times(ts, "America/New_York").view("datetime64[ns]")
    assert str(local[0])[:16] == "2021-03-12T09:30" and str(local[1])[:16] == "2021-03-15T10:30"
    assert (local_times(ts, "Not/AZone") == ts).all()   # unknown zone: shown in UTC


# -- incremental updates equal a rebuild ---------------------------------------------------
def _levels(item: object, ks: tuple[int, ...]) -> dict:
    return {k: item._level(k) for k in ks}   # type: ignore[attr-defined]


@pytest.mark.parametrize("append", [0, 1, 3])
def test_tail_updates_equal_a_rebuild(qapp, append):
    full = synthetic_bars(777, seed=5)
    n0 = 777 - append
    revised_close = full.close.copy()
    revised_close[n0 - 1] *= 1.01      # the previous last bar changed too (it was forming)
    cls = sign_classes(np.sin(np.arange(777) / 17.0))
    ks = (1, 2, 8, 32)

    inc, ref = CandlesItem(), CandlesItem()
    inc.set_data(full.open[:n0], full.high[:n0], full.low[:n0], full.close[:n0], cls[:n0])
    _levels(inc, ks)                    # caches exist before the update
    inc.update_tail(full.open, full.high, full.low, revised_close, cls, n0 - 1)
    ref.set_data(full.open, full.high, full.low, revised_close, cls)
    for k in ks:
        a, b = inc._level(k), ref._level(k)
        for name in ("body", "wick_hi", "wick_lo", "cls", "filled"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{name} k={k}")
    assert inc._bounds == ref._bounds       # the kept range of the unchanged bars is still right

    up = revised_close >= full.open
    vinc, vref = VolumeItem(), VolumeItem()
    vinc.set_data(full.volume[:n0], up[:n0])
    _levels(vinc, ks)
    vinc.update_tail(full.volume, up, n0 - 1)
    vref.set_data(full.volume, up)
    for k in ks:
        for x, y in zip(vinc._level(k), vref._level(k)):
            np.testing.assert_array_equal(x, y)
    assert vinc._bounds == vref._bounds

    y = full.close.copy()
    y[:30] = np.nan                     # an MA's warm-up
    linc, lref = TrendLineItem(), TrendLineItem()
    linc.set_data(y[:n0], cls[:n0])
    _levels(linc, ks)
    y2 = y.copy()
    y2[n0 - 1] += 1.0
    linc.update_tail(y2, cls, n0 - 1)
    lref.set_data(y2, cls)
    for k in ks:
        np.testing.assert_array_equal(linc._level(k).seg, lref._level(k).seg, err_msg=f"k={k}")
        np.testing.assert_array_equal(linc._level(k).cls, lref._level(k).cls, err_msg=f"k={k}")
    assert linc._bounds == lref._bounds
    # A second tick on the same bar reuses the kept range: a new high there still shows.
    y3 = y2.copy()
    y3[n0 - 1] = np.nanmax(y2) + 5.0
    linc.update_tail(y3, cls, n0 - 1)
    lref.set_data(y3, cls)
    assert linc._bounds == lref._bounds



def test_every_bar_item_shares_one_level_cache(qapp):
    """Candles, volume and lines keep their levels in one base: a tail update from the first
    bar (nothing kept) and one past the end (nothing rebuilt) both equal a rebuild."""
    b = synthetic_bars(300, seed=9)
    cls = sign_classes(np.cos(np.arange(300) / 9.0))
    up = b.close >= b.open
    makers = [(CandlesItem, lambda it: it.set_data(b.open, b.high, b.low, b.close, cls),
               lambda it, i: it.update_tail(b.open, b.high, b.low, b.close, cls, i)),
              (VolumeItem, lambda it: it.set_data(b.volume, up),
               lambda it, i: it.update_tail(b.volume, up, i)),
              (TrendLineItem, lambda it: it.set_data(b.close, cls),
               lambda it, i: it.update_tail(b.close, cls, i))]
    for cls_, set_data, update_tail in makers:
        ref = cls_()
        assert isinstance(ref, LevelCachedItem)
        set_data(ref)
        for first_changed in (0, 300):
            item = cls_()
            set_data(item)
            _levels(item, (1, 4, 64))
            update_tail(item, first_changed)
            assert sorted(item._levels) == [1, 4, 64]   # the cached levels stay cached
            for k in (1, 4, 64):
                for x, y in zip(item._level(k), ref._level(k), strict=True):
                    np.testing.assert_array_equal(x, y, err_msg=f"{cls_.__name__} k={k}")

def test_trend_line_skips_nan_and_reaches_the_last_bar(qapp):
    y = np.array([np.nan, np.nan, 1.0, 2.0, 3.0, 4.0, 5.0])
    line = TrendLineItem()
    line.set_data(y, np.array([0, 0, 0, 1, 1, 0, 1], dtype=np.int8))
    lvl = line._level(1)
    assert lvl.cls.tolist() == [NO_CLASS, NO_CLASS, 1, 1, 0, 1]
    assert np.isfinite(lvl.seg).all()
    lvl4 = line._level(4)
    assert lvl4.seg[-1, 2] == 6.0       # decimated, but the last point is kept
    assert line.dataBounds(1, orthoRange=(3, 5)) == (2.0, 4.0)


# -- painting only what is visible --------------------------------------------------------
@pytest.fixture
def counting(monkeypatch):
    """Rows handed to Qt per item module, and their x range."""
    drawn: dict[str, list[np.ndarray]] = {"candles": [], "volume": [], "lines": []}

    def spy(module: object, key: str, name: str) -> None:
        real = getattr(module, name)

        def wrapper(p, arr):
            drawn[key].append(arr.copy())
            real(p, arr)
        monkeypatch.setattr(module, name, wrapper)
    spy(candles_item, "candles", "draw_rects")
    spy(volume_item, "volume", "draw_rects")
    spy(trend_line_item, "lines", "draw_lines")
    return drawn


def test_items_paint_only_the_visible_bars(qtbot, counting):
    from atc_desktop.chart import ChartWidget
    from core.atc import compute_reference
    from core.config import ATCConfig

    bars = synthetic_bars(5000)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(1400, 800)
    chart.show()
    chart.set_data(bars, compute_reference(bars.close, ATCConfig(), detail=True), ATCConfig())
    chart.set_x_range(2000.5, 2100.5)
    for v in counting.values():
        v.clear()
    chart.panes.view.grab()
    bodies = np.concatenate(counting["candles"])
    assert 95 <= len(bodies) <= 104                  # ~100 visible bars, one margin bar each side
    centres = bodies[:, 0] + bodies[:, 2] / 2
    assert centres.min() >= 1999 and centres.max() <= 2102
    assert chart.panes.candles.last_level == 1
    segs = np.concatenate(counting["lines"])
    assert segs[:, 0].min() >= 1998 and segs[:, 2].max() <= 2103
    # Zoomed out: buckets, never more than about one per 3 pixels.
    chart.set_x_range(-0.5, 4999.5)
    for v in counting.values():
        v.clear()
    chart.panes.view.grab()
    k = chart.panes.candles.last_level
    assert k >= 8
    width_px = chart.panes.price.getViewBox().width()
    assert len(np.concatenate(counting["candles"])) <= width_px / 3 + 2
    assert len(np.concatenate(counting["volume"])) <= width_px / 3 + 2


# -- axes, grid, markers ---------------------------------------------------------------------
def test_time_axis_ticks_at_calendar_boundaries(qapp):
    days = np.arange(np.datetime64("2020-01-02"), np.datetime64("2020-12-31"))
    days = days[np.is_busday(days)]
    ts = days.astype("datetime64[ns]").astype(np.int64)
    axis = BarTimeAxisItem()
    axis.set_times(ts, intraday=False)
    (spacing, ticks), = axis.tickValues(0, len(ts) - 1, 1200)
    months = days.astype("datetime64[M]")
    want = np.flatnonzero(months[1:] != months[:-1]) + 1
    np.testing.assert_array_equal(np.array(ticks, dtype=int), want)
    labels = axis.tickStrings(ticks, 1.0, spacing)
    assert labels[:3] == ["Feb", "Mar", "Apr"]
    assert axis.tickValues(0, len(ts) - 1, 300)[0][1] == [float(i) for i in want[2::3]]  # quarters


def test_compact_axis_labels(qapp):
    axis = CompactAxisItem("right")
    assert axis.tickStrings([0.0, 5e6, 1.5e7, 2e9, 2500.0], 1.0, 5e6) == ["0", "5M", "15M", "2B", "2.5K"]


def test_markers_bounds_include_their_pixels(qtbot):
    from atc_desktop.chart import ChartWidget
    from core.atc import compute_reference
    from core.config import ATCConfig

    bars = synthetic_bars(600)
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(1000, 700)
    chart.show()
    result = compute_reference(bars.close, ATCConfig(), detail=True)
    chart.set_data(bars, result, ATCConfig())
    qtbot.waitExposed(chart)
    item = chart.panes.arrow_up
    idx = np.flatnonzero(result.arrow_long)
    assert idx.size and (item.positions() == idx).all()
    rect = item.boundingRect()
    assert rect.left() < idx[0] and rect.right() > idx[-1]
    assert rect.top() < bars.low[idx].min()           # room for the ▲ drawn under the low



# -- partial repaints ---------------------------------------------------------------------
class _View:
    def __init__(self, exposed):
        self.exposed = exposed


class _Item:
    def __init__(self, view):
        self._view = view

    def getViewWidget(self):  # noqa: N802 - pyqtgraph's name
        return self._view


def test_exposed_rows_are_the_boxes_that_meet_a_repainted_rect():
    from PySide6 import QtGui

    from atc_desktop.chart.exposure import exposed_rows

    img = QtGui.QImage(200, 100, QtGui.QImage.Format.Format_RGB32)
    p = QtGui.QPainter(img)
    try:
        p.setTransform(QtGui.QTransform(10.0, 0.0, 0.0, -2.0, 5.0, 90.0))   # x·10+5, 90−2·y
        # Segments i → i+1 at y = 0, 10, 20 …: device x 5+10i … 15+10i, y 90−20i … 70−20i.
        x0 = np.arange(4.0)
        y0 = 10.0 * x0
        strips = np.array([[150.0, 0.0, 160.0, 100.0],     # a right-edge strip: no segment
                           [0.0, 48.0, 200.0, 52.0]])      # a band at y 48–52: segment 1 ends at 50
        mask = exposed_rows(_Item(_View(strips)), p, (x0, x0 + 1), (y0, y0 + 10), 0.0)
        assert mask.tolist() == [False, True, True, False]   # seg 1 reaches y 50, seg 2 starts there
        assert exposed_rows(_Item(_View(None)), p, (x0, x0 + 1), (y0, y0 + 10), 0.0) is None
        # A pen's padding reaches a strip the bare boxes miss.
        edge = np.array([[47.0, 0.0, 48.0, 100.0]])
        assert not exposed_rows(_Item(_View(edge)), p, (x0, x0 + 1), (y0, y0 + 10), 0.0).any()
        assert exposed_rows(_Item(_View(edge)), p, (x0, x0 + 1), (y0, y0 + 10), 3.0).tolist() == \
            [False, False, False, True]
        p.setTransform(QtGui.QTransform().rotate(10))        # not a plain scale: draw everything
        assert exposed_rows(_Item(_View(strips)), p, (x0, x0 + 1), (y0, y0 + 10), 0.0) is None
    finally:
        p.end()
