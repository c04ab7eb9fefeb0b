"""Yahoo Finance through ``yfinance``: batched downloads with retries and honest failures.

* Many symbols per request (``yf.download``), ``batch_size`` at a time.
* Split/dividend-adjusted prices (``auto_adjust=True``), with the splits and dividends in
  the requested range (``actions=True``) reported in ``FetchResult.actions``: an action
  rescales the history before it, which ``refresh`` then fetches again in full.
* Intraday history limits checked before any request (see ``yahoo_frames.LOOKBACK``);
  1m requests are split into 7-day windows.
* Timestamps converted to UTC; the frame's exchange timezone is kept for display (a batch
  mixing exchanges is shown in its most common exchange timezone, as yfinance aligns it).
* A symbol that fails is reported by name with Yahoo's reason; the others succeed.
* Rate limiting (``YFRateLimitError``, raised or reported per ticker) is retried with
  exponential backoff and jitter, within ``max_wait_s`` in total. A batch that stays
  limited starts a cool-down of ``cooldown_s``: until it ends no request is sent and
  ``fetch`` raises ``RateLimited`` naming the time it ends.
* No network is a provider-wide failure, not one per symbol: when nothing of a batch came
  back and the download failed with connection errors (or yfinance logged them while
  reporting every ticker "possibly delisted", its word for an unanswered lookup),
  ``fetch`` raises ``NetworkUnavailable``.
* One download at a time in the whole process: yfinance keeps global state and Yahoo
  rate-limits per client, so a module-wide lock serialises calls from worker threads.
"""
from __future__ import annotations

import datetime as dt
import inspect
import random
import threading
import time
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from core.data.actions import CorporateAction
from core.data.bars import empty_bars
from core.data.cleaning import CleaningReport, clean_columns
from core.data.intervals import INTERVALS
from core.data.providers import yahoo_frames as frames
from core.data.providers.base import (
    FetchResult, check_interval, normalise_symbol, symbol_syntax_error, to_utc,
)
from core.errors import NetworkUnavailable, RateLimited

_DOWNLOAD_LOCK = threading.Lock()
YAHOO_INTERVALS: tuple[str, ...] = tuple(i for i in INTERVALS if i != "5d")


def _default_download(**kwargs: Any) -> Any:
    import yfinance

    # yfinance's own use of deprecated pandas calls is not the user's concern; only
    # warnings raised from yfinance's modules are silenced.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance\.")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"yfinance\.")
    # Older 0.2.x releases lack some keywords (multi_level_index); their defaults match.
    accepted = inspect.signature(yfinance.download).parameters
    return yfinance.download(**{k: v for k, v in kwargs.items() if k in accepted})


def use_app_cache_for_yfinance() -> None:
    """Point yfinance's own caches (timezones, cookies, ISINs: small SQLite files) into the
    app's cache folder, so that ``ATC_DESKTOP_HOME`` or ``--home`` keeps them with every
    other user file instead of in ``~/.cache/py-yfinance``."""
    import yfinance

    from core.paths import cache_dir

    where = str(cache_dir() / "yfinance")
    cache = getattr(yfinance, "cache", None)
    # set_cache_location (newer releases) also moves the ISIN cache; 0.2.x has only the tz one.
    setter = getattr(cache, "set_cache_location", None) or yfinance.set_tz_cache_location
    current = getattr(getattr(cache, "_TzDBManager", None), "get_location", lambda: None)()
    if current != where:                # moving it closes yfinance's open database
        setter(where)


def _is_rate_limit_exception(exc: BaseException) -> bool:
    try:
        from yfinance.exceptions import YFRateLimitError
    except ImportError:  # very old yfinance: recognise it by name and text
        YFRateLimitError = ()  # noqa: N806
    return isinstance(exc, YFRateLimitError) or frames.is_rate_limit(f"{type(exc).__name__} {exc}")


def _is_connection_exception(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionError, TimeoutError)) or \
        frames.is_connection_error(f"{type(exc).__name__}: {exc}")


def _clock_time(when: float) -> str:
    return time.strftime("%H:%M", time.localtime(when))


class YahooProvider:
    """Bars from Yahoo Finance.

    Parameters
    ----------
    batch_size : int
        Symbols per ``yf.download`` call.
    max_wait_s : float
        Longest total time spent sleeping between rate-limit retries of one batch.
    cooldown_s : float
        How long no request is sent after a batch stayed rate-limited.
    base_delay_s, max_delay_s : float
        First backoff delay and the cap of one delay (doubling in between).
    download : callable, optional
        Replacement for ``yfinance.download`` (tests inject fakes).
    sleep, clock : callable, optional
        Replacements for ``time.sleep`` and ``time.monotonic`` (tests run instantly).
    now : callable, optional
        Current UTC time, for the history-limit checks.
    rng : random.Random, optional
        Source of the backoff jitter.
    """

    name = "yahoo"
    intervals = YAHOO_INTERVALS

    def __init__(self, *, batch_size: int = 100, max_wait_s: float = 60.0,
                 base_delay_s: float = 2.0, max_delay_s: float = 30.0, cooldown_s: float = 300.0,
                 download: Callable[..., Any] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] | None = None,
                 rng: random.Random | None = None) -> None:
        self.batch_size = max(1, int(batch_size))
        self.max_wait_s = float(max_wait_s)
        self.base_delay_s = float(base_delay_s)
        self.max_delay_s = float(max_delay_s)
        self.cooldown_s = float(cooldown_s)
        if download is None:
            use_app_cache_for_yfinance()
        self._download = download or _default_download
        self._sleep = sleep
        self._clock = clock
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._rng = rng or random.Random()
        #: Delays slept by the last fetch, for diagnostics and tests.
        self.last_delays: list[float] = []
        self._cooldown_end: float | None = None     # on ``clock``

    def validate_symbols(self, symbols: Sequence[str]) -> dict[str, str]:
        """Syntax check only: Yahoo itself is asked lazily, at fetch time."""
        out = {}
        for s in symbols:
            reason = symbol_syntax_error(normalise_symbol(s))
            if reason:
                out[s] = reason
        return out

    def earliest_start(self, interval: str) -> dt.datetime | None:
        """The earliest start Yahoo accepts for ``interval`` now (None: no limit)."""
        return frames.earliest_start(interval, to_utc(self._now()))

    def fetch(self, symbols: Sequence[str], interval: str = "1d",
              start: dt.datetime | None = None) -> FetchResult:
        """Download ``symbols`` from ``start`` (inclusive; None = all Yahoo keeps).

        Raises
        ------
        DataError
            For an unsupported interval or a start beyond Yahoo's history limit.
        NetworkUnavailable
            When Yahoo cannot be reached at all.
        RateLimited
            During a cool-down after rate limiting (no request is sent), or when a batch
            stayed rate-limited.
        """
        check_interval(self.name, interval, self.intervals)
        self._check_cooldown()
        now = to_utc(self._now())
        assert now is not None
        windows = frames.request_windows(interval, to_utc(start), now)
        result = FetchResult()
        wanted: list[str] = []
        for raw in symbols:
            sym = normalise_symbol(raw)
            reason = symbol_syntax_error(sym)
            if reason:
                result.fail(sym or str(raw), reason)
            elif sym not in wanted:
                wanted.append(sym)
        self.last_delays = []
        for i in range(0, len(wanted), self.batch_size):
            self._fetch_batch(wanted[i:i + self.batch_size], interval, start is None, windows, result)
        return result

    def _fetch_batch(self, batch: list[str], interval: str, full: bool,
                     windows: list[tuple[dt.datetime | None, dt.datetime | None]],
                     result: FetchResult) -> None:
        parts: dict[str, list[dict[str, np.ndarray]]] = {s: [] for s in batch}
        actions: dict[str, list[CorporateAction]] = {s: [] for s in batch}
        tzs: dict[str, str] = {}
        failed: dict[str, str] = {}
        for lo, hi in windows:
            kwargs: dict[str, Any] = dict(
                interval=interval, group_by="column", auto_adjust=True, actions=True,
                ignore_tz=False, keepna=False, progress=False, threads=True,
                multi_level_index=True)
            if lo is None and hi is None:
                kwargs["period"] = "max"
            else:
                kwargs["start"] = lo
                if hi is not None:
                    kwargs["end"] = hi
            todo = [s for s in batch if s not in failed]
            if not todo:
                break
            frames_by_symbol, errors = self._download_with_retry(todo, kwargs)
            for sym in todo:
                if sym in errors:
                    failed[sym] = errors[sym]
                    continue
                sub = frames_by_symbol.get(sym)
                if sub is None:
                    continue
                actions[sym].extend(frames.frame_actions(sub))
                got = frames.frame_arrays(sub)
                if got is not None:
                    parts[sym].append(got[0])
                    tzs[sym] = got[1]
        for sym in batch:
            if sym in failed:
                result.fail(sym, failed[sym])
            elif parts[sym]:
                cols = {k: np.concatenate([p[k] for p in parts[sym]]) for k in parts[sym][0]}
                bars, report = clean_columns(sym, interval, cols, tz=tzs[sym], source="yahoo")
                if len(bars) == 0:
                    result.fail(sym, "Yahoo returned no usable bars: " + report.summary())
                else:
                    result.add(bars, report)
            elif full:
                result.fail(sym, f"Yahoo returned no {interval} bars (unknown ticker, delisted, "
                                 "or no trading at this interval)")
            else:
                # Nothing new since the start asked for, and Yahoo reported no error.
                result.add(empty_bars(sym, interval, source="yahoo"),
                           CleaningReport(sym, interval, 0, 0))
            if sym in result.bars and actions[sym]:
                result.actions[sym] = actions[sym]

    # -- provider-wide failures ---------------------------------------------------------------
    @property
    def cooldown_until(self) -> float | None:
        """Unix time the rate-limit cool-down ends, or None when there is none."""
        if self._cooldown_end is None:
            return None
        left = self._cooldown_end - self._clock()
        return None if left <= 0 else to_utc(self._now()).timestamp() + left

    def _check_cooldown(self) -> None:
        until = self.cooldown_until
        if until is not None:
            raise RateLimited(f"Yahoo Finance rate limit: cooling down until {_clock_time(until)} "
                              "(no requests are sent until then)", until)
        self._cooldown_end = None

    def _start_cooldown(self, attempts: int) -> str:
        self._cooldown_end = self._clock() + self.cooldown_s
        until = self.cooldown_until or 0.0
        return (f"rate limited by Yahoo (Too Many Requests); gave up after {attempts} attempts "
                f"within {self.max_wait_s:g} s; cooling down until {_clock_time(until)}")

    @staticmethod
    def _network_evidence(errors: dict[str, str], logged: list[str]) -> str | None:
        """The text that shows a batch failed for want of a connection, or None: every
        ticker's error is a connection error, or yfinance logged connection errors
        (its per-ticker texts then read "possibly delisted; no timezone found")."""
        texts = list(errors.values())
        if texts and all(frames.is_connection_error(t) for t in texts):
            return frames.describe_error(texts[0])
        return logged[0] if logged else None

    def _download_with_retry(self, symbols: list[str], kwargs: dict[str, Any]
                             ) -> tuple[dict[str, Any], dict[str, str]]:
        """One batch: frames per symbol and reasons per failed symbol, rate limits retried.

        Raises ``NetworkUnavailable`` when nothing came back for want of a connection and
        ``RateLimited`` when every symbol stayed rate-limited (see the module docstring)."""
        deadline = self._clock() + self.max_wait_s
        got: dict[str, Any] = {}
        failures: dict[str, str] = {}
        pending = list(symbols)
        attempt = 0
        while pending:
            limited: list[str] = []
            try:
                with _DOWNLOAD_LOCK, frames.captured_errors() as errors:
                    frame = self._download(tickers=list(pending), **kwargs)
                split = frames.split_frame(frame, pending)
            except Exception as exc:  # noqa: BLE001 - any library/network error fails the batch, not the app
                if not _is_rate_limit_exception(exc):
                    if not got and _is_connection_exception(exc):
                        raise NetworkUnavailable(f"cannot reach Yahoo Finance ({type(exc).__name__}: "
                                                 f"{exc})") from exc
                    reason = f"download failed: {type(exc).__name__}: {exc}"
                    failures.update({s: reason for s in pending})
                    break
                limited = list(pending)
            else:
                arrived = [s for s in pending if s not in errors and s in split]
                evidence = self._network_evidence({s: errors[s] for s in pending if s in errors},
                                                  errors.connection)
                if not got and not arrived and evidence is not None:
                    raise NetworkUnavailable(f"cannot reach Yahoo Finance ({evidence})")
                for sym in pending:
                    raw = errors.get(sym)
                    if raw is None:
                        if sym in split:
                            got[sym] = split[sym]
                    elif frames.is_rate_limit(raw):
                        limited.append(sym)
                    else:
                        failures[sym] = frames.describe_error(raw)
            if not limited:
                break
            delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** attempt)
            # "Equal jitter": half fixed, half random, so concurrent clients spread out
            # without any delay collapsing to nothing.
            delay = delay / 2 + self._rng.uniform(0, delay / 2)
            if self._clock() + delay > deadline:
                reason = self._start_cooldown(attempt + 1)
                if not got and not failures and len(limited) == len(symbols):
                    raise RateLimited(reason, self.cooldown_until or 0.0)
                failures.update({s: reason for s in limited})
                break
            self._sleep(delay)
            self.last_delays.append(delay)
            attempt += 1
            pending = limited
        return got, failures
