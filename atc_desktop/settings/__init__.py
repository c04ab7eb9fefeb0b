"""The settings dock: ATC parameters built from ``ATCConfig``, data source, backends."""
