"""Widgets that say what the data and the kernels are doing: the banner above the
watchlist for a provider-wide problem (no network, a rate-limit cool-down), and the status
bar's compile indicator of a first start."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from atc_desktop.kernel_warmup import KernelWarmup

#: One orange for both themes: the banner must stand out on dark and light alike.
_BANNER_STYLE = ("QLabel#problemBanner { border-left: 4px solid #e69500; padding: 4px 8px; "
                 "font-weight: 600; }")


class ProblemBanner(QLabel):
    """A strip above the watchlist, shown only while the data source has a problem that
    concerns every symbol; hovering it shows the source's own words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("problemBanner")
        self.setStyleSheet(_BANNER_STYLE)
        self.setWordWrap(True)
        self.hide()

    def show_problem(self, text: str, detail: str = "") -> None:
        """Show ``text`` ("cannot reach Yahoo Finance — showing cached data from 14:02"),
        or hide the banner when it is empty."""
        self.setText(f"⚠ {text}" if text else "")
        self.setToolTip(detail)
        self.setVisible(bool(text))


def with_banner(widget: QWidget, banner: ProblemBanner) -> QWidget:
    """``widget`` under ``banner`` in one container (no margins: a hidden banner leaves the
    widget exactly as it was)."""
    box = QWidget(widget.parentWidget())
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    lay.addWidget(banner)
    lay.addWidget(widget, 1)
    return box


class CompileIndicator(QWidget):
    """Status-bar text and a busy bar while numba's kernels compile on a first start;
    hidden otherwise (a failed compile leaves its one-line reason)."""

    def __init__(self, kernels: KernelWarmup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kernels = kernels
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)                 # busy: a compile has no known length
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(80)
        self.bar.setMaximumHeight(12)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        kernels.state_changed.connect(self.show_state)
        self.show_state(kernels.state)

    def show_state(self, state: str) -> None:
        self.label.setText(self.kernels.message)
        self.label.setToolTip("numba compiles the screening kernels once per installation; "
                              "meanwhile the Rust backend screens with the same results")
        self.bar.setVisible(state == "compiling")
        self.setVisible(state != "ready")
