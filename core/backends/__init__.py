"""Compute backends: the contract (`base`), the built-in numpy and numba backends, and the
registry that picks one and falls back when one fails."""
