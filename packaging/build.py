"""Build the packaged app: ``dist/ATC-Desktop/`` and ``dist/ATC-Desktop-<version>-linux-<arch>.tar.gz``.

    python packaging/build.py            # CPU build (no CuPy)
    python packaging/build.py --gpu      # GPU variant: adds cuda_backend and CuPy (…-gpu.tar.gz)

Steps: install the versions of ``packaging/requirements.lock`` where this environment
differs from them (``--no-lock`` skips it), make sure the Rust extension exists
(``--native FILE`` copies a prebuilt one in; when none is there it is built with
maturin), run PyInstaller on
``packaging/atc-desktop.spec``, swap llvmlite and Qt's ICU data for the slim builds of
``slim.py``, strip debug symbols from the bundle's ELF files (keeping
any file that stripping would make unloadable), add the Linux desktop entry and icon,
report the size, and write the archive.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import lock
import slim
from elf import is_elf, loadable_segments

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "atc-desktop.spec"
LINUX = ROOT / "packaging" / "linux"
ICONS = ROOT / "resources" / "icons"
APP_DIR_NAME = "ATC-Desktop"


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def archive_name(gpu: bool) -> str:
    arch = platform.machine().lower() or "unknown"
    return f"{APP_DIR_NAME}-{version()}-linux-{arch}{'-gpu' if gpu else ''}.tar.gz"


# -- the Rust extension ------------------------------------------------------------------------
def native_modules(root: Path = ROOT) -> list[Path]:
    return sorted((root / "rust_backend").glob("_native*.so"))


def install_native(source: Path, root: Path = ROOT) -> Path:
    """Copy a prebuilt extension into ``rust_backend/`` (atomically: a running process
    may have the old one mapped)."""
    if not source.is_file() or not source.name.startswith("_native") or not source.name.endswith(".so"):
        raise SystemExit(f"--native {source}: expected an existing rust_backend/_native*.so file")
    target = root / "rust_backend" / source.name
    tmp = target.with_name(target.name + ".part")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return target


def build_native(work: Path, root: Path = ROOT) -> Path:
    """Build the extension with maturin (release profile) and take it out of the wheel."""
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    cmd = [sys.executable, "-m", "maturin", "build", "--release", "--interpreter", sys.executable,
           "--out", str(wheels), "--manifest-path", str(root / "rust_backend" / "Cargo.toml")]
    print("building the Rust extension:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=root, check=True)
    wheel = next(iter(sorted(wheels.glob("*.whl"))), None)
    if wheel is None:
        raise SystemExit("maturin produced no wheel")
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith("rust_backend/_native") and n.endswith(".so")]
        if not names:
            raise SystemExit(f"{wheel.name} holds no rust_backend/_native*.so")
        target = root / names[0]
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(zf.read(names[0]))
        tmp.chmod(0o755)
        os.replace(tmp, target)
    return target


# -- the locked versions -----------------------------------------------------------------------
def install_locked(lock_file: Path = lock.LOCK, run=subprocess.run) -> list[str]:
    """Install the lock file's versions when this environment differs from them (a build
    from other versions is another build); returns the differences (empty: nothing to do)."""
    if not lock_file.is_file():
        return []
    diff = lock.differences(lock.read_lock(lock_file))
    if diff:
        print(f"installing the versions of {lock_file.name} (this environment differs):\n  "
              + "\n  ".join(diff), flush=True)
        run([sys.executable, "-m", "pip", "install", "-q", "-r", str(lock_file)], check=True)
    return diff


# -- stripping ---------------------------------------------------------------------------------
def strip_bundle(bundle: Path) -> tuple[int, list[str]]:
    """Strip symbols from every ELF file; returns (bytes saved, files kept as they were)."""
    strip = shutil.which("strip")
    if strip is None:
        print("warning: 'strip' not found (binutils): the bundle keeps its debug symbols")
        return 0, []
    saved, kept = 0, []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        tmp = path.with_name(path.name + ".stripped")
        done = subprocess.run([strip, "-o", str(tmp), str(path)], capture_output=True)
        if done.returncode != 0 or not tmp.exists() or not loadable_segments(tmp):
            tmp.unlink(missing_ok=True)
            kept.append(str(path.relative_to(bundle)))
            continue
        before, after = path.stat().st_size, tmp.stat().st_size
        if after >= before:
            tmp.unlink()
            continue
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
        saved += before - after
    return saved, kept


# -- desktop integration, size, archive --------------------------------------------------------
def add_desktop_files(bundle: Path) -> None:
    """The desktop entry, its installer and the icons, next to the executable."""
    for name in ("atc-desktop.desktop", "install-desktop-entry.sh"):
        shutil.copy2(LINUX / name, bundle / name)
    (bundle / "install-desktop-entry.sh").chmod(0o755)
    icons = bundle / "icons"
    icons.mkdir(exist_ok=True)
    for png in ICONS.glob("atc-desktop-*.png"):
        shutil.copy2(png, icons / png.name)
    shutil.copy2(ICONS / "atc-desktop.svg", icons / "atc-desktop.svg")


def bundle_size(bundle: Path) -> int:
    """Bytes of all regular files (symlinks count as themselves, not their targets)."""
    return sum(p.lstat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())


def write_archive(bundle: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="GPU variant: include cuda_backend and CuPy")
    parser.add_argument("--native", type=Path, metavar="FILE",
                        help="a prebuilt rust_backend/_native*.so to bundle (default: the one in "
                             "rust_backend/, built with maturin when missing)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                        help="PyInstaller's work folder (default build/pyinstaller)")
    parser.add_argument("--no-lock", action="store_true",
                        help="build with the packages installed here even where they differ "
                             "from packaging/requirements.lock")
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz")
    parser.add_argument("--no-strip", action="store_true", help="keep debug symbols")
    parser.add_argument("--no-slim", action="store_true",
                        help="keep the wheels' llvmlite (every LLVM target) and Qt's full ICU data")
    args = parser.parse_args(argv)
    t0 = time.monotonic()

    if args.gpu and importlib.util.find_spec("cupy") is None:
        raise SystemExit("--gpu needs CuPy in this environment: pip install -e '.[gpu,package]'")
    if not args.no_lock:
        install_locked()
    if args.native:
        print("Rust extension:", install_native(args.native.resolve()))
    elif not native_modules():
        print("Rust extension:", build_native(args.work))
    else:
        print("Rust extension:", native_modules()[0])

    cmd = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
           "--distpath", str(args.dist), "--workpath", str(args.work), "--"]
    cmd += ["--gpu"] if args.gpu else []
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    bundle = args.dist / APP_DIR_NAME

    if not args.no_slim:
        try:
            for name, before, after in slim.slim_bundle(bundle):
                print(f"slimmed: {name} {before / 1e6:.1f} MB → {after / 1e6:.1f} MB")
        except (slim.SlimError, OSError) as exc:
            raise SystemExit(f"slimming the bundle failed: {exc}\n(--no-slim builds the "
                             "full-size bundle)") from exc
    if not args.no_strip:
        saved, kept = strip_bundle(bundle)
        print(f"stripped: {saved / 1e6:.1f} MB saved; left as they were (stripping would "
              f"break them): {len(kept)} file(s)")
    add_desktop_files(bundle)
    size = bundle_size(bundle)
    print(f"bundle: {bundle} — {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB) unpacked")
    if not args.no_archive:
        target = args.dist / archive_name(args.gpu)
        write_archive(bundle, target)
        print(f"archive: {target} — {target.stat().st_size / 1e6:.1f} MB")
    print(f"build time: {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
