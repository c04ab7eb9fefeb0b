"""The two libraries that made most of the bundle, rebuilt to hold what the app uses.

* ``llvmlite/binding/libllvmlite.so`` — numba's LLVM. The PyPI wheel links every LLVM
  target (AMDGPU, ARM, Hexagon, …: 160 MB stripped) although numba only compiles for the
  machine it runs on. The same llvmlite release is built from its source against
  Debian's static LLVM libraries with the X86 target alone (~44 MB; symbols of the static
  libraries are kept private so the linker drops whatever llvmlite does not reach). The
  result is cached per llvmlite and LLVM version under ``~/.cache/atc-desktop-build``.
* ``PySide6/Qt/lib/libicudata.so.NN`` — ICU's data (32 MB). Qt reaches ICU for collation
  (file dialogs sort names with QCollator) and for legacy text codecs; the app decodes
  text itself (UTF-8) and Qt's own CLDR tables serve its locale formatting. Kept:
  collation, the locale, property and normalisation data and the codec alias table;
  dropped: converter tables, break iterators and every display-name group (languages,
  regions, currencies, units, time zones), transliteration and spell-out rules (~8 MB).
  The data blob is cut out of Qt's own library, trimmed with ICU's ``icupkg`` and linked
  into a data-only library with the same soname and symbol.

    python packaging/slim.py --build-deps   # the Debian packages needed (fetches llvmlite's source)
    python packaging/slim.py                # build the X86-only llvmlite into the cache

Build tools: ``cmake``, ``llvm-NN-dev`` and ``libzstd-dev`` (NN: the LLVM that llvmlite's
source names), ``icu-devtools`` and a C compiler; ``make setup`` installs them.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from elf import exported_symbols, file_offset, needed

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "atc-desktop-build"
#: ICU item groups (folders, or a file suffix) the app never loads.
ICU_DROPPED_GROUPS = ("brkitr/", "curr/", "lang/", "region/", "unit/", "zone/", "translit/", "rbnf/", ".cnv")
#: Libraries the bundle relies on the system for (glibc's; PyInstaller never ships them).
SYSTEM_LIBRARIES = re.compile(r"(libc|libm|libpthread|libdl|librt|libutil|ld-linux[-\w]*)\.so(\.\d+)*$")
#: llvmlite's choice of LLVM libraries, and the same with the X86 target only.
ALL_TARGETS = ("AllTargetsCodeGens", "AllTargetsAsmParsers")
X86_ONLY = ("X86CodeGen", "X86AsmParser")
#: LLVM's generated lists of targets, which the C API's "initialise all targets" expands.
TARGET_LISTS = {"Targets": "LLVM_TARGET", "AsmPrinters": "LLVM_ASM_PRINTER",
                "AsmParsers": "LLVM_ASM_PARSER", "Disassemblers": "LLVM_DISASSEMBLER",
                "TargetMCAs": "LLVM_TARGETMCA"}


class SlimError(RuntimeError):
    """A slimmed library cannot be made here; the message says what is missing."""


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SlimError(f"{' '.join(cmd[:3])} … failed (exit {done.returncode}):\n"
                        f"{(done.stdout + done.stderr)[-3000:]}")
    return done


def require(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise SlimError(f"'{tool}' is missing: apt-get install {package} (make setup installs it)")
    return found


# -- llvmlite with the X86 target only ---------------------------------------------------------
def llvmlite_version() -> str:
    return importlib.metadata.version("llvmlite")


def fetch_llvmlite_source(version: str, cache: Path = CACHE) -> Path:
    """The llvmlite sdist of ``version``, downloaded from PyPI once."""
    folder = cache / "sdist"
    found = sorted(folder.glob(f"llvmlite-{version}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(folder), f"llvmlite=={version}"], timeout=600)
    found = sorted(folder.glob(f"llvmlite-{version}.tar.gz"))
    if not found:
        raise SlimError(f"pip downloaded no llvmlite-{version}.tar.gz into {folder}")
    return found[0]


def supported_llvm_major(cmake_text: str) -> int:
    """The LLVM major version llvmlite's ``ffi/CMakeLists.txt`` builds against."""
    match = re.search(r"set\(LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT (\d+)\)", cmake_text)
    if match is None:
        raise SlimError("cannot tell which LLVM llvmlite's source is built against")
    return int(match.group(1))


def sdist_llvm_major(sdist: Path) -> int:
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/ffi/CMakeLists.txt")
        if member is None:
            raise SlimError(f"{sdist.name} holds no ffi/CMakeLists.txt")
        return supported_llvm_major(member.read().decode("utf-8"))


def build_dependencies(cache: Path = CACHE) -> list[str]:
    """The Debian packages the slim builds need."""
    major = sdist_llvm_major(fetch_llvmlite_source(llvmlite_version(), cache))
    return ["cmake", f"llvm-{major}-dev", "libzstd-dev", "icu-devtools", "binutils", "gcc"]


def llvm_config(major: int) -> tuple[str, str]:
    """``llvm-config`` of LLVM ``major`` and the full version it reports."""
    for name in (f"llvm-config-{major}", "llvm-config"):
        path = shutil.which(name)
        if path:
            version = run([path, "--version"]).stdout.strip()
            if version.split(".")[0] == str(major):
                return path, version
    raise SlimError(f"LLVM {major}'s development files are missing: "
                    f"apt-get install llvm-{major}-dev cmake libzstd-dev (make setup installs them)")


def restrict_to_x86(source: Path, include: Path) -> None:
    """Make llvmlite's build link and initialise the X86 target alone: its CMake list of
    LLVM components, and LLVM's target lists seen first on the include path."""
    config = include / "llvm" / "Config"
    config.mkdir(parents=True, exist_ok=True)
    for name, macro in TARGET_LISTS.items():
        (config / f"{name}.def").write_text(
            f"#ifndef {macro}\n#  error Please define the macro {macro}\n#endif\n"
            f"{macro}(X86)\n#undef {macro}\n", encoding="ascii")
    cmake = source / "ffi" / "CMakeLists.txt"
    text = cmake.read_text(encoding="utf-8")
    edits = [("include_directories(${LLVM_INCLUDE_DIRS})",
              f"include_directories(BEFORE {include.as_posix()})\ninclude_directories(${{LLVM_INCLUDE_DIRS}})")]
    edits += list(zip(ALL_TARGETS, X86_ONLY))
    for old, new in edits:
        if text.count(old) != 1:
            raise SlimError(f"{cmake}: expected '{old}' once; llvmlite's build has changed")
        text = text.replace(old, new)
    cmake.write_text(text, encoding="utf-8")


def llvmpy_exports(path: Path) -> set[str]:
    return {s.name for s in exported_symbols(path) if s.name.startswith("LLVMPY_")}


def build_llvmlite_x86(cache: Path = CACHE, jobs: int | None = None) -> Path:
    """``libllvmlite.so`` for the installed llvmlite release, X86 only (cached)."""
    version = llvmlite_version()
    sdist = fetch_llvmlite_source(version, cache)
    config, llvm_version = llvm_config(sdist_llvm_major(sdist))
    target = cache / f"llvmlite-{version}-llvm-{llvm_version}-x86" / "libllvmlite.so"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="llvmlite-x86-") as tmp:
        work = Path(tmp)
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = work / f"llvmlite-{version}"
        cmake = require("cmake", "cmake")
        strip = require("strip", "binutils")
        restrict_to_x86(source, work / "include")
        build = work / "build"
        print(f"building llvmlite {version} against LLVM {llvm_version}, X86 target only", flush=True)
        run([cmake, "-S", str(source / "ffi"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
             f"-DLLVM_DIR={run([config, '--cmakedir']).stdout.strip()}",
             "-DLLVMLITE_LTO=OFF", "-DLLVMLITE_PACKAGE_FORMAT=wheel",
             # LLVM's symbols stay private to the library, so unreferenced code is dropped.
             "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--exclude-libs,ALL -Wl,--gc-sections"], timeout=600)
        run([cmake, "--build", str(build), "--target", "llvmlite", "--parallel", str(jobs or os.cpu_count() or 2)],
            timeout=3600)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        run([strip, "-o", str(part), str(build / "libllvmlite.so")])
        missing = llvmpy_exports(installed_llvmlite_library()) - llvmpy_exports(part)
        if missing:
            part.unlink()
            raise SlimError(f"the X86-only llvmlite lacks {len(missing)} functions of the "
                            f"installed one: {', '.join(sorted(missing)[:5])}")
        os.replace(part, target)
    return target


def installed_llvmlite_library() -> Path:
    import llvmlite

    return Path(llvmlite.__file__).parent / "binding" / "libllvmlite.so"


# -- ICU data without what the app never loads -------------------------------------------------
def icu_data_symbol(library: Path) -> tuple[str, bytes]:
    """The name and bytes of the ICU data blob a libicudata exports (``icudtNN_dat``)."""
    symbols = [s for s in exported_symbols(library) if re.fullmatch(r"icudt\d+_dat", s.name)]
    if len(symbols) != 1 or symbols[0].size == 0:
        raise SlimError(f"{library.name}: expected one icudtNN_dat symbol, found {symbols}")
    symbol = symbols[0]
    start = file_offset(library, symbol.address)
    with library.open("rb") as f:
        f.seek(start)
        blob = f.read(symbol.size)
    return symbol.name, blob


def icu_package_name(symbol: str) -> str:
    """The package name of an ICU data blob (``icudt73_dat`` → ``icudt73l``: version, byte
    order); icupkg reads it from the .dat file's name."""
    return symbol.removesuffix("_dat") + ("l" if sys.byteorder == "little" else "b")


def dropped(item: str) -> bool:
    return any(item.startswith(g) if g.endswith("/") else item.endswith(g) for g in ICU_DROPPED_GROUPS)


def trim_icu_data(library: Path, out_dir: Path) -> Path:
    """A copy of ``library`` (a libicudata) without the dropped item groups, in ``out_dir``."""
    icupkg = require("icupkg", "icu-devtools")
    cc = shutil.which("cc") or require("gcc", "gcc")
    name, blob = icu_data_symbol(library)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icu-") as tmp:
        work = Path(tmp)
        package = icu_package_name(name)
        full, trimmed = work / f"{package}.dat", work / "trimmed" / f"{package}.dat"
        trimmed.parent.mkdir()
        full.write_bytes(blob)
        items = run([icupkg, "-l", str(full)]).stdout.split()
        removed = [i for i in items if dropped(i)]
        (work / "removed.txt").write_text("\n".join(removed) + "\n", encoding="ascii")
        run([icupkg, "-r", str(work / "removed.txt"), str(full), str(trimmed)])
        kept = run([icupkg, "-l", str(trimmed)]).stdout.split()
        if len(kept) != len(items) - len(removed) or any(dropped(i) for i in kept):
            raise SlimError(f"icupkg kept {len(kept)} of {len(items)} ICU items, expected "
                            f"{len(items) - len(removed)}")
        # A data-only library: the blob under the symbol ICU's common library looks for.
        asm = work / "data.S"
        asm.write_text(
            f'\t.section .rodata\n\t.globl {name}\n\t.type {name}, @object\n\t.balign 16\n'
            f'{name}:\n\t.incbin "{trimmed.as_posix()}"\n\t.size {name}, . - {name}\n'
            '\t.section .note.GNU-stack,"",@progbits\n', encoding="ascii")
        target = out_dir / library.name
        run([cc, "-shared", "-nostdlib", f"-Wl,-soname,{library.name}", "-o", str(target), str(asm)])
        if icu_data_symbol(target) != (name, trimmed.read_bytes()):
            raise SlimError(f"{target}: the data symbol did not survive linking")
    return target


# -- applying both to a bundle -----------------------------------------------------------------
def check_dependencies(bundle: Path, library: Path) -> None:
    """Every library ``library`` needs is in the bundle or is part of glibc."""
    present = {p.name for p in bundle.rglob("*.so*")}
    missing = [n for n in needed(library) if n not in present and not SYSTEM_LIBRARIES.match(n)]
    if missing:
        raise SlimError(f"{library.relative_to(bundle)} needs {', '.join(missing)}, which the bundle lacks")


def replace(path: Path, new: Path) -> tuple[int, int]:
    before = path.stat().st_size
    part = path.with_name(path.name + ".part")
    shutil.copy2(new, part)
    part.chmod(0o755)
    os.replace(part, path)
    return before, path.stat().st_size


def slim_bundle(bundle: Path, cache: Path = CACHE) -> list[tuple[str, int, int]]:
    """Swap the bundle's llvmlite and ICU data for the slim builds; (file, before, after)."""
    internal = bundle / "_internal"
    changes = []
    llvm = internal / "llvmlite" / "binding" / "libllvmlite.so"
    if not llvm.is_file():
        raise SlimError(f"{llvm} not found")
    changes.append((str(llvm.relative_to(bundle)), *replace(llvm, build_llvmlite_x86(cache))))
    check_dependencies(bundle, llvm)
    icu = sorted((internal / "PySide6" / "Qt" / "lib").glob("libicudata.so.*"))
    if len(icu) != 1:
        raise SlimError(f"expected one libicudata.so.* in the bundle, found {len(icu)}")
    with tempfile.TemporaryDirectory(prefix="icu-lib-") as tmp:
        changes.append((str(icu[0].relative_to(bundle)), *replace(icu[0], trim_icu_data(icu[0], Path(tmp)))))
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-deps", action="store_true",
                        help="print the Debian packages the slim builds need")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"build cache (default {CACHE})")
    args = parser.parse_args(argv)
    try:
        if args.build_deps:
            print(" ".join(build_dependencies(args.cache)))
        else:
            print(build_llvmlite_x86(args.cache))
    except SlimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
