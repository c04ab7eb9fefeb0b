"""The app's own settings (data source, refresh, backend, theme) plus the ATC parameters,
persisted as one JSON file (atomic write on every change)."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atc_desktop.persist import SetAside, expect, load_json, member, write_json
from core.config import FAMILIES, ATCConfig
from core.errors import ATCInputError

log = logging.getLogger(__name__)

THEMES: tuple[str, ...] = ("dark", "light")
#: (min, max) of the app settings that are numbers.
REFRESH_RANGE: tuple[int, int] = (1, 3600)
HISTORY_RANGE: tuple[int, int] = (100, 200_000)


@dataclass(frozen=True)
class AppSettings:
    """Everything the settings panel edits.

    ``source`` is a provider spec for ``core.data.make_provider`` ("bundled", "synthetic",
    "yahoo", "csv:DIR"); ``replay`` applies to the bundled data (bars revealed one per
    refresh so that the numbers move offline). ``history_bars`` is how many of the latest
    bars feed every computation: the ATC depends on its first bar forever (spec §10, §13.1),
    so the UI states it.
    """

    config: ATCConfig = field(default_factory=ATCConfig)
    source: str = "bundled"
    replay: bool = True
    interval: str = "1d"
    refresh_seconds: int = 5
    backend: str = "auto"
    theme: str = "dark"
    history_bars: int = 5000
    #: The family the watchlist's screening column computes alone (EMA: the incremental
    #: EMA-only state; another: its one-family batch each refresh).
    screening_family: str = "EMA"

    def __post_init__(self) -> None:
        lo, hi = REFRESH_RANGE
        if not lo <= int(self.refresh_seconds) <= hi:
            raise ATCInputError(f"refresh_seconds = {self.refresh_seconds} is out of range: allowed "
                                f"{lo} … {hi}", field="refresh_seconds")
        lo, hi = HISTORY_RANGE
        if not lo <= int(self.history_bars) <= hi:
            raise ATCInputError(f"history_bars = {self.history_bars} is out of range: allowed "
                                f"{lo} … {hi}", field="history_bars")
        if self.theme not in THEMES:
            raise ATCInputError(f"theme = {self.theme!r} is not allowed: choose one of "
                                f"{' | '.join(THEMES)}", field="theme")
        if not self.source:
            raise ATCInputError("source is empty: choose a data source", field="source")
        if self.screening_family not in FAMILIES:
            raise ATCInputError(f"screening_family = {self.screening_family!r} is not allowed: "
                                f"choose one of {' | '.join(FAMILIES)}", field="screening_family")

    def replace(self, **changes: Any) -> AppSettings:
        return dataclasses.replace(self, **changes)

    @property
    def source_label(self) -> str:
        """What the user is looking at, said plainly (bundled replay / synthetic / live)."""
        if self.source == "bundled":
            return "bundled data 2000–2013, replay" if self.replay else "bundled data 2000–2013"
        if self.source.startswith("synthetic"):
            return "synthetic data (random walks)"
        if self.source.startswith("csv:"):
            return f"CSV folder {self.source[4:]}"
        return f"{self.source} (online)"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["config"] = self.config.to_dict()
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AppSettings:
        """Build from a saved dict; a bad entry falls back to its default (logged)."""
        defaults = cls()
        kwargs: dict[str, Any] = {}
        try:
            kwargs["config"] = ATCConfig.from_dict(dict(values.get("config") or {}))
        except (TypeError, ValueError, ArithmeticError) as exc:   # ATCInputError is a ValueError
            log.error("saved ATC parameters are invalid (%s); using defaults", exc)
        for f in dataclasses.fields(cls):
            if f.name == "config" or f.name not in values:
                continue
            candidate = values[f.name]
            if type(candidate) is not type(getattr(defaults, f.name)):
                log.error("saved setting %s = %r has the wrong type; using the default", f.name, candidate)
                continue
            try:
                cls(**{f.name: candidate})
            except ATCInputError as exc:
                log.error("saved setting ignored: %s", exc)
                continue
            kwargs[f.name] = candidate
        return cls(**kwargs)


def parse_settings(data: Any) -> AppSettings:
    """The saved settings; a file that is not an object (or whose parameters are not one)
    is a ShapeError, a bad single entry falls back to its default (``from_dict``)."""
    expect(data, dict, "the settings")
    member(data, "config", dict, {})
    return AppSettings.from_dict(data)


class SettingsFile:
    """Loads and saves :class:`AppSettings` at one path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Set by :meth:`load` when the file was unusable and moved aside.
        self.set_aside: SetAside | None = None

    def load(self) -> AppSettings:
        settings, self.set_aside = load_json(self.path, parse_settings)
        return settings or AppSettings()

    def save(self, settings: AppSettings) -> None:
        write_json(self.path, settings.to_dict())
