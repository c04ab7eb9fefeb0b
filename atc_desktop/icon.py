"""The application icon: the PNG renderings of resources/icons/atc-desktop.svg (the same
icon as the desktop entry)."""
from __future__ import annotations

from PySide6.QtGui import QIcon

from core.paths import resource_path

SIZES = (16, 24, 32, 48, 64, 128, 256)
_icon: QIcon | None = None


def app_icon() -> QIcon:
    global _icon
    if _icon is None:
        icon = QIcon()
        for size in SIZES:
            path = resource_path("icons", f"atc-desktop-{size}.png")
            if path.is_file():
                icon.addFile(str(path))
        _icon = icon
    return _icon
