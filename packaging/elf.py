"""What the packaging scripts read from ELF shared libraries: load segments (pure Python),
dependencies and exported symbols (binutils' ``readelf`` and ``nm``)."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import NamedTuple

PT_LOAD = 1
PAGE = 4096


class Segment(NamedTuple):
    offset: int
    vaddr: int
    filesz: int
    align: int


class Symbol(NamedTuple):
    name: str
    address: int
    size: int


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def load_segments(path: Path) -> list[Segment] | None:
    """The PT_LOAD segments of a 64-bit ELF file (None for anything else)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        order = "<" if head[5] == 1 else ">"
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    segments = []
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, align = struct.unpack_from(
            order + "IIQQQQQQ", table, i * phentsize)
        if p_type == PT_LOAD:
            segments.append(Segment(offset, vaddr, filesz, align))
    return segments


def loadable_segments(path: Path) -> bool:
    """Whether every PT_LOAD segment's file offset and address agree modulo the page size
    and the segment's alignment. ``strip`` breaks that for libraries that auditwheel's
    patchelf rewrote (the dynamic loader then refuses them: "ELF load command
    address/offset not page-aligned")."""
    segments = load_segments(path)
    if segments is None:
        return False
    return all(not (s.vaddr - s.offset) % PAGE and not (s.align > 1 and (s.vaddr - s.offset) % s.align)
               for s in segments)


def file_offset(path: Path, address: int) -> int:
    """Where the byte mapped at ``address`` lies in the file."""
    for s in load_segments(path) or []:
        if s.vaddr <= address < s.vaddr + s.filesz:
            return address - s.vaddr + s.offset
    raise ValueError(f"{path.name}: address {address:#x} is not in a loaded segment")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"'{name}' not found: install binutils")
    return found


def needed(path: Path) -> list[str]:
    """The DT_NEEDED entries: the libraries the dynamic loader must find for this one."""
    out = subprocess.run([_tool("readelf"), "-dW", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def exported_symbols(path: Path) -> list[Symbol]:
    """Defined dynamic symbols with their address and size."""
    out = subprocess.run([_tool("nm"), "-D", "--defined-only", "-S", "--format=posix", str(path)],
                         capture_output=True, text=True, check=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols.append(Symbol(parts[0], int(parts[2], 16), int(parts[3], 16)))
        elif len(parts) == 3:
            symbols.append(Symbol(parts[0], int(parts[2], 16), 0))
    return symbols
