"""Window geometry, dock arrangement, table column state and the view state a user expects
back (last charted symbol, CSV folder, export folder, chart pane proportions), kept in an
INI file (QSettings) in the config dir and restored on the next start."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QSettings

#: Bump when the docks change so an old arrangement is not forced onto new docks.
LAYOUT_VERSION = 1
#: View state saved beside the layout, each a string (``window.view_state()``).
VIEW_KEYS: tuple[str, ...] = ("last_symbol", "csv_folder", "export_dir", "pane_proportions",
                              "chart_bottom_px")


def _settings(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


def _saved(path: Path, key: str) -> QByteArray | None:
    q = _settings(path)
    if int(str(q.value("version", 0) or 0)) != LAYOUT_VERSION:
        return None
    value = q.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def _headers(window: Any) -> dict[str, Any]:
    return {"watchlist_header": window.watchlist.table.horizontalHeader(),
            "alerts_header": window.alerts_table.horizontalHeader()}


def save_layout(window: Any, path: Path) -> None:
    q = _settings(path)
    q.setValue("version", LAYOUT_VERSION)
    q.setValue("geometry", window.saveGeometry())
    q.setValue("state", window.saveState(LAYOUT_VERSION))
    for key, header in _headers(window).items():
        q.setValue(key, header.saveState())
    for key, value in window.view_state().items():
        if key in VIEW_KEYS:
            if value:
                q.setValue(key, str(value))
            else:
                q.remove(key)
    q.sync()


def saved_view_state(path: Path) -> dict[str, str]:
    """The view state of the last session (only keys it saved; nothing from another
    layout version)."""
    q = _settings(path)
    if int(str(q.value("version", 0) or 0)) != LAYOUT_VERSION:
        return {}
    return {key: str(q.value(key)) for key in VIEW_KEYS if q.contains(key)}


def restore_geometry(window: Any, path: Path) -> None:
    """Size and position (before the window is shown, so it opens where it was)."""
    geometry = _saved(path, "geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)


def restore_layout(window: Any, path: Path) -> bool:
    """Docks and column state of the last session; False when nothing was restored."""
    restorers: dict[str, Callable[[QByteArray], bool]] = {
        "state": lambda b: window.restoreState(b, LAYOUT_VERSION)}
    restorers.update({key: header.restoreState for key, header in _headers(window).items()})
    ok = False
    for key, restore in restorers.items():
        value = _saved(path, key)
        if value is not None:
            ok = bool(restore(value)) or ok
    return ok
