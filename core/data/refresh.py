"""Incremental refresh of the store from a provider, staleness, and the close series the
``atc compute`` command reads.

A refresh asks the provider only for what is new, plus an overlap: each stored series is
fetched from its newest ``rewrites.TAIL_BARS`` stored bars on. The newest stored bar may
have been still forming when it was stored, and the upsert counts it only if its values
changed; the closed bars before it are compared with what comes back
(``rewrites.rewrite_cause``). When one of them changed beyond a tight tolerance or is
missing, or the provider reports a split or dividend no compared bar can vouch for, the
provider has rewritten its adjusted history, and appending to the old one would store a
fake jump: the symbol's whole history is fetched again and replaces the stored one in the
same transaction, and ``RefreshReport.rewritten`` says why. Series not stored yet, or
stored from another source, are fetched in full; so are series the store set aside as
damaged (they are no longer stored), including one found damaged while this refresh reads
or merges into it, which is fetched again in full at once. Symbols whose overlaps start
close together share one request (batch downloads); the store is written in one
transaction and the fetch time of every symbol that succeeded is recorded, so the UI can
mark stale data.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from core.data.bars import Bars, format_timestamp
from core.data.cleaning import CleaningReport
from core.data.intervals import interval_seconds, is_intraday
from core.data.providers.base import FetchResult, Provider, normalise_symbol, start_ns, to_utc
from core.data.rewrites import TAIL_BARS, rewrite_cause
from core.data.store import BarStore
from core.data.symbols import symbol_syntax_error
from core.errors import DataError, ProviderUnavailable

log = logging.getLogger(__name__)
#: Stored series whose overlaps start within this many bars of each other share a request.
GROUP_BARS = 30
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class RefreshReport:
    """Outcome of one :func:`refresh`.

    Attributes
    ----------
    updated : dict[str, int]
        New or changed bars per symbol that was fetched successfully (0: nothing new; a
        rewritten symbol counts its whole new history).
    failures : dict[str, str]
        Reason per symbol that could not be fetched; its stored bars are untouched.
    cleaning : dict[str, CleaningReport]
        The cleaner's report per fetched symbol.
    fetched_at : float
        Unix time the fetch completed (recorded in the store for each success).
    refetched : list[str]
        Symbols whose stored bars were found damaged while this refresh read or merged
        them; they were set aside (``BarStore.quarantined``) and their whole history
        fetched again.
    rewritten : dict[str, str]
        Symbols whose stored history the provider had rewritten (a split, a dividend, a
        revised bar), with the reason, e.g. ``"history rewritten: 4:1 split on
        2024-06-10"``: their whole history was fetched again and replaced the stored one.
    """

    updated: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cleaning: dict[str, CleaningReport] = field(default_factory=dict)
    fetched_at: float = 0.0
    refetched: list[str] = field(default_factory=list)
    rewritten: dict[str, str] = field(default_factory=dict)


def ns_to_datetime(timestamp_ns: int) -> dt.datetime:
    """int64 ns since the epoch (UTC) -> aware UTC datetime (microsecond precision)."""
    return _EPOCH + dt.timedelta(microseconds=int(timestamp_ns) // 1000)


@dataclass
class _Plan:
    """The fetch calls of one refresh, (start, symbols) with full fetches first, and what
    the store held of each incrementally fetched symbol."""

    calls: list[tuple[dt.datetime | None, list[str]]] = field(default_factory=list)
    tails: dict[str, Bars] = field(default_factory=dict)  # newest stored bars
    first_ts: dict[str, int] = field(default_factory=dict)  # oldest stored bar
    damaged: list[str] = field(default_factory=list)  # set aside while reading the tail


def _plan(store: BarStore, provider: Provider, symbols: list[str], interval: str) -> _Plan:
    plan = _Plan()
    full: list[str] = []
    incremental: list[tuple[int, str]] = []
    for sym in symbols:
        info = store.info(sym, interval)
        tail = None
        if info is not None and info.source == provider.name:
            try:
                tail = store.load(sym, interval, last=TAIL_BARS)
            except DataError:
                if store.info(sym, interval) is not None:
                    raise  # not damage the store set aside
                plan.damaged.append(sym)
        if tail is None or len(tail) == 0:
            full.append(sym)
        else:
            incremental.append((int(tail.timestamps[0]), sym))
            plan.tails[sym] = tail
            plan.first_ts[sym] = info.first_ts  # type: ignore[union-attr]
    if full:
        plan.calls.append((None, full))
    incremental.sort()
    window = GROUP_BARS * interval_seconds(interval) * 1_000_000_000
    earliest_fn: Callable[[str], dt.datetime | None] | None = getattr(provider, "earliest_start", None)
    earliest = to_utc(earliest_fn(interval)) if earliest_fn else None
    i = 0
    while i < len(incremental):
        group_start = incremental[i][0]
        group = []
        while i < len(incremental) and incremental[i][0] - group_start <= window:
            group.append(incremental[i][1])
            i += 1
        start = ns_to_datetime(group_start)
        if earliest is not None and start < earliest:
            # Older than the provider keeps: fetch what it has; the cleaner reports the gap.
            start = earliest
        plan.calls.append((start, group))
    return plan


def refresh(store: BarStore, provider: Provider, symbols: Sequence[str], interval: str = "1d",
            *, clock: Callable[[], float] = time.time) -> RefreshReport:
    """Bring ``symbols`` up to date in ``store`` from ``provider``.

    Parameters
    ----------
    store : BarStore
        Where the bars go.
    provider : Provider
        Where they come from; a replaying bundled provider reveals exactly one bar per
        refresh, however many fetch calls the refresh makes.
    symbols : sequence of str
        Tickers (normalised to upper case).
    interval : str
        Bar interval.
    clock : callable
        Unix time source (tests).

    Returns
    -------
    RefreshReport
        Per-symbol updates, rewrites, failures and cleaning reports. A request the provider
        refuses as a whole (``DataError``) becomes a failure of each of its symbols.

    Raises
    ------
    ProviderUnavailable
        When the provider could serve nothing at all (no network, a rate-limit cool-down):
        the store is untouched and the caller says so once, not per symbol.
    """
    wanted = list(dict.fromkeys(normalise_symbol(s) for s in symbols if str(s).strip()))
    report = RefreshReport()
    plan = _plan(store, provider, wanted, interval)
    fetched = _fetch(provider, plan.calls, interval, advance=True, raise_unavailable=True)
    _drop_invalid_names(fetched)
    rewritten = _refetch_rewritten(provider, plan, fetched, interval)
    report.fetched_at = float(clock())
    whole = [fetched.bars[s] for s in rewritten if s in fetched.bars]
    report.updated = store.upsert_many(
        [b for s, b in fetched.bars.items() if s not in rewritten], replace=whole)
    report.rewritten = {s: why for s, why in rewritten.items() if s in report.updated}
    for sym, why in report.rewritten.items():
        log.info("%s %s: %s; %d bars now stored", sym, interval, why, report.updated[sym])
    damaged = [s for s in fetched.bars if s not in report.updated]
    report.refetched = plan.damaged + damaged
    if damaged:
        # Their stored history was damaged and set aside while merging: fetch all of it.
        again = _fetch(provider, [(None, damaged)], interval, advance=False)
        _drop_invalid_names(again)
        for sym in damaged:
            fetched.fail(sym, "its stored bars were damaged and set aside; fetching them "
                              "again failed")
        fetched.failures.update(again.failures)
        for sym, bars in again.bars.items():
            fetched.add(bars, again.cleaning[sym])
        report.updated.update(store.upsert_many(list(again.bars.values())))
    report.failures = {s: r for s, r in fetched.failures.items() if s not in report.updated}
    store.mark_fetched_many(list(report.updated), interval, report.fetched_at)
    report.cleaning = {s: c for s, c in fetched.cleaning.items() if s in report.updated}
    return report


def _refetch_rewritten(provider: Provider, plan: _Plan, fetched: FetchResult, interval: str
                       ) -> dict[str, str]:
    """Find the symbols whose stored history the provider rewrote and fetch each one's
    whole history into ``fetched`` in place of its incremental bars.

    Returns the report's reason per rewritten symbol that was fetched again; a symbol whose
    whole history could not be fetched fails instead, so its stored bars stay as they are
    (its incremental bars would have stored the fake jump).
    """
    starts = {s: start_ns(start) for start, group in plan.calls for s in group}
    causes: dict[str, str] = {}
    for sym, tail in plan.tails.items():
        bars = fetched.bars.get(sym)
        if bars is not None:
            cause = rewrite_cause(tail, bars, fetched.actions.get(sym, ()), since=starts[sym] or 0)
            if cause is not None:
                causes[sym] = cause
    if not causes:
        return {}
    again = _fetch(provider, [(None, list(causes))], interval, advance=False)
    _drop_invalid_names(again)
    out: dict[str, str] = {}
    for sym, cause in causes.items():
        bars = again.bars.get(sym)
        if bars is None or len(bars) == 0:
            why = again.failures.get(sym, "no bars came back")
            fetched.fail(sym, f"the source rewrote its history ({cause}) but fetching all of "
                              f"it again failed: {why}; the stored bars are unchanged")
            continue
        fetched.add(bars, again.cleaning[sym])
        out[sym] = f"history rewritten: {cause}"
        if int(bars.timestamps[0]) > plan.first_ts[sym]:
            since = format_timestamp(int(bars.timestamps[0]), bars.tz,
                                     date_only=not is_intraday(interval))
            out[sym] += f"; stored bars before {since}, which the source no longer serves, were dropped"
    return out


def _fetch(provider: Provider, calls: list[tuple[dt.datetime | None, list[str]]], interval: str,
           *, advance: bool, raise_unavailable: bool = False) -> FetchResult:
    """Run the fetch calls; a request refused as a whole fails each of its symbols.

    After a provider-wide failure (``ProviderUnavailable``: no network, a rate-limit
    cool-down) the remaining calls are not sent; they fail with the same reason. With
    ``raise_unavailable`` that failure is raised instead when no call brought bars (an
    outage that began midway keeps what arrived before it).

    A replaying bundled provider moves on only on the last call when ``advance`` is true, so
    every call of one refresh sees the same day.
    """
    replaying = bool(getattr(provider, "replay", False))
    fetched = FetchResult()
    unavailable: ProviderUnavailable | None = None
    for k, (start, group) in enumerate(calls):
        if unavailable is not None:
            for sym in group:
                fetched.fail(sym, str(unavailable))
            continue
        try:
            if replaying:
                last = advance and k == len(calls) - 1
                result = provider.fetch(group, interval, start, advance=last)  # type: ignore[call-arg]
            else:
                result = provider.fetch(group, interval, start)
        except DataError as exc:
            if isinstance(exc, ProviderUnavailable) and unavailable is None:
                unavailable = exc
            for sym in group:
                fetched.fail(sym, str(exc))
            continue
        fetched.bars.update(result.bars)
        fetched.cleaning.update(result.cleaning)
        fetched.failures.update(result.failures)
        fetched.actions.update(result.actions)
    if raise_unavailable and unavailable is not None and not fetched.bars:
        raise unavailable
    return fetched


def _drop_invalid_names(fetched: FetchResult) -> None:
    """Whatever the provider, the store only ever holds names that pass the ticker rule."""
    for sym in list(fetched.bars):
        reason = symbol_syntax_error(sym)
        if reason is not None:
            fetched.fail(sym, reason)


def stale_after(interval: str) -> float:
    """Seconds after a successful fetch at which data of ``interval`` counts as stale.

    Intraday bars: two bars' length (at least two minutes) - one missed refresh is normal,
    two are not. Daily and longer bars: 24 hours, since the current bar keeps changing
    during the session but a day-old fetch is certainly behind.
    """
    if is_intraday(interval):
        return float(max(2 * interval_seconds(interval), 120))
    return 86_400.0


def is_stale(last_fetch: float | None, interval: str, now: float) -> bool:
    """Whether data last fetched at ``last_fetch`` (unix s; None = never) is stale at ``now``.

    A fetch time in the future (clock changes) is treated as fresh rather than flagged.
    """
    if last_fetch is None:
        return True
    return now - last_fetch > stale_after(interval)


def closes_for_symbol(symbol: str, interval: str = "1d", store: BarStore | None = None) -> np.ndarray:
    """The stored close series of one symbol, oldest first (float64, C-contiguous).

    Parameters
    ----------
    symbol, interval : str
        The series.
    store : BarStore, optional
        The store to read; None opens (and closes) the default one.

    Raises
    ------
    DataError
        If no bars of ``symbol`` at ``interval`` are stored; the message says how to fetch
        them.
    """
    sym = normalise_symbol(symbol)
    own = store is None
    st = BarStore() if store is None else store
    try:
        bars = st.load(sym, interval)
        if bars is None or len(bars) == 0:
            have = st.symbols(interval)
            hint = f" (stored at {interval}: {', '.join(have[:10])}{' ...' if len(have) > 10 else ''})" if have else ""
            raise DataError(
                f"no {interval} bars for {sym} in the local store {st.path}{hint}; "
                f"run `atc fetch {sym} --interval {interval}` first", symbol=sym)
        return np.array(bars.close, dtype=np.float64, copy=True, order="C")
    finally:
        if own:
            st.close()
