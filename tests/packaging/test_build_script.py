"""The build script's own logic: the ELF check that keeps stripping from breaking libraries,
stripping itself, the archive and its name, installing a prebuilt Rust extension."""
from __future__ import annotations

import importlib.util
import shutil
import struct
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

import elf

REPO = Path(__file__).resolve().parents[2]


def load_build() -> ModuleType:
    # A unique module name: "build" is also PyPA's build frontend.
    spec = importlib.util.spec_from_file_location("atc_packaging_build", REPO / "packaging" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = load_build()


def some_extension() -> Path:
    """A small real ELF shared object: one of the interpreter's own extension modules."""
    import _json      # a C extension module in most builds (its file is in the base install)

    path = Path(getattr(_json, "__file__", "") or "/nonexistent")
    if not path.is_file() or not elf.is_elf(path):
        pytest.skip("this Python has no _json extension file (built in)")
    return path


def misalign_first_load_segment(path: Path) -> None:
    """Shift the file offset of the first PT_LOAD segment by 0x800 (no longer page-aligned)."""
    data = bytearray(path.read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        at = phoff + i * phentsize
        if struct.unpack_from("<I", data, at)[0] == elf.PT_LOAD:
            (offset,) = struct.unpack_from("<Q", data, at + 8)
            struct.pack_into("<Q", data, at + 8, offset + 0x800)
            break
    path.write_bytes(bytes(data))


def test_loadable_segments_tells_broken_libraries(tmp_path: Path) -> None:
    good = some_extension()
    assert elf.is_elf(good) and elf.loadable_segments(good)
    bad = tmp_path / good.name
    shutil.copy2(good, bad)
    misalign_first_load_segment(bad)
    assert not elf.loadable_segments(bad)
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file")
    assert not elf.is_elf(text)


def test_strip_bundle_strips_and_keeps_text_files(tmp_path: Path) -> None:
    if shutil.which("strip") is None:
        pytest.skip("strip (binutils) not installed")
    bundle = tmp_path / "ATC-Desktop"
    (bundle / "lib").mkdir(parents=True)
    lib = bundle / "lib" / some_extension().name
    shutil.copy2(some_extension(), lib)
    (bundle / "README").write_text("hello")
    before = lib.stat().st_size
    saved, kept = build.strip_bundle(bundle)
    assert kept == []
    assert saved == before - lib.stat().st_size >= 0
    assert elf.loadable_segments(lib)
    assert (bundle / "README").read_text() == "hello"


def test_archive_holds_the_folder_under_its_name(tmp_path: Path) -> None:
    bundle = tmp_path / "dist" / build.APP_DIR_NAME
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "ATC-Desktop").write_text("#!/bin/sh\n")
    (bundle / "ATC-Desktop").chmod(0o755)
    (bundle / "_internal" / "data.bin").write_bytes(b"\0" * 100)
    target = tmp_path / "dist" / build.archive_name(gpu=False)
    build.write_archive(bundle, target)
    with tarfile.open(target) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "ATC-Desktop/ATC-Desktop" in members and members["ATC-Desktop/ATC-Desktop"].mode & 0o111
    assert "ATC-Desktop/_internal/data.bin" in members
    assert build.bundle_size(bundle) == 100 + len("#!/bin/sh\n")


def test_archive_names_carry_version_platform_and_variant() -> None:
    cpu, gpu = build.archive_name(gpu=False), build.archive_name(gpu=True)
    assert cpu.startswith(f"ATC-Desktop-{build.version()}-linux-") and cpu.endswith(".tar.gz")
    assert gpu == cpu.replace(".tar.gz", "-gpu.tar.gz")


def test_install_native_copies_into_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "rust_backend").mkdir(parents=True)
    prebuilt = tmp_path / "_native.abi3.so"
    prebuilt.write_bytes(b"\x7fELF-not-really")
    target = build.install_native(prebuilt, root=checkout)
    assert target == checkout / "rust_backend" / "_native.abi3.so"
    assert target.read_bytes() == prebuilt.read_bytes()
    assert build.native_modules(checkout) == [target]
    with pytest.raises(SystemExit, match="expected an existing"):
        build.install_native(tmp_path / "libother.so", root=checkout)
