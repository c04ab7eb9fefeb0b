"""Dark and light themes: a Fusion palette for the widgets and the tone colours the
watchlist uses for bull / bear / neutral / stale / error cells."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class AppTheme:
    name: str
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    button: str
    highlight: str
    highlight_text: str
    bull: str
    bear: str
    neutral: str
    warn: str
    error: str

    def tones(self) -> dict[str, QColor]:
        return {k: QColor(getattr(self, k)) for k in ("bull", "bear", "neutral", "warn", "error", "muted")}


THEMES: dict[str, AppTheme] = {
    "dark": AppTheme("dark", window="#1e222d", base="#131722", alt_base="#191d28", text="#d1d4dc",
                     muted="#787b86", button="#2a2e39", highlight="#2962ff", highlight_text="#ffffff",
                     bull="#26a69a", bear="#ef5350", neutral="#9598a1", warn="#ffb74d", error="#ff5252"),
    "light": AppTheme("light", window="#f3f4f6", base="#ffffff", alt_base="#f7f8fa", text="#131722",
                      muted="#6a6d78", button="#e6e8ec", highlight="#2962ff", highlight_text="#ffffff",
                      bull="#089981", bear="#f23645", neutral="#6a6d78", warn="#b26a00", error="#d50000"),
}


def palette_of(theme: AppTheme) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    pairs = {
        role.Window: theme.window, role.WindowText: theme.text, role.Base: theme.base,
        role.AlternateBase: theme.alt_base, role.Text: theme.text, role.Button: theme.button,
        role.ButtonText: theme.text, role.ToolTipBase: theme.window, role.ToolTipText: theme.text,
        role.Highlight: theme.highlight, role.HighlightedText: theme.highlight_text,
        role.PlaceholderText: theme.muted, role.BrightText: theme.error, role.Link: theme.highlight,
    }
    for r, colour in pairs.items():
        p.setColor(r, QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(theme.muted))
    return p


def style_sheet(theme: AppTheme) -> str:
    """Inline validation and status colours (the palette cannot express a property rule)."""
    return f"""
QLabel#errorLabel {{ color: {theme.error}; }}
QLabel#rangeLabel {{ color: {theme.muted}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {theme.error}; }}
QLabel#settingsStatus[invalid="true"], QLabel#chartStatus[invalid="true"] {{ color: {theme.error}; }}
QLabel#chartStatus, QLabel#settingsStatus {{ color: {theme.muted}; }}
QLabel#sourceBadge {{ color: {theme.warn}; font-weight: 600; }}
QLabel#errorBadge {{ color: {theme.error}; }}
QTableView {{ gridline-color: {theme.alt_base}; }}
"""


def apply_theme(app: QApplication, name: str) -> AppTheme:
    """Switch the whole application to theme ``name`` ("dark" or "light")."""
    theme = THEMES[name]
    app.setStyle("Fusion")
    app.setPalette(palette_of(theme))
    app.setStyleSheet(style_sheet(theme))
    return theme
