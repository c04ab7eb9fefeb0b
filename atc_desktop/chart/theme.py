"""Colour themes of the chart: one palette per theme, read by every item on repaint."""
from __future__ import annotations

from dataclasses import dataclass

from core.config import FAMILIES

#: Trend classes used by every coloured item (index into ``Theme.trend``).
BULL, BEAR, NEUTRAL = 0, 1, 2


@dataclass(frozen=True)
class FamilyColors:
    """Colours of one family's base-length MA: bullish, bearish and flat state."""

    bull: str
    bear: str
    flat: str


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    panel: str
    foreground: str
    muted: str
    grid_alpha: float
    axis: str
    crosshair: str
    bull: str                 # candles / signal above zero (spec §9: base > 0)
    bear: str                 # candles / signal at or below zero
    neutral: str              # bars without a signal (before the cutout)
    volume_up_alpha: int
    warmup: str               # shading of the warm-up bars, #RRGGBBAA
    threshold_long: str
    threshold_short: str
    warning_bg: str
    warning_fg: str
    families: tuple[FamilyColors, ...]

    @property
    def trend(self) -> tuple[str, str, str]:
        return (self.bull, self.bear, self.neutral)

    def family(self, name: str) -> FamilyColors:
        return self.families[FAMILIES.index(name)]


# Each family keeps a hue of its own inside the green (bull) and red (bear) ranges, so the
# six lines stay "coloured by trend state" and still tell apart from each other.
_DARK_FAMILIES = (
    FamilyColors("#26c6da", "#ff5252", "#78909c"),   # EMA: cyan / red
    FamilyColors("#66bb6a", "#ff9800", "#8d9ba3"),   # HMA: green / orange
    FamilyColors("#d4e157", "#f06292", "#9e9e9e"),   # WMA: lime / pink
    FamilyColors("#4dd0e1", "#e040fb", "#90a4ae"),   # DEMA: aqua / magenta
    FamilyColors("#00e676", "#ff6e40", "#a1887f"),   # LSMA: spring green / coral
    FamilyColors("#80cbc4", "#ffd54f", "#b0bec5"),   # KAMA: teal-grey / amber
)
_LIGHT_FAMILIES = (
    FamilyColors("#00838f", "#c62828", "#607d8b"),
    FamilyColors("#2e7d32", "#ef6c00", "#78909c"),
    FamilyColors("#827717", "#ad1457", "#757575"),
    FamilyColors("#0277bd", "#8e24aa", "#546e7a"),
    FamilyColors("#00a152", "#d84315", "#795548"),
    FamilyColors("#00695c", "#ff8f00", "#616161"),
)

DARK = Theme(
    name="dark", background="#131722", panel="#1e222d", foreground="#d1d4dc",
    muted="#787b86", grid_alpha=0.12, axis="#9598a1", crosshair="#9598a1",
    bull="#26a69a", bear="#ef5350", neutral="#787b86", volume_up_alpha=110,
    warmup="#ffffff12", threshold_long="#26a69a", threshold_short="#ef5350",
    warning_bg="#4a3b00", warning_fg="#ffd54f", families=_DARK_FAMILIES,
)
LIGHT = Theme(
    name="light", background="#ffffff", panel="#f3f4f6", foreground="#131722",
    muted="#6a6d78", grid_alpha=0.18, axis="#50535e", crosshair="#6a6d78",
    bull="#089981", bear="#f23645", neutral="#9598a1", volume_up_alpha=120,
    warmup="#0000001a", threshold_long="#089981", threshold_short="#f23645",
    warning_bg="#fff3cd", warning_fg="#7a5b00", families=_LIGHT_FAMILIES,
)
THEMES: dict[str, Theme] = {"dark": DARK, "light": LIGHT}


def theme_named(name: str) -> Theme:
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}: choose one of {', '.join(THEMES)}") from None
