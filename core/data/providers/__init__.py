"""Market-data providers and ``make_provider``, which builds one from a source string.

Provider modules are imported on demand: the Yahoo provider pulls in yfinance and the
others pandas, which the store and the indicator never need.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.data.providers.base import FetchResult, Provider
from core.errors import DataError

SOURCES_HELP = "yahoo, csv:DIR, bundled or synthetic"


def make_provider(source: str, **options: Any) -> Provider:
    """Build the provider named by ``source``.

    Parameters
    ----------
    source : str
        ``"yahoo"``, ``"csv:DIR"`` (a folder of CSV files), ``"bundled"`` or
        ``"synthetic"``.
    **options
        Passed to the provider: bundled takes ``replay`` and ``replay_start``; synthetic
        takes ``count``, ``bars`` and ``seed``; csv takes ``tz``; yahoo takes
        ``batch_size``, ``max_wait_s`` and test hooks (``download``, ``sleep``, ``clock``).

    Raises
    ------
    DataError
        For an unknown source, a missing CSV folder or an option the provider lacks.
    """
    kind, _, arg = source.strip().partition(":")
    kind = kind.lower()
    try:
        if kind == "yahoo" and not arg:
            from core.data.providers.yahoo import YahooProvider

            return YahooProvider(**options)
        if kind == "csv":
            if not arg:
                raise DataError("csv source needs a folder: csv:DIR")
            from core.data.providers.csv_folder import CsvFolderProvider

            return CsvFolderProvider(Path(arg), **options)
        if kind == "bundled" and not arg:
            from core.data.providers.bundled import BundledProvider

            return BundledProvider(**options)
        if kind == "synthetic" and not arg:
            from core.data.providers.synthetic import SyntheticProvider

            return SyntheticProvider(**options)
    except TypeError as exc:
        raise DataError(f"bad option for the {kind} source: {exc}") from exc
    raise DataError(f"unknown data source {source!r}; use {SOURCES_HELP}")


__all__ = ["FetchResult", "Provider", "SOURCES_HELP", "make_provider"]
