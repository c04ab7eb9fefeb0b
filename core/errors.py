"""Errors raised by the core: each message says what was wrong, where, and what to do."""
from __future__ import annotations


class ATCError(Exception):
    """Base class of every error the project raises on purpose."""


class ATCInputError(ATCError, ValueError):
    """An invalid parameter or input series.

    ``field`` names the parameter (or input) that was wrong, so a settings form can put the
    message next to the right widget.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DataError(ATCError):
    """Market data that could not be read, fetched or cleaned (names the symbol/file/bar)."""

    def __init__(self, message: str, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol


class BackendError(ATCError):
    """A compute backend that is unavailable or failed while computing."""

    def __init__(self, message: str, backend: str | None = None) -> None:
        super().__init__(message)
        self.backend = backend
