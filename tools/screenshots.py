"""Render the documentation screenshots from the real app: ``python -m tools.screenshots
[OUT_DIR]`` writes main_window.png (1600×1000), main_window_1024x700.png (the smallest
window the layout is made for), calibration.png (the chart's calibration view),
settings.png and backends.png (offscreen works; the platform plugin is forced to
``offscreen`` unless one is set).

The app runs in a temporary profile on the bundled data in replay mode, refreshes a few
times so the replay moves, and charts AAPL — exactly what a first start shows.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
#: Window sizes photographed, largest first.
WINDOW_SIZES: dict[str, tuple[int, int]] = {"main_window.png": (1600, 1000),
                                            "main_window_1024x700.png": (1024, 700)}


def wait_until(app: object, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the state to photograph in time")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)


def render(out_dir: Path = OUT, theme: str = "dark") -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="atc-shots-"))
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "atc-desktop" / "numba"))
    from PySide6.QtWidgets import QApplication, QLineEdit

    from atc_desktop.app import setup_logging
    from atc_desktop.main_window import MainWindow
    from atc_desktop.paths import AppPaths
    from atc_desktop.session import AppSession

    app = QApplication.instance() or QApplication(sys.argv[:1])
    paths = AppPaths.resolve(home).ensure()
    handler = setup_logging(paths)
    session = AppSession(paths)
    window = MainWindow(session, handler)
    window.apply_theme(theme)
    window.resize(*WINDOW_SIZES["main_window.png"])
    window.show()
    session.start()
    model = session.model
    wait_until(app, lambda: any(s.has_values for s in model.states()))
    for _ in range(3):                       # a few replay days so the bars move
        session.refresh.request(fetch=True)
        wait_until(app, lambda: not session.refresh.busy)
    window.watchlist.select_symbol("AAPL")
    wait_until(app, lambda: session.analysis.last_outcome is not None and window.layout_ready)
    for _ in range(20):
        app.processEvents()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(widget: object, name: str) -> None:
        path = out_dir / name
        if not widget.grab().toImage().save(str(path), "PNG"):  # type: ignore[attr-defined]
            raise OSError(f"could not write {path}")
        written.append(path)

    chart = window.chart_pane.chart()

    def settle() -> None:
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)

    for name, size in WINDOW_SIZES.items():
        window.resize(*size)
        settle()
        save(window, name)
    window.resize(*WINDOW_SIZES["main_window.png"])
    settle()
    chart.set_calibration("EMA")
    data = chart.data
    if data is not None and data.result.states is not None:
        # The latest bar where the EMA members disagree: the view's point.
        longs = (data.result.states[:9] > 0).sum(axis=0)
        split = [i for i in range(data.n - 1, max(data.n - 150, 0), -1) if 0 < longs[i] < 9]
        bar = split[0] if split else data.n - 1
        chart.crosshair.move_to(bar, 0, float(data.bars.close[bar]))
    settle()
    save(window.chart_pane, "calibration.png")
    chart.set_calibration(None)
    chart.crosshair.hide()
    dock = window.settings_dock
    dock.setFloating(True)            # photographed on its own, at a readable size
    dock.resize(900, 1180)
    dock.show()
    window.settings_tabs.setCurrentIndex(0)
    lam = window.settings_panel.editor("La").widget
    assert isinstance(lam, QLineEdit)
    lam.setText("0.9")                # an inline validation message
    window.settings_panel.apply_now()
    for _ in range(10):
        app.processEvents()
    save(dock, "settings.png")
    window.settings_panel.restore_defaults()
    # Ask for a backend that is not here: the fallback log then shows what happened.
    window.settings_panel.backend.setCurrentText("cuda")
    window.settings_panel.apply_now()
    window.session.analysis.recompute()
    try:       # the chart's incremental path may answer without asking the backend
        wait_until(app, lambda: window.backends.fallback_table.rowCount() > 0, timeout_s=20)
    except TimeoutError:
        pass
    window.settings_tabs.setCurrentIndex(1)
    dock.resize(900, 420)
    wait_until(app, lambda: window.backends.status_table.rowCount() > 0)
    for _ in range(10):
        app.processEvents()
    save(dock, "backends.png")
    window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for path in render(Path(args[0]) if args else OUT, args[1] if len(args) > 1 else "dark"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
