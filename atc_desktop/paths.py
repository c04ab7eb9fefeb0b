"""Where the app keeps its files: config, data (the bar store), cache (numba) and logs.

The folders are ``core.paths``' (platformdirs "atc-desktop", or ``$ATC_DESKTOP_HOME``), so
the app and the ``atc`` command share one bar store. An explicit ``home`` puts all four
under one folder the same way, for tests and benchmarks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core import paths as core_paths
from core.data.store import DB_NAME


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> AppPaths:
        """The folders under ``home`` when given, else the project's user folders."""
        if home is not None:
            base = Path(home).expanduser()
            return cls(base / "config", base / "data", base / "cache", base / "log")
        return cls(core_paths.config_dir(), core_paths.data_dir(), core_paths.cache_dir(),
                   core_paths.log_dir())

    def ensure(self) -> AppPaths:
        for d in (self.config_dir, self.data_dir, self.cache_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def watchlists_file(self) -> Path:
        return self.config_dir / "watchlists.json"

    @property
    def alerts_file(self) -> Path:
        return self.config_dir / "alerts.json"

    @property
    def layout_file(self) -> Path:
        return self.config_dir / "layout.ini"

    @property
    def bar_store(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def numba_cache(self) -> Path:
        return self.cache_dir / "numba"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "atc-desktop.log"
