"""The watchlist's live screening state against a restart and an independent recompute."""
from __future__ import annotations

import numpy as np
import pytest

from atc_desktop.screen_states import ScreenStates
from core.config import ATCConfig
from core.data import BarStore
from core.data.bars import Bars
from core.jit.backend import NumbaBackend
from core.windows import history_start
from tests.conftest import random_walk

DAY = 86_400 * 10**9
ENGINE = NumbaBackend()
CONFIG = ATCConfig(use_codegen_specialization=False)


def bars_of(symbol: str, close: np.ndarray, first_day: int = 0) -> Bars:
    ts = (np.arange(close.shape[0], dtype=np.int64) + first_day) * DAY
    return Bars(symbol, "1d", ts, close, close * 1.01, close * 0.99, close, np.ones_like(close),
                source="csv")


def values(screened):
    return {s: (v.signal, v.family_equity, v.direction, v.last_event, v.bars_since_event, v.n_bars)
            for s, v in screened.items()}


def recompute(store, symbols, history_bars):
    """Independent: the EMA-only batch kernel over each symbol's window, one call each."""
    out = {}
    for s in symbols:
        close = store.load(s, "1d").close
        window = np.ascontiguousarray(close[history_start(close.shape[0], history_bars):])
        r = ENGINE.compute_batch(window[None], CONFIG, tail=1, mode="ema_only")
        out[s] = (float(r.signals[0, 0, -1]), float(r.family_equities[0, 0, -1]),
                  float(r.direction[0, -1]), int(r.last_event[0]), int(r.bars_since_event[0]),
                  window.shape[0])
    return out


def same(a, b):
    assert a.keys() == b.keys()
    for s in a:
        np.testing.assert_array_equal(np.array(a[s], dtype=float), np.array(b[s], dtype=float), err_msg=s)


@pytest.fixture
def store(tmp_path):
    with BarStore(tmp_path / "bars.sqlite") as s:
        yield s


def test_two_hundred_refreshes_equal_a_restart_and_a_recompute(store):
    rng = np.random.default_rng(7)
    full = {s: random_walk(900, seed=i) for i, s in enumerate(["AAA", "BBB", "CCC"])}
    shown = {"AAA": 300, "BBB": 120, "CCC": 2}
    for s, n in shown.items():
        store.upsert(bars_of(s, full[s][:n]))
    live = ScreenStates()
    history = 250                                  # the start moves on twice on the way
    rebuilds = 0
    for step in range(200):
        got = live.advance(ENGINE, store, list(full), "1d", CONFIG, history)
        rebuilds += len(live.rebuilt_last)
        if step % 20 == 0 or step == 199:
            same(values(got), values(ScreenStates().advance(ENGINE, store, list(full), "1d",
                                                            CONFIG, history)))
            same(values(got), recompute(store, list(full), history))
        for s in full:                             # 0–3 new bars each, sometimes none
            k = int(rng.integers(0, 4))
            if k and shown[s] + k <= 900:
                store.upsert(bars_of(s, full[s][shown[s]:shown[s] + k], first_day=shown[s]))
                shown[s] += k
    # Rebuilt only at the start (3) and where a start moves on by a block (≤ 3 each).
    assert 3 < rebuilds <= 3 + 3 * 3


def test_only_new_bars_are_stepped(store):
    close = random_walk(400, seed=3)
    store.upsert(bars_of("AAA", close[:300]))
    live = ScreenStates()
    first = live.advance(ENGINE, store, ["AAA"], "1d", CONFIG, 1000)
    assert first["AAA"].rebuilt and live.rebuilt_last == {"AAA"}
    store.upsert(bars_of("AAA", close[300:303], first_day=300))
    got = live.advance(ENGINE, store, ["AAA"], "1d", CONFIG, 1000)
    assert not got["AAA"].rebuilt and live.rebuilt_last == set()
    assert got["AAA"].new_signals.shape == (3,) and len(got["AAA"].bars) == 4
    again = live.advance(ENGINE, store, ["AAA"], "1d", CONFIG, 1000)
    assert again["AAA"].new_signals.shape == (0,) and again["AAA"].signal == got["AAA"].signal


def test_rewritten_history_is_rebuilt_never_patched(store):
    close = random_walk(500, seed=5)
    store.upsert(bars_of("AAA", close[:400]))
    live = ScreenStates()
    live.advance(ENGINE, store, ["AAA"], "1d", CONFIG, 1000)
    split = np.concatenate([close[:400] / 4.0, close[400:410] / 4.0])   # adjusted after a 4:1 split
    store.replace_series(bars_of("AAA", split))
    got = live.advance(ENGINE, store, ["AAA"], "1d", CONFIG, 1000)
    assert got["AAA"].rebuilt
    same(values(got), recompute(store, ["AAA"], 1000))


def test_new_parameters_and_removed_symbols(store):
    for i, s in enumerate(["AAA", "BBB"]):
        store.upsert(bars_of(s, random_walk(300, seed=i)))
    live = ScreenStates()
    live.advance(ENGINE, store, ["AAA", "BBB"], "1d", CONFIG, 1000)
    other = CONFIG.replace(ema_len=20)
    got = live.advance(ENGINE, store, ["BBB"], "1d", other, 1000)
    assert live.rebuilt_last == {"BBB"} and set(got) == {"BBB"}
    r = ENGINE.compute_batch(store.load("BBB", "1d").close[None], other, tail=1, mode="ema_only")
    assert got["BBB"].signal == r.signals[0, 0, -1]
