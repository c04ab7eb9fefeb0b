"""`make app` / `make test` install the Python way: into the project's .venv, the app with
its runtime dependencies only, the suite with the extras at the lock file's versions; the
Debian helper installs only what is missing and says what to run when it cannot; the lock
pins the packaged build; pyproject keeps out the PySide6 releases pyqtgraph breaks with;
yfinance's own cache lives in the app's home."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import lock
from tests.packaging.test_build_script import build

REPO = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def make_env() -> dict[str, str]:
    """The environment without an outer make's flags (the suite itself runs under make)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def dry_run(target: str) -> str:
    """``make -n -B TARGET``: every command the target would run, none of them run."""
    done = subprocess.run([MAKE, "-n", "-B", "--no-print-directory", "-C", str(REPO), target], capture_output=True,
                          text=True, timeout=60, env=make_env())
    assert done.returncode == 0, done.stderr
    return done.stdout


def pip_lines(commands: str) -> list[str]:
    return [line for line in commands.replace("\\\n", " ").splitlines() if " pip install" in line]


# -- the two commands -------------------------------------------------------------------------
@needs_make
def test_make_app_installs_the_project_into_the_venv_with_runtime_dependencies_only():
    had_venv = (REPO / ".venv").exists()
    commands = dry_run("app")
    installs = pip_lines(commands)
    assert installs and all(line.startswith(".venv/bin/python -m pip ") for line in installs)
    project = [line for line in installs if " -e " in line]
    assert len(project) == 1 and project[0].split()[-1] == "."     # no [dev,package]
    assert "requirements.lock" not in commands and "--requirements" not in commands
    assert commands.strip().splitlines()[-1] == ".venv/bin/atc-desktop"
    assert (REPO / ".venv").exists() == had_venv                   # a dry run creates nothing


@needs_make
def test_make_test_adds_the_extras_at_the_locked_versions():
    commands = dry_run("test")
    installs = pip_lines(commands)
    assert all(line.lstrip("| ").startswith(".venv/bin/python") for line in installs), installs
    extras = [line for line in installs if "--requirements runtime,dev,package" in line]
    assert len(extras) == 1 and "-c packaging/requirements.lock -r /dev/stdin" in extras[0]
    assert "QT_QPA_PLATFORM=offscreen ATC_REQUIRED_BACKENDS=rust .venv/bin/python -m pytest" in commands


def test_the_makefile_never_installs_into_the_base_python():
    text = (REPO / "Makefile").read_text()
    assert "$(BASE_PYTHON) -m pip" not in text and "python3 -m pip" not in text
    assert "$(MAKE)" not in text            # `make -n` runs sub-make lines for real


def test_lock_requirements_lists_pyprojects_groups_as_the_makefile_reads_them(capsys):
    assert lock.main(["--requirements", "runtime,dev,package"]) == 0
    project = pyproject()
    extras = project["optional-dependencies"]
    assert capsys.readouterr().out.splitlines() == (
        project["dependencies"] + extras["dev"] + extras["package"])
    with pytest.raises(SystemExit, match="no extra 'nope'"):
        lock.main(["--requirements", "runtime,nope"])


# -- the Debian helper ------------------------------------------------------------------------
FAKE_DPKG = """#!/bin/sh
# dpkg -s NAME: installed when NAME is listed in $INSTALLED
for p in $INSTALLED; do [ "$p" = "$2" ] && exit 0; done
exit 1
"""
LOGGING = """#!/bin/sh
echo "{name} $*" >> "$LOG"
{tail}
"""


def fake_bin(tmp_path: Path, uid: int, sudo: bool, apt_ok: bool = True) -> Path:
    """A PATH with fake dpkg, id, apt-get and (optionally) sudo; every call is logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "dpkg": FAKE_DPKG,
        "id": f"#!/bin/sh\necho {uid}\n",
        "apt-get": LOGGING.format(name="apt-get", tail="exit 0" if apt_ok else "exit 100"),
        "env": LOGGING.format(name="env", tail='shift; exec "$@"'),
    }
    if sudo:
        scripts["sudo"] = LOGGING.format(name="sudo", tail='exec "$@"')
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def run_apt_helper(tmp_path: Path, words: str, installed: str, uid: int, sudo: bool,
                   apt_ok: bool = True) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The Makefile's apt_install on WORDS, with fakes for the system's tools."""
    probe = tmp_path / "probe.mk"
    probe.write_text(f"probe:\n\t$(call apt_install,{words})\n\ninclude {REPO / 'Makefile'}\n")
    log = tmp_path / "log"
    log.touch()
    env = make_env() | {"PATH": str(fake_bin(tmp_path, uid, sudo, apt_ok)),
                        "INSTALLED": installed, "LOG": str(log)}
    done = subprocess.run([MAKE, "-s", "-f", str(probe), "probe"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    return done, log.read_text().splitlines()


@needs_make
def test_apt_helper_as_root_installs_only_the_missing_packages(tmp_path):
    done, calls = run_apt_helper(tmp_path, "liba libb libc", installed="libb", uid=0, sudo=True)
    assert done.returncode == 0, done.stderr
    assert calls == ["apt-get update -qq", "env DEBIAN_FRONTEND=noninteractive apt-get install "
                     "-y -qq liba libc", "apt-get install -y -qq liba libc"]


@needs_make
def test_apt_helper_uses_sudo_only_when_not_root(tmp_path):
    done, calls = run_apt_helper(tmp_path, "liba", installed="", uid=1000, sudo=True)
    assert done.returncode == 0, done.stderr
    assert calls[0] == "sudo apt-get update -qq"
    assert "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liba" in calls


@needs_make
def test_apt_helper_does_nothing_when_every_package_is_there(tmp_path):
    done, calls = run_apt_helper(tmp_path, "liba libb", installed="liba libb", uid=1000, sudo=False)
    assert done.returncode == 0 and calls == [] and done.stdout == "" and done.stderr == ""


@needs_make
@pytest.mark.parametrize("sudo, apt_ok", [(False, True), (True, False)],
                         ids=["no root, no sudo", "apt-get failed"])
def test_apt_helper_that_cannot_install_lists_the_packages_and_the_command(tmp_path, sudo, apt_ok):
    done, calls = run_apt_helper(tmp_path, "liba libb libc", installed="libb", uid=1000,
                                 sudo=sudo, apt_ok=apt_ok)
    assert done.returncode != 0
    assert "these Debian packages are missing and could not be installed: liba libc" in done.stderr
    assert "  apt-get update && apt-get install -y liba libc" in done.stderr.splitlines()
    if not sudo:
        assert calls == []                 # nothing was tried without a way to become root


# -- the lock file and the pins -----------------------------------------------------------------
def test_lock_file_pins_every_requirement_of_the_packaged_build_within_pyproject():
    pins = lock.read_lock(REPO / "packaging" / "requirements.lock")
    project = pyproject()
    for line in project["dependencies"] + project["optional-dependencies"]["package"]:
        req = Requirement(line)
        name = lock.canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in the lock file"
        assert req.specifier.contains(pins[name], prereleases=True), (line, pins[name])
    assert "atc-desktop" not in pins                # the project itself is built, not pinned


def test_read_lock_refuses_a_line_without_an_exact_version(tmp_path):
    bad = tmp_path / "requirements.lock"
    bad.write_text("# header\nnumpy==2.0\npandas>=2\n")
    with pytest.raises(ValueError, match="line 3: expected NAME==VERSION"):
        lock.read_lock(bad)


def test_lock_resolves_the_installed_closure_with_markers_and_extras():
    import importlib.metadata as md

    pins = lock.resolve(["pyqtgraph", "numpy; sys_platform == 'no-such-platform'"])
    # pyqtgraph requires numpy and colorama, neither of which requires anything
    assert pins == {name: md.version(name) for name in ("colorama", "numpy", "pyqtgraph")}
    # an extra's requirements only where the extra is asked for (bs4[lxml] adds lxml)
    assert "lxml" not in lock.resolve(["beautifulsoup4"])
    assert lock.resolve(["beautifulsoup4[lxml]"])["lxml"] == md.version("lxml")


def test_build_installs_the_locked_versions_only_where_the_environment_differs(tmp_path):
    import importlib.metadata as md

    calls: list[list[str]] = []
    same = tmp_path / "same.lock"
    same.write_text(f"numpy=={md.version('numpy')}\n")
    assert build.install_locked(same, run=lambda cmd, **kw: calls.append(cmd)) == []
    assert calls == []
    other = tmp_path / "other.lock"
    other.write_text("numpy==0.0.1\n")
    diff = build.install_locked(other, run=lambda cmd, **kw: calls.append(cmd))
    assert diff == [f"numpy: locked 0.0.1, installed {md.version('numpy')}"]
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "-r", str(other)]]
    assert build.install_locked(tmp_path / "absent.lock", run=None) == []


def test_pyproject_keeps_out_the_pyside6_releases_pyqtgraph_breaks_with():
    import importlib.metadata as md

    (qt,) = [Requirement(r) for r in pyproject()["dependencies"]
             if Requirement(r).name.lower() == "pyside6-essentials"]
    for broken in ("6.8.0.1", "6.9.1", "6.12.0"):
        assert not qt.specifier.contains(broken), broken
    assert qt.specifier.contains("6.8.1") and qt.specifier.contains("6.11.3")
    assert qt.specifier.contains(md.version("PySide6-Essentials"))   # what runs here still does


# -- yfinance's cache -----------------------------------------------------------------------------
@pytest.fixture
def yfinance_cache():
    """The yfinance cache managers, put back where they were after the test."""
    import yfinance.cache as cache

    managers = [getattr(cache, n) for n in ("_TzDBManager", "_CookieDBManager", "_ISINDBManager")
                if hasattr(cache, n)]
    before = [m.get_location() for m in managers]
    yield managers
    for manager, where in zip(managers, before):
        manager.set_location(where)


def test_yahoo_provider_points_yfinance_cache_into_the_app_home(tmp_path, monkeypatch,
                                                                  yfinance_cache):
    from core.data.providers.yahoo import YahooProvider

    home = tmp_path / "home"
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(home))
    YahooProvider()
    assert yfinance_cache
    for manager in yfinance_cache:
        assert Path(manager.get_location()) == home / "cache" / "yfinance", manager.__name__
    # A provider with an injected download (tests, replays) leaves yfinance alone.
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(tmp_path / "other"))
    YahooProvider(download=lambda **kw: None)
    assert Path(yfinance_cache[0].get_location()) == home / "cache" / "yfinance"
