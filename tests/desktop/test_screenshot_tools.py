"""The documentation screenshot tools live in tools/, outside the installed packages, and
still write where the docs read them."""
from __future__ import annotations

import os
import pkgutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtGui

import atc_desktop
from tests.conftest import REPO
from tools import chart_screenshot, screenshots


def test_no_screenshot_module_ships_in_the_app_package():
    names = [m.name for m in pkgutil.walk_packages(atc_desktop.__path__, "atc_desktop.")]
    assert "atc_desktop.chart.widget" in names          # the walk does reach subpackages
    assert [n for n in names if "screenshot" in n] == []


def test_default_outputs_are_the_docs_folder():
    assert screenshots.OUT == REPO / "docs" / "screenshots"
    assert chart_screenshot.OUT == REPO / "docs" / "screenshots" / "chart.png"


def test_chart_screenshot_writes_a_png_of_the_requested_size(qapp, tmp_path: Path):
    out = chart_screenshot.render(tmp_path / "shots" / "chart.png", width=640, height=400,
                                  crosshair_bar=-10, visible=60)
    image = QtGui.QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == (640, 400)
    # Something was painted: the candles and lines give many distinct colours.
    colours = {image.pixel(x, y) for x in range(0, 640, 8) for y in range(0, 400, 8)}
    assert len(colours) > 20
