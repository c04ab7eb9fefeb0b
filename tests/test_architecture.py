"""The dependency direction of ARCHITECTURE.md, checked by import-linter's contracts."""
import shutil
import subprocess

import pytest

from tests.conftest import REPO


def test_import_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is a dev dependency: install the project with its dev extra")
    done = subprocess.run([exe, str(REPO / "pyproject.toml")], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_core_never_imports_qt_or_backend_packages_at_runtime():
    code = ("import sys, core, core.backends.registry, core.cli.main, core.jit.backend;"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'pyqtgraph', 'cupy', 'atc_desktop', 'rust_backend', 'cuda_backend')];"
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run(["python3", "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
