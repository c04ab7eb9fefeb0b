"""The self-test run in-process from the source tree: it passes here, and it fails, with the
reason, when a backend's numbers are wrong (continuous beyond 1e-9, or any discrete value),
when a backend raises, when a required backend is missing, or when the golden file is off.

Expected numbers come from ``core.atc.compute_reference`` and the golden file, never from
the self-test itself.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import entry
import selftest
from core.backends.base import ProbeResult
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from core.types import ATCResult, BatchResult

Tamper = Callable[[Any], None]


class TamperedBackend:
    """Answers like the numpy reference, then changes its result (or raises)."""

    def __init__(self, name: str = "rust", single: Tamper | None = None,
                 batch: Tamper | None = None, batch_mode: str = "ema_only",
                 error: Exception | None = None) -> None:
        self.name = name
        self._inner = NumpyBackend()
        self._single, self._batch, self._batch_mode, self._error = single, batch, batch_mode, error

    def probe(self) -> ProbeResult:
        return ProbeResult(True, "test double", version="0", device="none", threads=1)

    def compute(self, close: np.ndarray, config: Any, detail: bool = False,
                src: np.ndarray | None = None) -> ATCResult:
        if self._error is not None:
            raise self._error
        result = self._inner.compute(close, config, detail=detail, src=src)
        if self._single is not None:
            self._single(result)
        return result

    def compute_batch(self, closes: np.ndarray, config: Any, tail: int = 1,
                      mode: str = "full") -> BatchResult:
        result = self._inner.compute_batch(closes, config, tail=tail, mode=mode)
        if self._batch is not None and mode == self._batch_mode:
            self._batch(result)
        return result


class UnavailableBackend(TamperedBackend):
    def __init__(self) -> None:
        super().__init__(name="cuda")

    def probe(self) -> ProbeResult:
        return ProbeResult(False, "no GPU in this test")


def registry_with(backend: Any) -> Registry:
    return Registry(factories={"cuda": UnavailableBackend, "rust": lambda: backend,
                               "numpy": NumpyBackend})


def run(registry: Registry, **kwargs: Any) -> tuple[selftest.Report, str]:
    out = io.StringIO()
    kwargs.setdefault("required", ("numpy",))
    report = selftest.run_selftest(registry=registry, window=False, stream=out, **kwargs)
    return report, out.getvalue()


def row(report: selftest.Report, name: str) -> selftest.Check:
    return next(c for c in report.checks if c.name == name)


def first_finite(values: np.ndarray, start: int = 0) -> int:
    return start + int(np.argmax(np.isfinite(values[start:])))


# -- the whole self-test, source tree --------------------------------------------------------
def test_full_self_test_passes_offscreen(qapp: Any) -> None:
    out = io.StringIO()
    report = selftest.run_selftest(stream=out)
    table = out.getvalue()
    assert report.exit_code == 0, table
    statuses = {c.name: c.status for c in report.checks}
    for name in ("build", "resources", "bundled data", "reference", "backend numba",
                 "backend numpy", "main window"):
        assert statuses[name] == "ok", table
    assert statuses["backend rust"] in ("ok", "skip"), table      # skip only with its reason
    assert statuses["backend cuda"] in ("ok", "skip"), table
    assert "source tree" in row(report, "build").detail
    assert "188 columns = reference = golden" in row(report, "backend numba").detail
    assert "watchlist rows with values" in row(report, "main window").detail
    assert table.splitlines()[-1].startswith("RESULT: PASS")
    # Every computed column of every backend that ran is kept for the frozen comparison.
    ran = [c.name.split()[1] for c in report.checks if c.name.startswith("backend") and c.status == "ok"]
    for name in ran:
        assert f"{name}|single|Average_Signal" in report.outputs
        assert f"{name}|batch-ema_only|signals" in report.outputs


def test_correct_double_passes_and_unavailable_optional_backend_is_skipped() -> None:
    report, table = run(registry_with(TamperedBackend()))
    assert report.exit_code == 0, table
    assert row(report, "backend rust").status == "ok"
    cuda = row(report, "backend cuda")
    assert (cuda.status, cuda.detail) == ("skip", "unavailable: no GPU in this test")


def test_difference_within_tolerance_passes() -> None:
    def nudge(r: ATCResult) -> None:
        i = first_finite(r.average_signal, 700)
        r.average_signal[i] += 1e-12 * max(1.0, abs(r.average_signal[i]))
        r.family_equities[0, i] *= 1 + 1e-12

    report, table = run(registry_with(TamperedBackend(single=nudge)))
    assert report.exit_code == 0, table


def test_continuous_error_fails_with_column_and_bar() -> None:
    def nudge(r: ATCResult) -> None:
        r.family_equities[0, 700] *= 1 + 1e-8          # EMA_S, a continuous output

    report, table = run(registry_with(TamperedBackend(single=nudge)))
    assert report.exit_code == 1
    bad = row(report, "backend rust")
    assert bad.status == "FAIL"
    assert "EMA_S: bar 700" in bad.detail and "(vs reference)" in bad.detail
    assert "(vs golden)" in bad.detail or "more)" in bad.detail
    assert row(report, "backend numpy").status == "ok"
    last = table.splitlines()[-1]
    assert last.startswith("RESULT: FAIL (1 failed)") and "backend rust: " in last


def test_average_signal_error_fails() -> None:
    def nudge(r: ATCResult) -> None:
        r.average_signal[700] += 1e-6

    report, _ = run(registry_with(TamperedBackend(single=nudge)))
    assert report.exit_code == 1
    assert "Average_Signal: bar 700" in row(report, "backend rust").detail


def test_layer1_signal_is_compared_exactly() -> None:
    def nudge(r: ATCResult) -> None:
        i = first_finite(r.signals[2], 700)
        r.signals[2, i] = np.nextafter(r.signals[2, i], np.inf)     # WMA_Signal, one ulp

    report, _ = run(registry_with(TamperedBackend(single=nudge)))
    assert report.exit_code == 1
    assert "WMA_Signal: bar " in row(report, "backend rust").detail


def test_discrete_error_fails() -> None:
    flipped: list[int] = []

    def flip(r: ATCResult) -> None:
        i = first_finite(r.direction, 600)
        r.direction[i] = -r.direction[i]
        flipped.append(i)

    report, _ = run(registry_with(TamperedBackend(single=flip)))
    assert report.exit_code == 1
    assert f"direction: bar {flipped[0]}" in row(report, "backend rust").detail


def test_crossover_state_error_fails() -> None:
    def flip(r: ATCResult) -> None:
        assert r.states is not None
        r.states[10, 900] = -r.states[10, 900] if r.states[10, 900] else 1

    report, _ = run(registry_with(TamperedBackend(single=flip)))
    assert report.exit_code == 1
    assert "sig." in row(report, "backend rust").detail


def test_batch_error_fails() -> None:
    def flip(b: BatchResult) -> None:
        b.signals[1, 0, -1] = 1.0 if b.signals[1, 0, -1] != 1.0 else -1.0

    report, _ = run(registry_with(TamperedBackend(batch=flip)))
    assert report.exit_code == 1
    detail = row(report, "backend rust").detail
    assert detail.startswith("batch ema_only signals: index (1, 0, 249)") and "(vs numpy)" in detail


def test_backend_that_raises_fails_with_its_message() -> None:
    report, _ = run(registry_with(TamperedBackend(error=RuntimeError("kernel exploded"))))
    assert report.exit_code == 1
    assert row(report, "backend rust").detail.startswith("RuntimeError: kernel exploded")


def test_required_backend_unavailable_fails() -> None:
    report, _ = run(registry_with(TamperedBackend()), required=("cuda", "numpy"))
    assert report.exit_code == 1
    assert row(report, "backend cuda").status == "FAIL"
    assert "no GPU in this test" in row(report, "backend cuda").detail


def test_golden_mismatch_fails_before_any_backend(tmp_path: Path) -> None:
    source = selftest.resources_dir() / "selftest" / selftest.GOLDEN_NAME
    with np.load(source) as data:
        values = {k: data[k] for k in data.files}
    values["Average_Signal"] = values["Average_Signal"].copy()
    i = first_finite(values["Average_Signal"], 800)
    values["Average_Signal"][i] += 1e-3
    bad = tmp_path / "golden.npz"
    np.savez(bad, **values)
    report, _ = run(registry_with(TamperedBackend()), golden=bad)
    assert report.exit_code == 1
    assert f"Average_Signal: bar {i}" in row(report, "reference").detail
    assert not [c for c in report.checks if c.name.startswith("backend")]


def test_packaged_golden_is_the_shared_one() -> None:
    """resources/selftest holds an unmodified copy of the project's golden series."""
    packaged = selftest.resources_dir() / "selftest" / selftest.GOLDEN_NAME
    shared = Path(__file__).resolve().parents[3] / "shared" / "golden" / selftest.GOLDEN_NAME
    if not shared.is_file():
        pytest.skip(f"{shared} not present")
    assert packaged.read_bytes() == shared.read_bytes()


# -- the command line ------------------------------------------------------------------------
def test_main_writes_outputs_and_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    out = tmp_path / "outputs.npz"
    assert selftest.main(["--self-test", "--no-window", "--self-test-output", str(out)]) == 0
    assert "RESULT: PASS" in capsys.readouterr().out
    with np.load(out) as saved:
        keys = set(saved.files)
        assert saved["numpy|single|Average_Signal"].shape == (1500,)
    assert {"numpy|single|direction", "numba|batch-full|average_signal",
            "numba|batch-ema_only|bars_since_event"} <= keys


def test_entry_points_numba_at_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert entry.numba_cache_dir(["--home", str(tmp_path / "h")]) == str(tmp_path / "h" / "cache" / "numba")
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(tmp_path / "env"))
    assert entry.numba_cache_dir(["--theme", "dark"]) == str(tmp_path / "env" / "cache" / "numba")


def test_entry_dispatches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import atc_desktop.app

    calls: list[tuple[str, list[str]]] = []

    def fake_selftest(argv: list[str]) -> int:
        calls.append(("selftest", list(argv)))
        return 3

    def fake_app(argv: list[str]) -> int:
        calls.append(("app", list(argv)))
        return 0

    monkeypatch.setattr(selftest, "main", fake_selftest)
    monkeypatch.setattr(atc_desktop.app, "main", fake_app)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert entry.main(["--self-test", "--no-window"]) == 3
    assert os.environ["NUMBA_CACHE_DIR"].endswith(os.path.join("cache", "numba"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))     # the user's choice stays
    assert entry.main(["--home", str(tmp_path), "--no-warmup"]) == 0
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    assert calls == [("selftest", ["--self-test", "--no-window"]),
                     ("app", ["--home", str(tmp_path), "--no-warmup"])]


def test_build_info_is_read_only_when_frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert selftest.build_info() == {}
    (tmp_path / selftest.BUILD_INFO).write_text(json.dumps({"variant": "cpu",
                                                            "required_backends": ["numpy"]}))
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)
    assert selftest.build_info()["variant"] == "cpu"
    assert selftest.resources_dir() == tmp_path / "resources"
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    assert "error" in selftest.build_info()


def test_comparisons_follow_the_core_rule() -> None:
    """The self-test's discrete columns, batch fields and tolerance are core.agreement's
    (one rule for the self-test, the golden tests, the GPU self-test and `atc parity`)."""
    from core import agreement

    assert selftest.is_discrete is agreement.is_discrete
    assert selftest.DISCRETE_FIELDS is agreement.DISCRETE_BATCH_FIELDS
    assert selftest.mismatch is agreement.mismatch
    a = np.array([1.0, 2.0])
    assert selftest.compare_columns({"EMA2": a * (1 + 1e-12)}, {"EMA2": a}) == []   # MAs at 1e-9 here
