"""The Linux desktop entry, its per-user installer and the application icon."""
from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging" / "linux"
ICONS = REPO / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def read_entry(path: Path) -> dict[str, str]:
    class CaseSensitive(configparser.ConfigParser):
        def optionxform(self, optionstr: str) -> str:      # desktop-entry keys keep their case
            return optionstr

    parser = CaseSensitive(interpolation=None, delimiters=("=",))
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def test_desktop_entry_keys() -> None:
    entry = read_entry(LINUX / "atc-desktop.desktop")
    assert entry["Type"] == "Application"
    assert entry["Name"] == "ATC Desktop"
    assert entry["Exec"] == "ATC-Desktop" and entry["Icon"] == "atc-desktop"
    assert entry["Terminal"] == "false"
    for key in ("Categories", "Keywords"):
        assert entry[key].endswith(";"), key          # lists end with a semicolon (spec)
    assert "Finance" in entry["Categories"].split(";")


def test_desktop_entry_validates_when_the_validator_is_installed() -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate (desktop-file-utils) not installed")
    run = subprocess.run([validator, str(LINUX / "atc-desktop.desktop")], capture_output=True, text=True)
    assert run.returncode == 0 and "error" not in run.stdout.lower(), run.stdout + run.stderr


def test_icon_svg_and_every_png_size() -> None:
    root = ET.parse(ICONS / "atc-desktop.svg").getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 256 256"
    for size in SIZES:
        assert png_size(ICONS / f"atc-desktop-{size}.png") == (size, size)
    assert (ICONS / "atc-desktop.png").read_bytes() == (ICONS / "atc-desktop-256.png").read_bytes()


def fake_bundle(where: Path) -> Path:
    """An unpacked-bundle look-alike: the executable, the entry, its installer, the icons."""
    where.mkdir(parents=True)
    exe = where / "ATC-Desktop"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    for name in ("atc-desktop.desktop", "install-desktop-entry.sh"):
        shutil.copy2(LINUX / name, where / name)
    (where / "icons").mkdir()
    for png in ICONS.glob("atc-desktop-*.png"):
        shutil.copy2(png, where / "icons" / png.name)
    shutil.copy2(ICONS / "atc-desktop.svg", where / "icons" / "atc-desktop.svg")
    return where


def install(bundle: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_DATA_HOME=str(data), HOME=str(data.parent))
    return subprocess.run(["sh", str(bundle / "install-desktop-entry.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_installer_points_the_entry_at_the_bundle_and_removes_it(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "Apps" / "ATC Desktop 0.1")      # a space in the path
    data = tmp_path / "data"
    done = install(bundle, data)
    assert done.returncode == 0, done.stderr
    installed = data / "applications" / "atc-desktop.desktop"
    entry = read_entry(installed)
    real = bundle.resolve()
    assert entry["Exec"] == f'"{real}/ATC-Desktop"'
    assert entry["TryExec"] == f"{real}/ATC-Desktop"
    assert entry["Icon"] == "atc-desktop" and entry["Name"] == "ATC Desktop"
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "atc-desktop.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "atc-desktop.svg").is_file()
    validator = shutil.which("desktop-file-validate")
    if validator is not None:                # the quoted Exec must stay valid
        checked = subprocess.run([validator, str(installed)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    removed = install(bundle, data, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert not installed.exists()
    assert not list((data / "icons").rglob("atc-desktop.*"))


def test_installer_refuses_paths_it_cannot_quote_and_missing_executables(tmp_path: Path) -> None:
    odd = fake_bundle(tmp_path / "price$folder")
    done = install(odd, tmp_path / "data")
    assert done.returncode == 2 and "contains one of" in done.stderr
    assert not (tmp_path / "data" / "applications" / "atc-desktop.desktop").exists()

    empty = fake_bundle(tmp_path / "no-exe")
    (empty / "ATC-Desktop").unlink()
    done = install(empty, tmp_path / "data")
    assert done.returncode == 2 and "not found" in done.stderr
