"""Entry point of ``atc-desktop`` (and ``python -m atc_desktop``).

Sets up, in this order: the user's folders, ``NUMBA_CACHE_DIR`` (before numba is imported),
logging to a rotating file and to the log dock, the crash handlers, the QApplication, the
session and the main window; then starts the JIT warm-up and the first refresh in the
background and runs the event loop.
"""
from __future__ import annotations

import argparse
import faulthandler
import logging
import logging.handlers
import os
import sys
import time
from typing import Any, Sequence, cast

from atc_desktop.paths import AppPaths

_T0 = time.time()                       # for --exit-when-painted (the start-up benchmark)
log = logging.getLogger("atc_desktop")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="atc-desktop", description="ATC trading monitor")
    p.add_argument("--home", help="keep config, data, cache and logs under this folder "
                                  "(default: the user's folders; or $ATC_DESKTOP_HOME)")
    p.add_argument("--theme", choices=("dark", "light"), help="override the saved theme")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not compile numba's screening kernels in the background at start")
    p.add_argument("--warm-cache", action="store_true",
                   help="compile numba's screening kernels into the cache folder and exit "
                        "(make app does this after installing)")
    p.add_argument("--exit-when-painted", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--exit-when-charted", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def prepare_environment(paths: AppPaths) -> None:
    """Numba reads its cache folder when first imported: point it at the user cache dir
    (unless the user chose one) before anything imports numba."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(paths.numba_cache))


def setup_logging(paths: AppPaths) -> Any:
    """Rotating file in the user log dir + the Qt handler the log dock shows; yfinance's
    repeats collapsed into one line with a count (``RepeatFilter``)."""
    from atc_desktop.log_dock import QtLogHandler, RepeatFilter

    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(paths.log_file, maxBytes=2_000_000,
                                                        backupCount=3, encoding="utf-8")
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(fmt)
    qt_handler = QtLogHandler(logging.INFO)
    repeats = RepeatFilter()
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in (file_handler, console, qt_handler):
        h.addFilter(repeats)
        root.addHandler(h)
    logging.getLogger("numba").setLevel(logging.WARNING)
    return qt_handler


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.home:
        # core (generated kernels, the CLI's store) follows the same home.
        os.environ["ATC_DESKTOP_HOME"] = str(args.home)
    paths = AppPaths.resolve(args.home).ensure()
    prepare_environment(paths)
    if args.warm_cache:
        return warm_cache()
    crash_file = open(paths.log_dir / "crash.log", "a", encoding="utf-8")  # noqa: SIM115 - kept open
    faulthandler.enable(crash_file)     # a hard crash (segfault) still leaves a trace

    from PySide6.QtWidgets import QApplication

    from atc_desktop.guard import install_excepthook
    from atc_desktop.main_window import MainWindow
    from atc_desktop.session import AppSession

    qt_handler = setup_logging(paths)
    install_excepthook()
    app = cast(QApplication, QApplication.instance() or QApplication(list(sys.argv[:1])))
    app.setApplicationName("atc-desktop")
    app.setApplicationDisplayName("ATC Desktop")
    app.setOrganizationName("atc-desktop")
    app.setDesktopFileName("atc-desktop")   # Wayland matches windows to the desktop entry
    log.info("ATC Desktop starting; config %s, data %s, logs %s", paths.config_dir, paths.data_dir,
             paths.log_dir)

    session = AppSession(paths)
    if args.theme:
        session.set_theme(args.theme)
    window = MainWindow(session, qt_handler)
    window.show()
    if args.exit_when_painted or args.exit_when_charted:
        _exit_when_painted(window, chart=args.exit_when_charted)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: session.start(warm=not args.no_warmup))
    _close_on_signals(window)
    rc = int(app.exec())
    if args.exit_when_painted:
        # Let a kernel still compiling in the background reach numba's on-disk cache: the
        # next launch in this profile then starts warm instead of compiling it again.
        session.registry.wait_prepared(timeout=600)
    session.shutdown()
    log.info("ATC Desktop closed (exit code %d)", rc)
    return rc


def _close_on_signals(window: Any) -> None:
    """Ctrl+C / SIGTERM close the window the normal way (layout and alerts saved)."""
    import signal

    from PySide6.QtCore import QTimer

    def close(*_args: Any) -> None:
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close)
    # Python runs signal handlers only between bytecodes: wake the interpreter regularly.
    tick = QTimer(window)
    tick.timeout.connect(lambda: None)
    tick.start(250)


def warm_cache() -> int:
    """``--warm-cache``: build numba's screening kernels in the cache folder, say where.
    At a lower CPU priority: started by the app on a first start, it must not slow the
    window down (alone, as after ``make app``, it makes no difference)."""
    from atc_desktop.kernel_cache import cache_folder, warm

    if hasattr(os, "nice"):
        os.nice(10)
    try:
        seconds = warm()
    except Exception as exc:            # one line, as every command of the project
        print(f"atc-desktop: error: cannot compile the screening kernels: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    print(f"screening kernels ready in {seconds:.1f} s (cache {cache_folder()})", flush=True)
    return 0


def _exit_when_painted(window: Any, chart: bool = False) -> None:
    """Benchmark hook: once a refresh has put values in the watchlist, paint the table,
    print the seconds since the process began, and quit; with ``chart``, first select the
    first symbol with values and wait for its chart to be painted too."""
    from PySide6.QtWidgets import QApplication

    session = window.session

    def stamp(what: str) -> None:
        print(f"{what} {time.time():.6f} {time.time() - _T0:.6f}", flush=True)

    def done() -> None:
        window.close()
        QApplication.quit()

    fired = False

    def check(_outcome: Any) -> None:
        nonlocal fired
        ready = [s.symbol for s in session.model.states() if s.has_values]
        if not ready or fired:
            return
        fired = True
        window.watchlist.table.viewport().repaint()
        stamp("painted")
        if not chart:
            # A compile still running in the background reaches numba's cache first: the
            # next launch in this profile starts warm.
            session.kernels.stop(wait_ms=600_000)
            done()
            return
        session.analysis.analysed.connect(charted)
        window.watchlist.select_symbol(ready[0])

    def charted(_outcome: Any) -> None:
        window.chart_pane.chart().repaint()
        stamp("charted")
        done()

    session.refresh.refreshed.connect(check)


if __name__ == "__main__":
    sys.exit(main())
