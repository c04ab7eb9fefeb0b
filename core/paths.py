"""Where the project keeps per-user files. ``ATC_DESKTOP_HOME`` relocates all of them
(tests, portable installs); otherwise the platform's user directories are used."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "atc-desktop"


def _dir(kind: str) -> Path:
    home = os.environ.get("ATC_DESKTOP_HOME")
    if home:
        path = Path(home) / kind
    else:
        path = Path(getattr(platformdirs, f"user_{kind}_dir")(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """JIT caches and generated kernels (safe to delete)."""
    return _dir("cache")


def data_dir() -> Path:
    """The bar store and other data worth keeping."""
    return _dir("data")


def config_dir() -> Path:
    """Watchlists, settings, window layout."""
    return _dir("config")


def log_dir() -> Path:
    return _dir("log")


def resource_path(*parts: str) -> Path:
    """A file shipped in ``resources/``: inside a PyInstaller bundle when frozen, else in
    the source tree."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidate = Path(frozen_root, "resources", *parts)
        if candidate.exists():
            return candidate
    return Path(__file__).resolve().parents[1].joinpath("resources", *parts)
