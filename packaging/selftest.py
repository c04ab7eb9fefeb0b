"""``ATC-Desktop --self-test``: prove that an install works, without a display.

Checks, in order, each one a row of the printed status table:

* build — version, frozen or source tree, build variant (from the bundle's build info);
* resources — the bundled prices, the application icon and the golden series are present;
* bundled data — the offline provider loads every bundled symbol;
* reference — the numpy reference on the golden series equals the golden values;
* backend NAME — for every backend of the registry: the full ATC with ``detail=True`` on
  the golden series against the reference *and* the golden values, and a ragged batch
  (full and EMA-only modes) against the numpy backend. A backend that is unavailable is
  skipped with its probe's reason, unless it is required (the bundle requires the Rust
  extension and numba), which is a failure;
* main window — the real window over a session in a throw-away profile opens offscreen,
  fills the watchlist from the bundled data and closes.

Tolerances are the project's (:mod:`core.agreement`): continuous values
``|a − b| ≤ 1e-9·max(1, |b|)``, discrete values (states, Layer-1 signals, Cut, direction,
events) identical, NaN where NaN; Average_Signal is continuous (spec §8: not rounded). The
moving averages are held to 1e-9 here, not to the last bit as in the golden tests.

Every backend is called directly, never through the registry's fallback: a failing
backend must fail the self-test, not be replaced silently by the next one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TextIO

import numpy as np

from core import agreement

GOLDEN_NAME = "gbm1500_default.npz"
DATA_NAME = "stocks_daily_2000_2013.csv.gz"
ICON_NAME = "atc-desktop.png"
BUILD_INFO = "atc_build.json"
#: Backends a source tree must have; a bundle lists its own in its build info.
SOURCE_REQUIRED: tuple[str, ...] = ("numba", "numpy")
BATCH_TAIL = 250
BATCH_MODES: tuple[str, ...] = ("full", "ema_only")
DISCRETE_FIELDS = agreement.DISCRETE_BATCH_FIELDS
WINDOW_TIMEOUT_S = 180.0        # first refresh in a cold JIT cache compiles the kernels

Outputs = dict[str, np.ndarray]


@dataclass
class Check:
    """One row of the status table."""

    name: str
    status: str                 # "ok" | "skip" | "FAIL"
    detail: str
    seconds: float = 0.0


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    #: ``"BACKEND|single|COLUMN"`` and ``"BACKEND|batch-MODE|FIELD"`` arrays, for comparing
    #: a bundle's numbers with the source tree's.
    outputs: Outputs = field(default_factory=dict)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures or not self.checks else 0

    def table(self) -> str:
        width = max([len(c.name) for c in self.checks] + [5])
        lines = [f"{'check':<{width}}  status  {'time':>7}  detail",
                 f"{'-' * width}  ------  {'-' * 7}  {'-' * 40}"]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.status:<6}  {c.seconds:6.2f}s  {c.detail}")
        counts = {s: sum(c.status == s for c in self.checks) for s in ("ok", "skip", "FAIL")}
        if self.exit_code == 0:
            lines.append(f"RESULT: PASS ({counts['ok']} ok, {counts['skip']} skipped)")
        else:
            reasons = "; ".join(f"{c.name}: {c.detail}" for c in self.failures) or "no checks ran"
            lines.append(f"RESULT: FAIL ({len(self.failures)} failed) — {reasons}")
        return "\n".join(lines)


# -- where things are ------------------------------------------------------------------------
def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def resources_dir() -> Path:
    """``resources/`` inside the bundle, or the repository's."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def build_info() -> dict[str, Any]:
    """What the bundle recorded when it was built (empty in a source tree)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not bundle:
        return {}
    try:
        return dict(json.loads((Path(bundle) / BUILD_INFO).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {"error": f"{BUILD_INFO} missing or unreadable"}


# -- comparing ---------------------------------------------------------------------------------
#: The spec's discrete outputs (§13.5): states, Layer-1 signals, Cut, direction, events.
is_discrete = agreement.is_discrete


#: Where ``got`` first differs from ``want`` (None when equal within the tolerance).
mismatch = agreement.mismatch


def compare_columns(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> list[str]:
    """Every column of ``want`` that ``got`` lacks or that differs (first bar of each);
    only the discrete columns compare exactly."""
    return agreement.compare_columns(got, want, is_discrete)


def max_relative(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> float:
    """Largest relative difference over the continuous columns (for the table)."""
    worst = 0.0
    for name, values in want.items():
        if is_discrete(name) or name not in got:
            continue
        a, b = np.asarray(got[name], np.float64), np.asarray(values, np.float64)
        both = ~np.isnan(a) & ~np.isnan(b)
        if both.any():
            worst = max(worst, float(np.max(np.abs(a[both] - b[both]) /
                                            np.maximum(1.0, np.abs(b[both])))))
    return worst


# -- the golden series -------------------------------------------------------------------------
def load_golden(path: Path | None = None) -> tuple[np.ndarray, Any, dict[str, np.ndarray]]:
    """Close, config and the golden output columns of the packaged golden series."""
    from core.config import ATCConfig

    path = path or resources_dir() / "selftest" / GOLDEN_NAME
    with np.load(path) as data:
        values = {k: np.asarray(data[k]) for k in data.files}
    config = ATCConfig.from_dict(json.loads(str(values.pop("params_json"))))
    values.pop("note", None)
    close = values.pop("close")
    return close, config, values


def golden_batch(close: np.ndarray) -> np.ndarray:
    """A ragged, right-aligned batch made from the golden series: the whole series, a
    shorter history (left-padded with NaN) and the series reversed."""
    n = close.size
    late = np.full(n, np.nan)
    late[n // 3:] = close[n // 3:]
    return np.ascontiguousarray(np.vstack([close, late, close[::-1]]))


def batch_fields(result: Any) -> dict[str, np.ndarray]:
    out = {name: np.asarray(getattr(result, name)) for name in
           ("signals", "family_equities", "direction", "long", "short", "last_event",
            "bars_since_event")}
    if result.average_signal is not None:
        out["average_signal"] = np.asarray(result.average_signal)
    return out


def compare_batch(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> list[str]:
    return agreement.compare_columns(got, want, lambda name: name in DISCRETE_FIELDS)


# -- the checks --------------------------------------------------------------------------------
def _timed(report: Report, name: str, body: Callable[[], tuple[str, str]]) -> bool:
    """Run one check; an exception is that check's failure, never the self-test's end."""
    t0 = time.perf_counter()
    try:
        status, detail = body()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row with its reason
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        status, detail = "FAIL", f"{type(exc).__name__}: {exc}{where}"
    report.checks.append(Check(name, status, " ".join(detail.split()), time.perf_counter() - t0))
    return status != "FAIL"


def check_build() -> tuple[str, str]:
    import core

    info = build_info()
    if "error" in info:
        return "FAIL", info["error"]
    where = (f"frozen {info.get('variant', '?')} build of commit {info.get('commit', '?')}"
             if frozen() else "source tree")
    return "ok", (f"ATC Desktop {core.__version__}, {where}, Python {platform.python_version()}, "
                  f"{platform.system()} {platform.machine()}, "
                  f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(numba default)')}")


def check_resources() -> tuple[str, str]:
    root = resources_dir()
    wanted = [root / DATA_NAME, root / "icons" / ICON_NAME, root / "selftest" / GOLDEN_NAME]
    missing = [str(p) for p in wanted if not p.is_file()]
    if missing:
        return "FAIL", "missing " + ", ".join(missing)
    return "ok", f"{len(wanted)} files under {root}"


def check_bundled_data() -> tuple[str, str]:
    from core.data import make_provider

    provider: Any = make_provider("bundled")      # the bundled provider lists its symbols
    symbols = provider.symbols()
    fetched = provider.fetch(symbols)
    bars = {sym: len(b) for sym, b in fetched.bars.items()}
    empty = [s for s in symbols if bars.get(s, 0) < 2]
    if not symbols or empty:
        return "FAIL", f"no bars for {empty or 'any symbol'} ({fetched.failures or 'no errors'})"
    return "ok", f"{len(symbols)} symbols ({', '.join(symbols)}), {sum(bars.values())} bars"


class _Golden:
    """The golden series and the reference on it, computed once."""

    def __init__(self, path: Path | None) -> None:
        from core.atc import compute_reference

        self.close, self.config, self.gold = load_golden(path)
        self.reference = compute_reference(self.close, self.config, detail=True)
        self.ref_columns = dict(self.reference.columns(detail=True))
        self.batch = golden_batch(self.close)
        self._batch_refs: dict[str, dict[str, np.ndarray]] = {}

    def batch_reference(self, mode: str) -> dict[str, np.ndarray]:
        from core.backends.numpy_backend import NumpyBackend

        if mode not in self._batch_refs:
            self._batch_refs[mode] = batch_fields(
                NumpyBackend().compute_batch(self.batch, self.config, tail=BATCH_TAIL, mode=mode))
        return self._batch_refs[mode]


def check_reference(g: _Golden) -> tuple[str, str]:
    common = {k: v for k, v in g.gold.items() if k in g.ref_columns}
    problems = compare_columns(g.ref_columns, common)
    if len(common) < 180:
        problems.append(f"only {len(common)} golden columns match the result's names")
    if problems:
        return "FAIL", f"reference != golden: {'; '.join(problems[:3])}"
    return "ok", f"{GOLDEN_NAME}: {g.close.size} bars, {len(common)} columns = golden"


def check_backend(registry: Any, name: str, g: _Golden, required: Iterable[str],
                  outputs: Outputs) -> tuple[str, str]:
    probe = registry.probe(name)
    if not probe.available:
        status = "FAIL" if name in required else "skip"
        return status, f"unavailable: {probe.reason}"
    backend = registry.get(name)
    result = backend.compute(g.close, g.config, detail=True)
    columns = dict(result.columns(detail=True))
    problems = [f"{p} (vs reference)" for p in compare_columns(columns, g.ref_columns)]
    problems += [f"{p} (vs golden)" for p in
                 compare_columns(columns, {k: v for k, v in g.gold.items() if k in g.ref_columns})]
    for col, values in columns.items():
        outputs[f"{name}|single|{col}"] = np.asarray(values, dtype=np.float64)
    for mode in BATCH_MODES:
        got = batch_fields(backend.compute_batch(g.batch, g.config, tail=BATCH_TAIL, mode=mode))
        problems += [f"batch {mode} {p} (vs numpy)" for p in
                     compare_batch(got, g.batch_reference(mode))]
        for key, values in got.items():
            outputs[f"{name}|batch-{mode}|{key}"] = np.asarray(values, dtype=np.float64)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return "FAIL", "; ".join(problems[:3]) + more
    where = ", ".join(x for x in (probe.version, probe.device) if x)
    return "ok", (f"{len(columns)} columns = reference = golden (max rel "
                  f"{max_relative(columns, g.ref_columns):.1e}); batch "
                  f"{'+'.join(BATCH_MODES)} = numpy [{where}]")


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    """Run the Qt event loop until ``condition()`` or the timeout."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)
    return True


def check_window(timeout: float = WINDOW_TIMEOUT_S) -> tuple[str, str]:
    """Open the main window over a session in a temporary profile (the user's watchlists,
    settings and bar store stay untouched; the JIT caches are the user's), wait for the
    watchlist to show values, paint it, close everything."""
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from atc_desktop.main_window import MainWindow
    from atc_desktop.paths import AppPaths
    from atc_desktop.session import AppSession

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "atc-desktop"])
    with tempfile.TemporaryDirectory(prefix="atc-selftest-") as tmp:
        session = AppSession(AppPaths.resolve(Path(tmp)))
        window = None
        try:
            window = MainWindow(session)
            window.show()
            if not _wait(lambda: bool(getattr(window, "layout_ready", True)), 30.0):
                return "FAIL", "the main window did not finish its layout within 30 s"
            outcomes: list[Any] = []
            problems: list[str] = []
            session.refresh.refreshed.connect(outcomes.append)
            session.refresh.refresh_failed.connect(problems.append)
            session.start(warm=False)
            states = session.model.states
            if not _wait(lambda: any(s.has_values for s in states()) or bool(problems), timeout):
                last = outcomes[-1] if outcomes else None
                why = (f"; last refresh: {last.error or 'no error'}, failures "
                       f"{dict(list(last.failures.items())[:2])}" if last is not None else
                       "; no refresh finished")
                return "FAIL", (f"the watchlist showed no values within {timeout:.0f} s "
                                f"({len(states())} symbols){why}")
            if problems:
                return "FAIL", f"refresh failed: {problems[0]}"
            shot = window.grab()
            if shot.isNull() or shot.width() < 100 or shot.height() < 100:
                return "FAIL", f"the window painted an empty image ({shot.width()}×{shot.height()})"
            filled = sum(s.has_values for s in states())
            platform_name = QGuiApplication.platformName()
            return "ok", (f"{filled}/{len(states())} watchlist rows with values, painted "
                          f"{shot.width()}×{shot.height()} on '{platform_name}'")
        finally:
            if window is not None:
                window.close()
            session.shutdown()
            app.processEvents()


# -- running -----------------------------------------------------------------------------------
def run_selftest(registry: Any = None, required: Sequence[str] | None = None,
                 window: bool = True, golden: Path | None = None,
                 stream: TextIO | None = None) -> Report:
    """Run every check; print the table to ``stream`` (when given); return the report.

    ``registry`` defaults to a fresh :class:`core.backends.registry.Registry` (tests pass
    one with their own factories); ``required`` defaults to the bundle's list, or
    :data:`SOURCE_REQUIRED` in a source tree.
    """
    report = Report()
    if required is None:
        required = build_info().get("required_backends", SOURCE_REQUIRED)
    _timed(report, "build", check_build)
    _timed(report, "resources", check_resources)
    _timed(report, "bundled data", check_bundled_data)
    holder: list[_Golden] = []

    def reference() -> tuple[str, str]:
        holder.append(_Golden(golden))
        return check_reference(holder[0])

    if _timed(report, "reference", reference):
        if registry is None:
            from core.backends.registry import Registry

            registry = Registry()
        for name in registry.names:
            def backend_check(n: str = name) -> tuple[str, str]:
                return check_backend(registry, n, holder[0], required, report.outputs)

            _timed(report, f"backend {name}", backend_check)
    if window:
        if any(c.name == "bundled data" and c.status == "FAIL" for c in report.checks):
            # The window's watchlist is filled from the bundled data: waiting is pointless.
            report.checks.append(Check("main window", "FAIL", "not run: the bundled data failed"))
        else:
            _timed(report, "main window", check_window)
    if stream is not None:
        stream.write(report.table() + "\n")
        stream.flush()
    return report


def save_outputs(outputs: Outputs, path: Path) -> None:
    """Write the computed arrays (npz, written whole or not at all)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, **outputs)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ATC-Desktop --self-test",
                                     description="check this install offscreen and exit")
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--self-test-output", type=Path, metavar="FILE.npz",
                        help="also write every backend's computed outputs to this file")
    parser.add_argument("--no-window", action="store_true", help="skip the main-window check")
    parser.add_argument("--home", help="user folders under this folder (as the app's --home)")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["ATC_DESKTOP_HOME"] = str(args.home)   # core's generated kernels follow
    # Offscreen always: the self-test must run on machines without a display.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    report = run_selftest(window=not args.no_window, stream=sys.stdout)
    if args.self_test_output:
        save_outputs(report.outputs, args.self_test_output)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
