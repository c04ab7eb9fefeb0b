"""The packaged build's lock file, ``packaging/requirements.lock``: the exact version of every
Python package the build uses (pyproject's runtime dependencies and its ``package`` extra,
with everything they require), as installed in the environment that ran this script.

    python packaging/lock.py                     # rewrite the lock from this environment
    python packaging/lock.py --check             # exit 1, listing them, if it differs from the lock
    python packaging/lock.py --requirements dev,package   # pyproject's requirements, one a line

``make test`` and ``make package`` install with the lock as pip constraints, and ``build.py``
installs the locked versions before building when the environment differs from them.
"""
from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import re
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "packaging" / "requirements.lock"
#: pyproject groups in the packaged build: "runtime" is [project].dependencies.
LOCKED_GROUPS = ("runtime", "package")


def project_requirements(groups: tuple[str, ...] | list[str], pyproject: Path = PYPROJECT) -> list[str]:
    """The requirement strings of pyproject's groups, in file order ("runtime" or an extra)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    out: list[str] = []
    for group in groups:
        if group == "runtime":
            out += project.get("dependencies", [])
        elif group in extras:
            out += extras[group]
        else:
            raise SystemExit(f"pyproject.toml has no extra {group!r}; extras are: "
                             f"{', '.join(['runtime', *extras])}")
    return out


def canonicalize_name(name: str) -> str:
    """PEP 503's normalised project name (``PySide6_Essentials`` → ``pyside6-essentials``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in extras | {""})


def resolve(requirements: list[str]) -> dict[str, str]:
    """{canonical name: installed version} of ``requirements`` and of all they require, as
    installed here (markers evaluated for this interpreter and platform)."""
    # PyPA's `packaging` (PyInstaller needs it, so the build environment has it); imported
    # here so that --requirements and --check also run in a bare environment. This folder
    # is named packaging/ too, but without __init__.py it never shadows the library.
    from packaging.requirements import Requirement

    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(req, "pyproject.toml") for req in map(Requirement, requirements)
            if _applies(req, set())]
    while todo:
        req, wanted_by = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{req.name} (needed by {wanted_by}) is not installed here: lock "
                             "from the environment that builds the package (make package)") from None
        pins[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if _applies(sub, set(req.extras)):
                todo.append((sub, f"{name} {dist.version}"))
    return dict(sorted(pins.items()))


def render(pins: dict[str, str]) -> str:
    where = f"CPython {platform.python_version()}, {sys.platform} {platform.machine()}"
    head = [
        "# The packaged build's Python packages at exact versions: pyproject.toml's runtime",
        "# dependencies and its \"package\" extra, with everything they require.",
        f"# Taken from the environment that built it ({where}).",
        "# Regenerate with `make lock` (python packaging/lock.py) after changing that environment.",
    ]
    return "\n".join(head + [f"{name}=={version}" for name, version in pins.items()]) + "\n"


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """{canonical name: version} of a lock file (comments and blank lines skipped)."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise ValueError(f"{path}: line {number}: expected NAME==VERSION, got {raw!r}")
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def differences(lock: dict[str, str]) -> list[str]:
    """How this environment differs from ``lock``, one line per package (empty: it matches)."""
    out = []
    for name, version in lock.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(f"{name}: locked {version}, not installed")
            continue
        if have != version:
            out.append(f"{name}: locked {version}, installed {have}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare this environment with the lock instead of writing it")
    parser.add_argument("--requirements", metavar="GROUPS",
                        help="print the requirements of pyproject's GROUPS (comma-separated: "
                             "runtime and extra names), one a line, and exit")
    parser.add_argument("--lock", type=Path, default=LOCK, help=f"lock file (default {LOCK.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.requirements:
        print("\n".join(project_requirements([g.strip() for g in args.requirements.split(",")])))
        return 0
    if args.check:
        diff = differences(read_lock(args.lock))
        for line in diff:
            print(line)
        return 1 if diff else 0
    text = render(resolve(project_requirements(LOCKED_GROUPS)))
    tmp = args.lock.with_name(args.lock.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.lock)
    print(f"wrote {args.lock}: {text.count('==')} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
