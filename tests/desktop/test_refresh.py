"""The refresh: exactly the core's EMA-only values in the screening column, outdated
results dropped, no overlapping refreshes, and every failure shown in the row."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from atc_desktop.watchlist.columns import COLUMN_INDEX
from core.atc import compute_reference
from core.backends.numpy_backend import last_event
from core.config import ATCConfig
from core.data import BarStore
from core.errors import DataError


def expected_row(close: np.ndarray, cfg: ATCConfig) -> dict[str, Any]:
    """The screening values of the last bar, from the independent reference."""
    ref = compute_reference(np.ascontiguousarray(close, dtype=np.float64), cfg, families=1)
    event, since = last_event(ref.long, ref.short)
    return {"signal": float(ref.signals[0, -1]), "direction": float(ref.direction[-1]),
            "last_event": event, "bars_since": since}


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_screening(session: Any, cfg: ATCConfig) -> int:
    """Compare every screened row with the reference on the bars in the store; returns
    how many rows had values."""
    store = BarStore(session.paths.bar_store)
    checked = 0
    try:
        for sym in session.model.symbols():
            row = session.model.state_of(sym)
            bars = store.load(sym, session.settings.interval)
            if bars is None:
                assert row.error or row.note, f"{sym} has no bars and says nothing"
                continue
            want = expected_row(bars.close[-session.settings.history_bars:], cfg)
            assert same(row.signal, want["signal"]), (sym, row.signal, want["signal"])
            assert same(row.direction, want["direction"])
            assert (row.last_event, row.bars_since) == (want["last_event"], want["bars_since"])
            assert row.last == float(bars.close[-1]) and row.data_time == int(bars.timestamps[-1])
            r = session.model.row_of(sym)
            shown = session.model.index(r, COLUMN_INDEX["signal"]).data()
            assert shown == f"{want['signal']:+.3f}"
            checked += 1
    finally:
        store.close()
    return checked


def test_refresh_shows_the_core_ema_only_values(qtbot: Any, make_session: Any, refreshed: Any) -> None:
    session = make_session()                    # first start: bundled data, replay
    assert session.settings.source == "bundled" and session.settings.replay
    first = refreshed(qtbot, session)
    assert check_screening(session, session.settings.config) == 4
    assert first.backend == "numba"
    fb = session.model.state_of("FB")          # FB's bundled history starts after the replay point
    assert not fb.error and "no bars yet: FB" in fb.note and not fb.has_values
    t_before = session.model.state_of("AAPL").data_time
    refreshed(qtbot, session)                  # the replay reveals the next day
    assert session.model.state_of("AAPL").data_time > t_before
    assert check_screening(session, session.settings.config) == 4
    assert session.model.state_of("AAPL").source == "bundled replay"


def test_a_settings_change_rescreens(qtbot: Any, make_session: Any, scripted: Any, refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=700)
    session = make_session(provider=provider)
    refreshed(qtbot, session)
    before = {s.symbol: s.signal for s in session.model.states()}
    cfg = session.settings.config.replace(ema_len=12, La=0.2, De=0.2)
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000):
        session.apply_settings(session.settings.replace(config=cfg))
    assert check_screening(session, cfg) == 3
    assert before != {s.symbol: s.signal for s in session.model.states()}


def test_outdated_results_are_dropped(qtbot: Any, make_session: Any, scripted: Any, refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=500)
    session = make_session(provider=provider)
    refreshed(qtbot, session)
    provider.delay = 0.4
    session.refresh.request(fetch=True)
    assert session.refresh.busy
    # New parameters while the fetch runs: its result is for the old ones.
    cfg = session.settings.config.replace(ema_len=40)
    session.apply_settings(session.settings.replace(config=cfg))
    session.remove_symbols(["CCC"])             # a removed symbol's result is dropped too
    qtbot.waitUntil(lambda: session.refresh.dropped == 1 and not session.refresh.busy, timeout=30_000)
    provider.delay = 0.0
    assert session.model.symbols() == ["AAA", "BBB"]
    assert check_screening(session, cfg) == 2


def test_refreshes_never_overlap(qtbot: Any, make_session: Any, scripted: Any) -> None:
    provider = scripted(["AAA", "BBB"], bars=300)
    provider.delay = 0.25
    session = make_session(provider=provider)
    session.refresh.start(1)                    # the timer also fires during the burst
    for _ in range(6):
        session.refresh.request(fetch=True)
        qtbot.wait(60)
    session.refresh.stop()
    qtbot.waitUntil(lambda: not session.refresh.busy, timeout=30_000)
    assert provider.peak == 1
    assert provider.calls <= 4                  # the burst collapsed into follow-ups


@pytest.mark.parametrize("error", [
    DataError("network unreachable: [Errno 101] Network is unreachable"),
    DataError("Yahoo rate limit (HTTP 429): retried for 60 s, giving up"),
    RuntimeError("provider bug"),
])
def test_a_provider_failure_marks_every_row_and_keeps_the_cache(
        qtbot: Any, make_session: Any, scripted: Any, refreshed: Any, error: Exception) -> None:
    provider = scripted(["AAA", "BBB"], bars=400)
    session = make_session(provider=provider)
    refreshed(qtbot, session)
    good = {s.symbol: s.signal for s in session.model.states()}
    provider.error = error
    out = refreshed(qtbot, session)
    for st in session.model.states():
        assert str(error) in st.error and st.stale and str(error) in st.stale_reason
        assert st.signal == good[st.symbol]     # the cached bars are still screened
    assert set(out.failures) == {"AAA", "BBB"}
    provider.error = None
    refreshed(qtbot, session)
    assert not any(s.error or s.stale for s in session.model.states())


def test_one_failing_symbol_does_not_affect_the_others(qtbot: Any, make_session: Any, scripted: Any,
                                                       refreshed: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=400)
    provider.fail = {"BBB": "BBB: delisted"}
    session = make_session(provider=provider)
    refreshed(qtbot, session)
    bbb = session.model.state_of("BBB")
    assert "delisted" in bbb.error and not bbb.has_values
    assert session.model.index(session.model.row_of("BBB"), COLUMN_INDEX["error"]).data() == "⚠"
    assert all(session.model.state_of(s).has_values and not session.model.state_of(s).error
               for s in ("AAA", "CCC"))


def test_stale_marker_from_the_fetch_time(qtbot: Any, make_session: Any, scripted: Any,
                                          refreshed: Any) -> None:
    provider = scripted(["AAA"], bars=300)
    session = make_session(provider=provider)
    refreshed(qtbot, session)
    assert not session.model.state_of("AAA").stale
    store = BarStore(session.paths.bar_store)
    store.mark_fetched("AAA", "1d", 1_000_000.0)   # as if last fetched in 1970
    store.close()
    refreshed(qtbot, session, fetch=False)
    st = session.model.state_of("AAA")
    assert st.stale and "ago" in st.stale_reason and not st.error
    assert session.model.index(0, COLUMN_INDEX["stale"]).data() == "stale"


def test_a_corrupt_bar_store_is_recovered(qtbot: Any, make_session: Any, home: Any, refreshed: Any) -> None:
    home.bar_store.write_bytes(b"this is not a database" * 100)
    session = make_session()
    refreshed(qtbot, session)
    assert check_screening(session, session.settings.config) == 4
    assert list(home.data_dir.glob(home.bar_store.name + ".corrupt-*"))


def test_every_backend_failing_is_an_error_in_the_rows(qtbot: Any, make_session: Any, scripted: Any,
                                                       refreshed: Any) -> None:
    from core.backends.registry import Registry

    class Broken:
        name = "numba"

        def probe(self) -> Any:
            from core.backends.base import ProbeResult
            return ProbeResult(True, "test double")

        def compute_batch(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("kernel crashed")

        compute = compute_batch

    session = make_session(provider=scripted(["AAA"], bars=300),
                           registry=Registry(factories={"numba": Broken}))
    out = refreshed(qtbot, session)
    st = session.model.state_of("AAA")
    assert "screening failed" in st.error and "kernel crashed" in st.error
    assert st.last > 0                          # the price is still shown
    assert out.error
