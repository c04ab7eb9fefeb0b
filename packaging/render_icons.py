"""Render ``resources/icons/atc-desktop.svg`` to the PNG sizes a Linux desktop uses.

Run after editing the SVG (the PNGs are committed, so builds need no SVG renderer):

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
#: freedesktop hicolor sizes; 256 is also the plain ``atc-desktop.png`` the app bundle ships.
SIZES: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """One ``atc-desktop-N.png`` per size, plus ``atc-desktop.png`` (256 px)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    assert app is not None                      # painting needs a GUI application object
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        targets = [out_dir / f"atc-desktop-{size}.png"]
        if size == 256:
            targets.append(out_dir / "atc-desktop.png")
        for target in targets:
            if not image.save(str(target)):            # format from the .png suffix
                raise SystemExit(f"cannot write {target}")
            written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=ICONS / "atc-desktop.svg")
    parser.add_argument("--out", type=Path, default=ICONS)
    args = parser.parse_args()
    for path in render(args.svg, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
