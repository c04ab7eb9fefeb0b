"""ATC Desktop: the PySide6 + pyqtgraph trading monitor over the Qt-free core package."""
from atc_desktop.pyside_fix import protect_true

# Before any widget or signal exists: PySide6 6.12.0 loses a reference to True per emit.
protect_true()
