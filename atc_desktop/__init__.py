"""ATC Desktop: the PySide6 + pyqtgraph trading monitor over the Qt-free core package."""
