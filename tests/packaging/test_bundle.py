"""The packaged app, built once per session from a clean checkout (slow; CI runs it).

The checkout is a ``git clone`` of this repository's HEAD (uncommitted work is not in it).
``build.py`` builds the Rust extension there with maturin, from the committed sources
(about a minute on two cores; cargo's dependency builds are kept between sessions); where
maturin or cargo is missing, the extension ``pip install -e .`` built in this tree is
copied in with ``build.py --native`` instead. The slim llvmlite comes from the build cache
(``make setup`` fetched its source; the first build compiles it, ~30 s). The bundle's self-test runs without a
display, from a folder outside the repository, with no ``PYTHONPATH``: everything it uses
must be inside the bundle.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

import selftest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
#: The target for the CPU bundle, unpacked (MB).
SIZE_TARGET_MB = 250
#: Compiled-code caches kept between sessions (here: cargo's builds of the Rust crate's
#: dependencies), next to the other tests' kernel caches.
TEST_CACHES = Path(tempfile.gettempdir()) / "atc-desktop-test-caches"


@dataclass
class Bundle:
    checkout: Path
    app_dir: Path
    archive: Path
    build_log: str
    build_seconds: float


@dataclass
class SelfTestRun:
    returncode: int
    stdout: str
    stderr: str
    home: Path
    outputs: Path
    seconds: float


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no display, no numba cache choice."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "NUMBA_CACHE_DIR",
                "ATC_DESKTOP_HOME"):
        env.pop(key, None)
    return env


def bundle_files(app_dir: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(app_dir)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in app_dir.rglob("*")}


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    if find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[package]'")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    base = tmp_path_factory.mktemp("bundle")
    checkout = base / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(checkout)], check=True, timeout=300)
    cmd = [sys.executable, str(checkout / "packaging" / "build.py"),
           "--dist", str(base / "dist"), "--work", str(base / "work")]
    env = clean_env()
    env["PYTHONPATH"] = str(checkout)          # the analysis must see the clone, not this tree
    if find_spec("maturin") is not None and shutil.which("cargo") is not None:
        env["CARGO_TARGET_DIR"] = str(TEST_CACHES / "cargo-target")
    else:
        natives = sorted((REPO / "rust_backend").glob("_native*.so"))
        if not natives:
            pytest.fail("no maturin/cargo to build the Rust extension, and none is built here")
        snapshot = base / natives[0].name       # a rebuild in the working tree cannot tear it
        shutil.copy2(natives[0], snapshot)
        cmd += ["--native", str(snapshot)]
    t0 = time.monotonic()
    built = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.monotonic() - t0
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-5000:]
    archives = sorted((base / "dist").glob("ATC-Desktop-*.tar.gz"))
    assert len(archives) == 1, log[-2000:]
    return Bundle(checkout, base / "dist" / "ATC-Desktop", archives[0], log, seconds)


@pytest.fixture(scope="session")
def selftest_run(bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> SelfTestRun:
    """``ATC-Desktop --self-test`` once per session (cold JIT cache in a fresh home)."""
    work = tmp_path_factory.mktemp("frozen-run")
    home, outputs = work / "home", work / "outputs.npz"
    env = clean_env()
    env["ATC_DESKTOP_HOME"] = str(home)
    before = bundle_files(bundle.app_dir)
    t0 = time.monotonic()
    run = subprocess.run([str(bundle.app_dir / "ATC-Desktop"), "--self-test",
                          "--self-test-output", str(outputs)],
                         cwd=work, env=env, capture_output=True, text=True, timeout=540)
    seconds = time.monotonic() - t0
    # Nothing may be written into the bundle (it may be read-only): caches go to the home.
    assert bundle_files(bundle.app_dir) == before
    return SelfTestRun(run.returncode, run.stdout, run.stderr, home, outputs, seconds)


def status_of(stdout: str, check: str) -> tuple[str, str]:
    for line in stdout.splitlines():
        if line.startswith(check + " "):
            parts = line[len(check):].split(maxsplit=2)
            return parts[0], parts[2] if len(parts) > 2 else ""
    raise AssertionError(f"no {check!r} row in:\n{stdout}")


def test_self_test_passes_without_a_display(selftest_run: SelfTestRun) -> None:
    out = selftest_run.stdout
    assert selftest_run.returncode == 0, out + selftest_run.stderr[-3000:]
    assert out.splitlines()[-1].startswith("RESULT: PASS")
    assert "frozen cpu build" in status_of(out, "build")[1]
    for check in ("resources", "bundled data", "reference", "backend rust", "backend numba",
                  "backend numpy", "main window"):
        assert status_of(out, check)[0] == "ok", out
    status, detail = status_of(out, "backend cuda")
    assert status == "skip" and "No module named 'cuda_backend'" in detail
    # numba's machine code went to the user's cache, next to the generated kernels.
    assert list((selftest_run.home / "cache" / "numba").rglob("*.nbi"))
    assert list((selftest_run.home / "cache" / "codegen").glob("*.py"))


def test_bundle_contents(bundle: Bundle) -> None:
    internal = bundle.app_dir / "_internal"
    assert list((internal / "rust_backend").glob("_native*.so"))
    for source in (bundle.checkout / "core" / "jit").glob("*.py"):
        assert (internal / "core" / "jit" / source.name).read_bytes() == source.read_bytes()
    for resource in ("stocks_daily_2000_2013.csv.gz", "icons/atc-desktop.png",
                     "selftest/gbm1500_default.npz"):
        assert (internal / "resources" / resource).is_file(), resource
    bindings = sorted(p.name.split(".")[0] for p in (internal / "PySide6").glob("Qt*.so"))
    assert bindings == ["QtCore", "QtGui", "QtWidgets"]
    names = {p.name for p in internal.rglob("*")}
    for unwanted in ("cupy", "cuda_backend", "libQt6Qml.so.6", "libQt6Quick.so.6",
                     "libQt6WebEngineCore.so.6", "libQt6Pdf.so.6", "libQt6Multimedia.so.6",
                     "libQt63DCore.so.6", "matplotlib", "scipy", "botocore"):
        assert unwanted not in names, unwanted
    info = json.loads((internal / "atc_build.json").read_text())
    head = subprocess.run(["git", "-C", str(bundle.checkout), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert (info["variant"], info["commit"], info["required_backends"]) == \
        ("cpu", head, ["rust", "numba", "numpy"])
    for name in ("atc-desktop.desktop", "install-desktop-entry.sh", "icons/atc-desktop-256.png"):
        assert (bundle.app_dir / name).is_file(), name
    assert bundle.archive.name.startswith(f"ATC-Desktop-{info['version']}-linux-")
    with tarfile.open(bundle.archive) as tar:
        member = tar.getmember("ATC-Desktop/ATC-Desktop")
    assert member.isfile() and member.mode & 0o111


def bundle_mb(bundle: Bundle) -> float:
    return sum(p.lstat().st_size for p in bundle.app_dir.rglob("*")
               if p.is_file() and not p.is_symlink()) / 1e6


def test_bundle_size_meets_target(bundle: Bundle) -> None:
    size = bundle_mb(bundle)
    assert size <= SIZE_TARGET_MB, f"bundle is {size:.1f} MB unpacked (target {SIZE_TARGET_MB} MB)"


def test_bundle_carries_the_slim_llvmlite_and_icu_data(bundle: Bundle) -> None:
    """The wheels' libllvmlite.so (every LLVM target) is ~160 MB and Qt's ICU data 32 MB;
    the build swaps in the X86-only llvmlite and the trimmed data (the self-test proves
    numba compiles with it)."""
    internal = bundle.app_dir / "_internal"
    assert (internal / "llvmlite" / "binding" / "libllvmlite.so").stat().st_size < 70e6
    (icu,) = (internal / "PySide6" / "Qt" / "lib").glob("libicudata.so.*")
    assert icu.stat().st_size < 12e6
    assert "slimmed: _internal/llvmlite/binding/libllvmlite.so" in bundle.build_log


def test_frozen_results_equal_source_tree(selftest_run: SelfTestRun) -> None:
    """Every backend's outputs in the bundle equal the same computation here: discrete
    values exactly, continuous ones within 1e-12 relative."""
    assert selftest_run.outputs.is_file(), selftest_run.stdout
    with np.load(selftest_run.outputs) as saved:
        frozen = {k: saved[k] for k in saved.files}
    source = selftest.run_selftest(window=False).outputs
    common = sorted(set(frozen) & set(source))
    backends = {k.split("|")[0] for k in common}
    assert {"numba", "numpy"} <= backends and {"rust", "numba", "numpy"} <= {k.split("|")[0] for k in frozen}
    for key in (k for k in source if k.split("|")[0] in backends):
        assert key in frozen, f"{key} missing from the bundle's outputs"
    problems = []
    for key in common:
        backend, kind, column = key.split("|")
        discrete = (selftest.is_discrete(column) if kind == "single"
                    else column in selftest.DISCRETE_FIELDS)
        why = selftest.mismatch(frozen[key], source[key], discrete, rtol=1e-12)
        if why:
            problems.append(f"{key}: {why}")
    assert problems == [], problems[:5]


def test_start_paints_the_watchlist_with_warm_cache(bundle: Bundle, selftest_run: SelfTestRun) -> None:
    """Launching the executable in the home the self-test warmed paints a watchlist with
    values and exits cleanly, twice (the second start reads what the first one stored).
    How fast is measured by `python -m benchmarks --only app` (the bundle start row)."""
    env = clean_env()
    env["QT_QPA_PLATFORM"] = "offscreen"
    for _ in range(2):
        run = subprocess.run([str(bundle.app_dir / "ATC-Desktop"), "--home", str(selftest_run.home),
                              "--exit-when-painted"], env=env, capture_output=True, text=True,
                             timeout=300, cwd=selftest_run.home)
        assert run.returncode == 0, run.stdout + run.stderr[-3000:]
        painted = [line for line in run.stdout.splitlines() if line.startswith("painted ")]
        assert len(painted) == 1, run.stdout
