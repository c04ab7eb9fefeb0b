"""Market data: providers (Yahoo, CSV folder, bundled demo, synthetic), cleaning, the
SQLite bar store and incremental refresh. No Qt; pandas and yfinance load only when a
provider that needs them is used."""
from core.data.bars import Bars, empty_bars
from core.data.cleaning import POLICIES, CleaningReport, clean_arrays
from core.data.intervals import INTERVALS, interval_seconds
from core.data.providers import SOURCES_HELP, FetchResult, Provider, make_provider
from core.data.refresh import RefreshReport, closes_for_symbol, is_stale, refresh, stale_after
from core.data.store import BarStore, SeriesInfo

__all__ = [
    "INTERVALS",
    "POLICIES",
    "SOURCES_HELP",
    "BarStore",
    "Bars",
    "CleaningReport",
    "FetchResult",
    "Provider",
    "RefreshReport",
    "SeriesInfo",
    "clean_arrays",
    "closes_for_symbol",
    "empty_bars",
    "interval_seconds",
    "is_stale",
    "make_provider",
    "refresh",
    "stale_after",
]
