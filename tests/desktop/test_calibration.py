"""Calibration view: one family's nine member MAs instead of the six family lines, each
coloured by its crossover state, the family's row of the weights table highlighted and
its vote in the legend. Expected values come from core.atc.compute_reference."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from atc_desktop.chart import ChartWidget
from atc_desktop.chart.sample import bundled_bars
from atc_desktop.chart.theme import BEAR, BULL, NEUTRAL
from core.atc import compute_reference
from core.config import FAMILIES, ATCConfig
from core.data import Bars

CONFIG = ATCConfig()


@pytest.fixture(scope="module")
def aapl() -> tuple[Bars, Any]:
    bars = bundled_bars("AAPL")
    return bars, compute_reference(bars.close, CONFIG, detail=True)


@pytest.fixture
def chart(qtbot: Any, aapl: Any) -> ChartWidget:
    bars, result = aapl
    widget = ChartWidget()
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    widget.set_data(bars, result, CONFIG)
    qtbot.waitExposed(widget)
    return widget


def classes(states: np.ndarray) -> np.ndarray:
    return np.where(states > 0, BULL, np.where(states < 0, BEAR, NEUTRAL))


@pytest.mark.parametrize("family", ["EMA", "WMA", "KAMA"])
def test_members_replace_the_family_lines(chart: ChartWidget, aapl: Any, family: str) -> None:
    _, ref = aapl
    f = FAMILIES.index(family)
    chart.set_calibration(family)
    p = chart.panes
    assert chart.calibration == family
    assert not any(line.isVisible() for line in p.ma_lines.values())
    for k, line in enumerate(p.member_lines):
        row = f * 9 + k                           # family-major, spec §4.1 member order
        assert line.isVisible()
        np.testing.assert_array_equal(line.values, ref.mas[row])
        cls = line._level(1).cls                  # segment i → i+1 takes the state at i+1
        drawn = cls != -1
        np.testing.assert_array_equal(cls[drawn], classes(ref.states[row, 1:])[drawn])
    # Coloured in the family's own state colours.
    fam = p.theme.family(family)
    assert [pen.color().name() for pen in p.member_lines[0]._pens] == [fam.bull, fam.bear, fam.flat]
    assert chart.toolbar.calibration.currentData() == family
    assert not chart.toolbar.ma_buttons["EMA"].isEnabled()


def test_weights_row_highlighted_and_vote_in_the_legend(chart: ChartWidget, aapl: Any) -> None:
    bars, ref = aapl
    f = FAMILIES.index("DEMA")
    chart.set_calibration("DEMA")
    w = chart.weights
    assert w.highlighted_family() == f
    assert w.item(f, 0).background().color() != w.item(0, 0).background().color()
    assert w.item(0, 0).foreground().color().alpha() < 255 == w.item(f, 0).foreground().color().alpha()
    assert w.verticalHeaderItem(f).font().bold()
    assert chart.bottom_height() > 0                 # the weights are on screen
    lengths = CONFIG.member_lengths()[f]
    for i in (len(bars) - 1, len(bars) - 300):
        if i != len(bars) - 1:
            chart.crosshair.move_to(i, 0, float(bars.close[i]))
        text = chart.panes.price_legend.text
        states, eq = ref.states[f * 9:f * 9 + 9, i], ref.equities[f * 9:f * 9 + 9, i]
        n_long, n_short = int((states > 0).sum()), int((states < 0).sum())
        share = eq[states > 0].sum() / eq.sum()
        assert f"{n_long} long ({share * 100:.0f}%)" in text
        assert f"{n_short} short" in text
        assert f"DEMA_Signal</span>&nbsp;<span style=\"color:" in text
        assert f"{ref.signals[f, i]:+.2f}" in text
        for k in range(9):
            assert f">{lengths[k]}</span>" in text
        # The family's vote is what F_Signal is (spec §7), to its rounding.
        assert ref.signals[f, i] == pytest.approx(((states * eq).sum()) / eq.sum(), abs=0.005)
        np.testing.assert_array_equal(chart.member_values(i), ref.mas[f * 9:f * 9 + 9, i])


def test_back_to_the_six_families(chart: ChartWidget) -> None:
    chart.set_ma_visible("LSMA", False)
    chart.set_calibration("HMA")
    chart.set_calibration(None)
    p = chart.panes
    assert chart.calibration is None
    assert not any(line.isVisible() for line in p.member_lines)
    assert [p.ma_lines[f].isVisible() for f in FAMILIES] == [f != "LSMA" for f in FAMILIES]
    assert chart.weights.highlighted_family() is None
    assert chart.toolbar.ma_buttons["EMA"].isEnabled()
    assert "members" not in p.price_legend.text


def test_toolbar_choice_switches_calibration(chart: ChartWidget, qtbot: Any) -> None:
    combo = chart.toolbar.calibration
    combo.setFocus()
    with qtbot.waitSignal(chart.toolbar.calibration_requested, timeout=2000) as blocker:
        qtbot.keyClick(combo, QtCore.Qt.Key.Key_Down)
    assert blocker.args == ["EMA"]
    assert chart.calibration == "EMA"
    qtbot.keyClick(combo, QtCore.Qt.Key.Key_Up)
    assert chart.calibration is None


def test_live_update_moves_the_members(chart: ChartWidget, aapl: Any) -> None:
    bars, _ = aapl
    chart.set_calibration("LSMA")
    c = bars.close.copy()
    c[-1] *= 1.04
    revised = Bars(bars.symbol, bars.interval, bars.timestamps, bars.open, np.maximum(bars.high, c),
                   bars.low, c, bars.volume, bars.tz, bars.source, bars.synthetic)
    ref = compute_reference(revised.close, CONFIG, detail=True)
    chart.update_data(revised, ref)
    f = FAMILIES.index("LSMA")
    for k, line in enumerate(chart.panes.member_lines):
        np.testing.assert_array_equal(line.values, ref.mas[f * 9 + k])


def test_unknown_family_is_refused(chart: ChartWidget) -> None:
    with pytest.raises(ValueError, match="unknown family 'SMA': choose one of EMA, HMA"):
        chart.set_calibration("SMA")
    assert chart.calibration is None


def test_calibration_png_says_what_it_shows(chart: ChartWidget, tmp_path: Any) -> None:
    chart.set_calibration("KAMA")
    assert chart.png_title().endswith("ATC, KAMA members (calibration)")
    size = chart.export_png(tmp_path / "cal.png", (1280, 720))
    assert (size.width(), size.height()) == (1280, 720)
    assert not QtGui.QImage(str(tmp_path / "cal.png")).isNull()
