"""Desktop app benchmarks (2-core targets of issue 6).

* start → painted watchlist: ``python -m atc_desktop --exit-when-painted`` in a warmed
  profile (store filled, JIT caches built) with 50 symbols; measured from before the process
  is spawned to the first paint of the table with screening values (imports included).
* first start → populated watchlist and chart: ``--exit-when-charted`` in a fresh home with
  an empty numba cache (the default bundled watchlist, nothing stored, nothing compiled);
  from before the spawn until the first symbol's chart has painted. The screening runs on
  Rust while numba compiles in a separate process, which the app ends on quitting.
* refresh stall: the longest gap of a 1 ms GUI timer probe while 500 synthetic symbols of
  5,000 bars are fetched (one new bar each), screened in one EMA-only batch and applied.
* packaged start → painted watchlist: the PyInstaller bundle of ``make package``
  (``dist/ATC-Desktop``) in a home its ``--self-test`` warmed; skipped without a bundle.
* select → painted chart: selecting a 5,000-bar symbol until the chart has painted its full
  ATC (computed with detail=True on the preferred backend).

``run(repeats)`` returns the rows ``python -m benchmarks`` prints.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.timing import row

REPO = Path(__file__).resolve().parents[1]
START_SYMBOLS = 50
REFRESH_SYMBOLS = 500
BARS = 5000
DAY_NS = 86_400 * 1_000_000_000


class SteppingProvider:
    """Synthetic random walks that gain one bar per fetch (a live feed, offline)."""

    name = "synthetic"
    intervals: tuple[str, ...] = ("1d",)

    def __init__(self, count: int, bars: int, visible: int, seed: int = 11) -> None:
        rng = np.random.default_rng(seed)
        self.closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (count, bars)), axis=1))
        self.symbols = [f"SYN{i + 1:04d}" for i in range(count)]
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self.visible = visible
        self.t0 = np.datetime64("2000-01-03", "ns").astype(np.int64)

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        return {s: "not in the benchmark universe" for s in symbols if s not in self._index}

    def fetch(self, symbols: Sequence[str], interval: str = "1d", start: Any = None) -> Any:
        from core.data.bars import Bars
        from core.data.cleaning import CleaningReport
        from core.data.providers.base import FetchResult, start_ns

        out = FetchResult()
        n = min(self.visible, self.closes.shape[1])
        ts = self.t0 + np.arange(n, dtype=np.int64) * DAY_NS
        lo = 0 if start is None else int(np.searchsorted(ts, start_ns(start), side="left"))
        for s in symbols:
            c = self.closes[self._index[s], lo:n]
            out.add(Bars(s, interval, ts[lo:], c, c * 1.004, c * 0.996, c, np.full(c.size, 1e6),
                         source="synthetic", synthetic=True), CleaningReport(s, interval, c.size, c.size))
        self.visible += 1
        return out


# -- start-up (a separate process per run) ------------------------------------------------------
def _start_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               ATC_DESKTOP_HOME=str(home), NUMBA_CACHE_DIR=str(home / "cache" / "numba"))
    return env


def _prepare_start_profile(home: Path) -> None:
    """50 synthetic symbols in the watchlist, and the JIT caches of that profile built."""
    from atc_desktop.app_settings import AppSettings, SettingsFile
    from atc_desktop.paths import AppPaths
    from atc_desktop.watchlist.store import WatchlistStore

    paths = AppPaths.resolve(home).ensure()
    SettingsFile(paths.settings_file).save(AppSettings(source="synthetic", replay=False))
    WatchlistStore(paths.watchlists_file).set_symbols([f"SYN{i + 1:04d}" for i in range(START_SYMBOLS)])
    # Compile (and cache on disk) the screening kernels this profile uses, synchronously.
    code = ("import numpy as np; from core.backends.registry import Registry; "
            "from core.config import ATCConfig; r = Registry(); "
            "x = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, .02, (2, 300)), axis=1)); "
            "[r.compute_batch(x, c, tail=8, mode='ema_only', backend='numba') for c in "
            "(ATCConfig(), ATCConfig(use_codegen_specialization=False))]; r.compute(x[0], ATCConfig(), detail=True); "
            "from atc_desktop.kernel_cache import warm; warm()")
    subprocess.run([sys.executable, "-c", code], env=_start_env(home), check=True, cwd=REPO)


def _start_once(home: Path) -> float:
    t0 = time.time()
    run = subprocess.run([sys.executable, "-m", "atc_desktop", "--exit-when-painted"],
                         env=_start_env(home), capture_output=True, text=True, timeout=600, cwd=REPO)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("painted ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"atc-desktop did not paint: rc={run.returncode}\n{run.stderr[-2000:]}")
    return float(line.split()[1]) - t0


def _first_start_once(home: Path) -> tuple[float, float]:
    """(seconds to the painted watchlist, seconds to the painted chart) of one first start."""
    env = dict(_start_env(home), NUMBA_CACHE_DIR=str(home / "empty-numba-cache"))
    t0 = time.time()
    run = subprocess.run([sys.executable, "-m", "atc_desktop", "--exit-when-charted"],
                         env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    stamps = {ln.split()[0]: float(ln.split()[1]) - t0 for ln in run.stdout.splitlines()
              if ln.startswith(("painted ", "charted "))}
    if run.returncode != 0 or "charted" not in stamps:
        crash = home / "log" / "crash.log"          # faulthandler's stacks of a hard crash
        raise RuntimeError(f"atc-desktop did not chart: rc={run.returncode}\n{run.stdout[-500:]}"
                           f"\n{run.stderr[-2000:]}\n"
                           f"{crash.read_text()[-4000:] if crash.exists() else ''}")
    return stamps["painted"], stamps["charted"]


def bench_first_start(repeats: int) -> dict:
    """A fresh home each time: empty store, empty numba cache, the default watchlist."""
    painted, charted = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="atc-first-start-") as tmp:
            p, c = _first_start_once(Path(tmp))
        painted.append(p)
        charted.append(c)
    return row("first start on a fresh home (empty numba cache) → populated watchlist and chart",
               "rust", statistics.median(charted), 3.0,
               f"spawn to the first chart painted; watchlist painted after "
               f"{statistics.median(painted):.2f} s; screening on rust while numba compiles in "
               f"the background; max {max(charted):.2f} s")


def bench_start(repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="atc-app-bench-") as tmp:
        home = Path(tmp)
        _prepare_start_profile(home)
        _start_once(home)                      # fills the bar store: the caches are warm now
        times = [_start_once(home) for _ in range(repeats)]
    return row(f"app start → painted watchlist ({START_SYMBOLS} symbols)", "numba",
               statistics.median(times), 2.0,
               f"process spawn to first paint with values; warm store and JIT caches; "
               f"max {max(times):.2f} s")


def bench_bundle_start(repeats: int, app_dir: Path = REPO / "dist" / "ATC-Desktop") -> dict:
    """The installed app's start: the bundle run as a user runs it (no PYTHONPATH, no numba
    cache choice), after one self-test and one start filled its caches and store."""
    workload = "packaged app start → painted watchlist (bundled watchlist, warm caches)"
    exe = app_dir / "ATC-Desktop"
    if not exe.exists():
        return row(workload, "numba", None, 3.0, f"no bundle at {exe.parent}: run `make package` first")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "ATC_DESKTOP_HOME", "DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory(prefix="atc-bundle-bench-") as tmp:
        home = Path(tmp)
        subprocess.run([str(exe), "--self-test", "--home", str(home)], env=env, cwd=home,
                       capture_output=True, check=True, timeout=600)
        times = []
        for i in range(repeats + 1):                 # the first start stores the bars
            t0 = time.time()
            run = subprocess.run([str(exe), "--home", str(home), "--exit-when-painted"], env=env,
                                 cwd=home, capture_output=True, text=True, timeout=600)
            line = next((ln for ln in run.stdout.splitlines() if ln.startswith("painted ")), None)
            if run.returncode != 0 or line is None:
                raise RuntimeError(f"the bundle did not paint: rc={run.returncode}\n{run.stderr[-2000:]}")
            if i:
                times.append(float(line.split()[1]) - t0)
    return row(workload, "numba", statistics.median(times), 3.0,
               f"executable spawn to first paint with values; max {max(times):.2f} s")


# -- in-process: refresh stall and chart selection ----------------------------------------------
class StallProbe:
    """A 1 ms timer on the GUI thread; the longest gap between its ticks is the stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer, Qt

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0

    def start(self) -> None:
        self.worst = 0.0
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.001)
        self.last = now


def wait_for(app: Any, signal: Any, timeout_s: float = 120.0) -> list[Any]:
    """Run the event loop until ``signal`` fires; returns its arguments."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[Any] = []

    def fired(*args: Any) -> None:
        got.extend(args)
        loop.quit()

    signal.connect(fired)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(fired)
    if not got:
        raise TimeoutError(f"no signal within {timeout_s} s")
    return got


def settle(app: Any, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def _window(home: Path, provider: SteppingProvider) -> tuple[Any, Any]:
    from PySide6.QtWidgets import QApplication

    from atc_desktop.main_window import MainWindow
    from atc_desktop.paths import AppPaths
    from atc_desktop.session import AppSession
    from atc_desktop.watchlist.store import WatchlistStore
    from core.backends.registry import Registry

    app = QApplication.instance() or QApplication(sys.argv[:1])
    paths = AppPaths.resolve(home).ensure()
    WatchlistStore(paths.watchlists_file).set_symbols(provider.symbols)
    session = AppSession(paths, registry=Registry(), provider=provider)
    window = MainWindow(session)
    window.resize(1440, 900)
    window.show()
    settle(app, 0.3)
    return app, window


def bench_in_process(repeats: int) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    provider = SteppingProvider(REFRESH_SYMBOLS, BARS + repeats + 8, visible=BARS - 4)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="atc-app-bench-") as tmp:
        app, window = _window(Path(tmp), provider)
        session = window.session
        try:
            probe = StallProbe()
            for _ in range(3):                 # store filled, kernels loaded, cells formatted
                session.refresh.request(fetch=True)
                wait_for(app, session.refresh.refreshed)
            stalls, backend = [], ""
            for _ in range(repeats):
                probe.start()
                session.refresh.request(fetch=True)
                out = wait_for(app, session.refresh.refreshed)[0]
                settle(app, 0.05)                  # repaint after the update
                stalls.append(probe.stop())
                backend = out.backend
            rows.append(row(f"refresh {REFRESH_SYMBOLS}×{BARS}: longest GUI stall", backend or "numba",
                            statistics.median(stalls), 0.05,
                            f"1 ms timer probe; fetch + store + one EMA-only batch + apply; "
                            f"max {max(stalls) * 1e3:.0f} ms"))
            rows.append(_select_rows(app, window, repeats))
        finally:
            window.close()
    return rows


def _select_rows(app: Any, window: Any, repeats: int) -> dict:
    session = window.session
    symbols = session.model.symbols()
    window.watchlist.select_symbol(symbols[0])       # creates the chart widget once
    wait_for(app, session.analysis.analysed)
    settle(app, 0.2)
    times, backend = [], ""
    for i in range(repeats):
        sym = symbols[1 + i]
        t0 = time.perf_counter()
        window.watchlist.select_symbol(sym)
        out = wait_for(app, session.analysis.analysed)[0]
        window.chart_pane.chart().repaint()          # paint now, synchronously
        times.append(time.perf_counter() - t0)
        backend = out.result.backend
        settle(app, 0.05)
    return row(f"select symbol → painted chart ({BARS} bars, full ATC)", backend, statistics.median(times),
               0.2, f"load + compute(detail=True) + set_data + paint; max {max(times) * 1e3:.0f} ms")


def run(repeats: int = 5) -> list[dict]:
    """The app's rows: first start, start-up (source and packaged), refresh stall, chart
    selection."""
    return [bench_first_start(repeats), bench_start(repeats), bench_bundle_start(repeats),
            *bench_in_process(repeats)]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    repeats = int(args[0]) if args else 5
    for r in run(repeats):
        print(f"{r['workload']:<55} {r['backend']:<8} {r['median_s'] * 1e3:8.1f} ms "
              f"(target {r['target_s'] * 1e3:.0f} ms)  {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
