"""The slim libraries of the bundle: Qt's ICU data without the groups the app never loads
(collation must still work, in a real Qt process), the X86-only llvmlite build's source
edits, and the dependency check that guards both swaps."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import elf
import slim


def pyside_library(pattern: str) -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob(pattern))
    if not found:
        pytest.skip(f"PySide6 ships no {pattern}")
    return found[0]


@pytest.fixture(scope="module")
def trimmed_icu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("icupkg") is None:
        pytest.fail("icupkg is missing: apt-get install icu-devtools (make setup installs it)")
    return slim.trim_icu_data(pyside_library("libicudata.so.*"), tmp_path_factory.mktemp("icu"))


def icu_items(library: Path, tmp_path: Path) -> list[str]:
    name, blob = slim.icu_data_symbol(library)
    dat = tmp_path / f"{slim.icu_package_name(name)}.dat"
    dat.write_bytes(blob)
    out = subprocess.run(["icupkg", "-l", str(dat)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_trimmed_icu_keeps_collation_and_drops_the_unused_groups(trimmed_icu: Path, tmp_path: Path) -> None:
    original = pyside_library("libicudata.so.*")
    assert trimmed_icu.name == original.name
    before, after = icu_items(original, tmp_path), icu_items(trimmed_icu, tmp_path)
    assert {"coll/root.res", "coll/ucadata.icu", "coll/de.res", "coll/sv.res", "cnvalias.icu"} <= set(after)
    assert not [i for i in after if i.startswith(("brkitr/", "zone/", "curr/", "lang/")) or i.endswith(".cnv")]
    assert set(after) == {i for i in before if not slim.dropped(i)}
    assert trimmed_icu.stat().st_size < original.stat().st_size / 3
    assert elf.needed(trimmed_icu) == []


def test_qt_collates_with_the_trimmed_icu_data(trimmed_icu: Path) -> None:
    """A Qt process that loads the trimmed library (the dynamic loader prefers
    LD_LIBRARY_PATH to Qt's RUNPATH) sorts with each locale's own rules."""
    probe = (
        "from PySide6.QtCore import QCollator, QLocale\n"
        "maps = open('/proc/self/maps').read()\n"
        "print([l.split()[-1] for l in maps.splitlines() if 'libicudata' in l][0])\n"
        "for loc in ('de_DE', 'sv_SE'):\n"
        "    c = QCollator(QLocale(loc))\n"
        "    print(' '.join(sorted(['z', 'b', '\\u00e4', 'a'], key=c.sortKey)))\n")
    env = dict(os.environ, LD_LIBRARY_PATH=str(trimmed_icu.parent))
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert Path(lines[0]) == trimmed_icu
    assert lines[1] == "a ä b z"      # German: ä sorts with a
    assert lines[2] == "a b z ä"      # Swedish: ä is a letter after z


def test_dropped_groups() -> None:
    assert slim.dropped("brkitr/char.brk") and slim.dropped("zone/de.res") and slim.dropped("ibm-943_P15A-2003.cnv")
    assert not slim.dropped("coll/root.res") and not slim.dropped("cnvalias.icu") and not slim.dropped("de.res")


def fake_llvmlite_source(tmp_path: Path) -> Path:
    source = tmp_path / "llvmlite-0.0.0"
    (source / "ffi").mkdir(parents=True)
    (source / "ffi" / "CMakeLists.txt").write_text(
        "set(LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT 22)\n"
        "include_directories(${LLVM_INCLUDE_DIRS})\n"
        "set(LLVM_COMPONENTS mcjit\n    orcjit\n    AllTargetsCodeGens\n    AllTargetsAsmParsers)\n")
    return source


def test_llvmlite_build_is_restricted_to_x86(tmp_path: Path) -> None:
    source = fake_llvmlite_source(tmp_path)
    assert slim.supported_llvm_major((source / "ffi" / "CMakeLists.txt").read_text()) == 22
    include = tmp_path / "include"
    slim.restrict_to_x86(source, include)
    text = (source / "ffi" / "CMakeLists.txt").read_text()
    assert "AllTargets" not in text and "X86CodeGen" in text and "X86AsmParser" in text
    assert text.index(f"include_directories(BEFORE {include.as_posix()})") < text.index("${LLVM_INCLUDE_DIRS}")
    targets = (include / "llvm" / "Config" / "Targets.def").read_text()
    assert "LLVM_TARGET(X86)" in targets and targets.count("LLVM_TARGET(") == 1
    assert {p.name for p in (include / "llvm" / "Config").iterdir()} == {f"{n}.def" for n in slim.TARGET_LISTS}


def test_llvmlite_build_refuses_a_source_it_does_not_know(tmp_path: Path) -> None:
    source = fake_llvmlite_source(tmp_path)
    cmake = source / "ffi" / "CMakeLists.txt"
    cmake.write_text(cmake.read_text().replace("AllTargetsAsmParsers", "SomethingNew"))
    with pytest.raises(slim.SlimError, match="AllTargetsAsmParsers"):
        slim.restrict_to_x86(source, tmp_path / "include")


def test_dependency_check_names_what_the_bundle_lacks(tmp_path: Path) -> None:
    core = pyside_library("libQt6Core.so.6")
    bundle = tmp_path / "ATC-Desktop"
    lib = bundle / "_internal" / core.name
    lib.parent.mkdir(parents=True)
    shutil.copy2(core, lib)
    wanted = [n for n in elf.needed(lib) if not slim.SYSTEM_LIBRARIES.match(n)]
    assert any(n.startswith("libicu") for n in wanted)
    with pytest.raises(slim.SlimError, match=wanted[0].replace(".", r"\.")):
        slim.check_dependencies(bundle, lib)
    for name in wanted:
        (bundle / "_internal" / name).write_bytes(b"")
    slim.check_dependencies(bundle, lib)
