"""Rebuild the Rust extension in place without disturbing running processes.

``pip install -e .`` (maturin) rewrites ``rust_backend/_native.abi3.so`` in place; a
process that has the old file mapped then crashes. This builds the same release library
with cargo (the profile and features of ``[tool.maturin]`` in pyproject.toml), writes it
next to the target as ``_native.abi3.so.tmp`` and renames it over the old file: the
rename is atomic, and processes that loaded the old file keep their (unlinked) copy.

Usage: ``python -m rust_backend.install_native`` (or ``python rust_backend/install_native.py``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "_native.abi3.so"


def build() -> Path:
    """Build the release cdylib and return its path."""
    subprocess.run(["cargo", "build", "--release", "--lib", "--features", "pyo3/extension-module",
                    "--manifest-path", str(HERE / "Cargo.toml")], check=True)
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", HERE / "target"))
    built = target_dir / "release" / "lib_native.so"
    if not built.is_file():
        raise SystemExit(f"cargo did not produce {built}")
    return built


def install(built: Path) -> None:
    tmp = TARGET.with_name(TARGET.name + ".tmp")
    shutil.copyfile(built, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, TARGET)


def main() -> int:
    install(build())
    check = subprocess.run([sys.executable, "-c", "import rust_backend._native as n; print(n.simd_level())"],
                           cwd=HERE.parent, capture_output=True, text=True)
    if check.returncode != 0:
        print(check.stderr, file=sys.stderr)
        return 1
    print(f"installed {TARGET} ({check.stdout.strip()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
