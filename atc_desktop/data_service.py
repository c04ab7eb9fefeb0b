"""The app's door to ``core.data``: one provider and one bar store, used from worker threads.

Nothing here touches Qt. Every call may block (network, disk), so only jobs call it.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.data.intervals import Timeframe, available_intervals, resample_base
from core.data.resample import ResampledView
from core.errors import DataError, ProviderUnavailable

log = logging.getLogger(__name__)


class DataService:
    """A provider (made lazily from a spec such as ``"bundled"``) and a :class:`BarStore`.

    Parameters
    ----------
    store_path : the SQLite file of the bar store.
    source : provider spec for ``core.data.make_provider``.
    replay : for the bundled provider, reveal the bars one refresh at a time.
    provider : an already-built provider (tests, benchmarks) instead of ``source``.
    """

    def __init__(self, store_path: Path, source: str = "bundled", replay: bool = True,
                 provider: Any = None, **provider_options: Any) -> None:
        self.store_path = store_path
        self.source = source
        self.replay = replay
        self._provider = provider
        self._provider_options = provider_options
        self._store: Any = None
        # The store locks itself; this lock only keeps two refreshes (the screening's and a
        # chart's fetch-if-missing) from interleaving, e.g. both moving a replay on.
        self._fetch_lock = threading.Lock()
        self._init_lock = threading.RLock()     # lazy creation from several jobs

    @property
    def provider(self) -> Any:
        with self._init_lock:
            if self._provider is None:
                from core.data import make_provider

                kwargs = dict(self._provider_options)
                if self.source == "bundled":
                    kwargs["replay"] = self.replay
                    if self.replay and "replay_start" not in kwargs:
                        kwargs["replay_start"] = self._replay_start(make_provider)
                self._provider = make_provider(self.source, **kwargs)
            return self._provider

    def _replay_start(self, make_provider: Any) -> int | None:
        """Where a bundled replay resumes: after the newest bundled bar already stored, so
        a restart keeps the numbers moving instead of waiting for the replay to catch up.
        When the stored bars reach the end of the file the replay starts over (the bundled
        series are dropped from the store; other sources' bars are untouched)."""
        store = self.store
        stored = {}
        for sym in store.symbols("1d"):
            info = store.info(sym, "1d")
            if info is not None and info.source == "bundled":
                stored[sym] = info.last_ts
        if not stored:
            return None
        full = make_provider("bundled", replay=False)
        result = full.fetch(full.symbols(), "1d")
        calendar = np.unique(np.concatenate([b.timestamps for b in result.bars.values()]))
        start = int(np.searchsorted(calendar, max(stored.values()), side="right"))
        if start >= calendar.size:
            log.info("the bundled replay reached the end of the file; starting it over")
            for sym in stored:
                store.delete(sym, "1d")
            return None
        return start

    @property
    def store(self) -> Any:
        with self._init_lock:
            if self._store is None:
                from core.data import BarStore

                self._store = BarStore(self.store_path)
            return self._store

    def intervals(self) -> tuple[Timeframe, ...]:
        """Every interval on offer, shortest first: the provider's own (``base`` None) and
        those resampled from one of them (``core.data.intervals.available_intervals``)."""
        return tuple(available_intervals(self.provider.intervals))

    @property
    def source_name(self) -> str:
        """The name the provider gives its bars (``Bars.source``): "yahoo", "bundled"…"""
        return str(self.provider.name)

    def resample_base(self, interval: str) -> str | None:
        """The provider's interval that ``interval`` is resampled from, or None when the
        provider delivers ``interval`` itself (or cannot serve it at all)."""
        return resample_base(interval, self.provider.intervals)

    def bar_source(self, interval: str) -> Any:
        """Something to read ``interval``'s bars from with the store's ``info``/``load``/
        ``load_many``: the store itself, or for a resampled interval a read-only view that
        resamples the stored base bars (resampled bars are never stored). Make a new one
        after each refresh: a view keeps what it resampled."""
        base = self.resample_base(interval)
        return self.store if base is None else ResampledView(self.store, interval, base)

    def _fetched_interval(self, interval: str) -> str:
        """The interval the provider is asked for (and the store holds) for ``interval``."""
        return self.resample_base(interval) or interval

    def validate(self, symbols: list[str]) -> dict[str, str]:
        """Symbols the provider does not know, each with the reason."""
        return dict(self.provider.validate_symbols(symbols))

    def refresh(self, symbols: list[str], interval: str) -> Any:
        """Fetch new bars into the store; returns ``core.data.RefreshReport``. A resampled
        interval refreshes its base interval."""
        from core.data import refresh

        provider = self.provider
        with self._fetch_lock:
            return refresh(self.store, provider, symbols, self._fetched_interval(interval))

    def load_many(self, symbols: list[str], interval: str) -> dict[str, Any]:
        """Stored (or resampled) bars per symbol (symbols without bars are absent)."""
        loaded = self.bar_source(interval).load_many(symbols, interval)
        return {s: b for s, b in loaded.items() if b is not None and len(b)}

    def info(self, symbol: str, interval: str) -> Any:
        """``SeriesInfo`` of the stored (or resampled) series, or None."""
        return self.bar_source(interval).info(symbol, interval)

    def load(self, symbol: str, interval: str, last: int | None = None) -> Any:
        bars = self.bar_source(interval).load(symbol, interval, last=last)
        if bars is None or len(bars) == 0:
            raise DataError(f"{symbol}: no {interval} bars stored yet", symbol=symbol)
        return bars

    def staleness(self, symbols: list[str], interval: str, now: float | None = None) -> dict[str, str]:
        """For each stale symbol, why its data is not fresh."""
        from core.data import is_stale

        now = time.time() if now is None else now
        interval = self._fetched_interval(interval)    # a resample is as fresh as its base
        out: dict[str, str] = {}
        for s in symbols:
            last = self.store.last_fetch(s, interval)
            if last is None:
                out[s] = "never fetched"
            elif is_stale(last, interval, now):
                out[s] = f"last fetched {_ago(now - last)} ago"
        return out

    def last_fetched(self, symbols: list[str], interval: str) -> float | None:
        """Unix time of the newest successful fetch from this source among ``symbols``
        (None: never; bars another source left in the store do not count)."""
        interval = self._fetched_interval(interval)
        source = self.source_name
        times = []
        for s in symbols:
            info = self.store.info(s, interval)
            when = self.store.last_fetch(s, interval) if info is not None and info.source == source else None
            if when is not None:
                times.append(when)
        return max(times) if times else None

    def unavailable(self, exc: ProviderUnavailable, symbols: list[str], interval: str) -> str:
        """The one line that reports a provider-wide failure: what happened (the error's
        text before its details in parentheses) and what is shown instead, e.g. "cannot
        reach Yahoo Finance — showing cached data from 14:02"."""
        headline = str(exc).split(" (", 1)[0]
        last = self.last_fetched(symbols, interval)
        if last is None:
            return f"{headline} — no cached data yet"
        return f"{headline} — showing cached data from {_clock(last)}"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _clock(when: float, now: float | None = None) -> str:
    """HH:MM for a time of today, else the date too."""
    now = time.time() if now is None else now
    same_day = time.localtime(when)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.localtime(when))


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
