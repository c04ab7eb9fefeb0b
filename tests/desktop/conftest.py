"""Fixtures of the desktop tests: an app session in a temporary profile, scripted data
providers (slow, failing, rate-limited) and a backend that always fails.

Every expected number in these tests comes from ``core.atc.compute_reference`` or from the
registry on bars read back from the store, never from the app's own output.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from atc_desktop.paths import AppPaths
from core.backends.base import ProbeResult
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from core.data.bars import Bars
from core.data.cleaning import CleaningReport
from core.data.providers.base import FetchResult, start_ns
from core.errors import DataError

DAY_NS = 86_400 * 1_000_000_000
T0 = np.datetime64("2020-01-01", "ns").astype(np.int64)


#: Compiled-code caches kept between test runs (never user data): building the generated
#: EMA-only kernel or numba's kernels from nothing takes tens of seconds on two cores.
TEST_CACHES = Path(tempfile.gettempdir()) / "atc-desktop-test-caches"


@pytest.fixture(scope="session")
def shared_core_home() -> Path:
    path = TEST_CACHES / "core-home"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def numba_cache() -> Path:
    path = TEST_CACHES / "numba"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _core_home(atc_home: Path, shared_core_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """core's own files (the generated EMA-only kernels) in one cache folder; the app's
    files still go to each test's own ``home``."""
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(shared_core_home))


@pytest.fixture
def home(tmp_path: Path) -> AppPaths:
    return AppPaths.resolve(tmp_path / "app").ensure()


def walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))


class ScriptedProvider:
    """A provider over fixed random walks, with knobs to fail the way real ones do.

    ``visible`` bars of each series are revealed; ``step()`` reveals one more (a new bar).
    ``fail`` maps symbol → reason (that symbol fails alone); ``error`` makes the next fetches
    raise (network down / rate limit); ``delay`` makes fetches slow; ``active``/``peak``
    count concurrent fetches.
    """

    name = "scripted"
    intervals: tuple[str, ...] = ("1d", "1h")

    def __init__(self, symbols: Sequence[str], bars: int = 600, visible: int | None = None) -> None:
        self.series = {s: walk(bars, i + 1) for i, s in enumerate(symbols)}
        self.visible = visible if visible is not None else bars
        self.fail: dict[str, str] = {}
        self.error: Exception | None = None
        self.delay = 0.0
        self.active = 0
        self.peak = 0
        self.calls = 0
        self._lock = threading.Lock()

    def step(self, n: int = 1) -> None:
        self.visible += n

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        return {s: f"{s!r} is not a symbol of the scripted provider" for s in symbols
                if s not in self.series}

    def bars(self, symbol: str, interval: str = "1d") -> Bars:
        close = self.series[symbol][: self.visible]
        ts = T0 + np.arange(close.size, dtype=np.int64) * DAY_NS
        return Bars(symbol, interval, ts, close, close * 1.01, close * 0.99, close,
                    np.full(close.size, 1000.0), source=self.name)

    def fetch(self, symbols: Sequence[str], interval: str = "1d", start: Any = None) -> FetchResult:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            if interval not in self.intervals:
                raise DataError(f"the scripted provider has no {interval} bars "
                                f"(it offers {', '.join(self.intervals)})")
            if self.delay:
                time.sleep(self.delay)
            if self.error is not None:
                raise self.error
            out = FetchResult()
            since = start_ns(start)
            for s in symbols:
                if s in self.fail or s not in self.series:
                    out.fail(s, self.fail.get(s, f"{s} unknown"))
                    continue
                b = self.bars(s, interval)
                if since is not None:
                    b = b.since(since)
                out.add(b, CleaningReport(s, interval, len(b), len(b)))
            return out
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def scripted() -> Callable[..., ScriptedProvider]:
    return ScriptedProvider


class BrokenBackend:
    """Registers as a working backend, then fails every call (a run-time failure)."""

    def __init__(self, name: str = "numba") -> None:
        self.name = name
        self.calls = 0

    def probe(self) -> ProbeResult:
        return ProbeResult(True, "test double that fails when called", version="0", device="none",
                           threads=1)

    def compute(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise RuntimeError("forced failure of the test backend")

    def compute_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise RuntimeError("forced failure of the test backend")


@pytest.fixture
def broken_registry() -> Registry:
    """'numba' (what screening asks for) always fails; 'numpy' is the next in line."""
    return Registry(factories={"numba": BrokenBackend, "numpy": NumpyBackend})


@pytest.fixture
def make_session(qtbot: Any, home: AppPaths) -> Iterator[Callable[..., Any]]:
    """Build an AppSession (not started) in the test's home; shut down afterwards."""
    from atc_desktop.session import AppSession

    made: list[Any] = []

    def build(symbols: Sequence[str] | None = None, **kwargs: Any) -> Any:
        from atc_desktop.watchlist.store import WatchlistStore

        kwargs.setdefault("paths", home)
        provider = kwargs.get("provider")
        if symbols is None and isinstance(provider, ScriptedProvider):
            symbols = list(provider.series)
        if symbols is not None:
            WatchlistStore(kwargs["paths"].watchlists_file).set_symbols(list(symbols))
        session = AppSession(**kwargs)
        made.append(session)
        return session

    yield build
    for s in made:
        s.shutdown()


@pytest.fixture
def make_window(qtbot: Any, make_session: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A shown MainWindow over a session; closed (layout saved) afterwards."""
    from atc_desktop.main_window import MainWindow

    windows: list[Any] = []

    def build(session: Any = None, **kwargs: Any) -> Any:
        session = session or make_session(**kwargs)
        window = MainWindow(session)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.layout_ready, timeout=5000)
        qtbot.wait(30)                   # the dock layout settles on the next turns
        windows.append(window)
        return window

    yield build
    for w in windows:
        w.close()


def wait_refreshed(qtbot: Any, session: Any, fetch: bool = True, timeout: int = 60_000) -> Any:
    """Request a refresh and wait until the model took its result; returns the outcome."""
    qtbot.waitUntil(lambda: not session.refresh.busy, timeout=timeout)
    with qtbot.waitSignal(session.refresh.refreshed, timeout=timeout) as blocker:
        session.refresh.request(fetch=fetch)
    return blocker.args[0]


@pytest.fixture
def refreshed() -> Callable[..., Any]:
    return wait_refreshed


@pytest.fixture
def data_error() -> type[Exception]:
    return DataError
