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


class ProviderUnavailable(DataError):
    """The data source as a whole cannot serve now (no network, rate limited): nothing is
    wrong with any one symbol, and the stored bars are all there is to show."""


class NetworkUnavailable(ProviderUnavailable):
    """The data source cannot be reached (no network, DNS or connection failures)."""


class RateLimited(ProviderUnavailable):
    """The data source refuses requests for a while; ``until`` is the unix time before
    which no request is sent (the provider's cool-down)."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until
