"""Where the app keeps its files: config, data (the bar store), cache (numba) and logs.

``ATC_DESKTOP_HOME`` (or an explicit ``home``) puts all four under one folder, so tests and
benchmarks never touch the user's real profile.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "atc-desktop"
HOME_ENV = "ATC_DESKTOP_HOME"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> AppPaths:
        """Paths under ``home`` / ``$ATC_DESKTOP_HOME`` when given, else platformdirs'."""
        root = home if home is not None else os.environ.get(HOME_ENV)
        if root:
            base = Path(root).expanduser()
            return cls(base / "config", base / "data", base / "cache", base / "logs")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        )

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
        return self.data_dir / "bars.sqlite"

    @property
    def numba_cache(self) -> Path:
        return self.cache_dir / "numba"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "atc-desktop.log"
