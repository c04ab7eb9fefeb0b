"""Incremental EMA-only screening state: every bar bit-identical to a full recompute."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ATCConfig
from core.errors import ATCInputError
from core.jit.backend import NumbaBackend
from core.jit.incremental import _ARRAYS, empty_state, screen_forming, screen_init, screen_update
from tests.conftest import GOLDEN_FILES, golden_id, load_golden, random_walk
from tests.jit.test_ema_only import CONFIGS, batch

BACKEND = NumbaBackend()


def full(closes, config):
    """The full recompute: the EMA-only batch kernel over every bar (the generic one: the
    generated kernel equals it bit for bit, tests/jit/test_ema_only.py, and compiling one
    per golden configuration would take minutes)."""
    return BACKEND.compute_batch(closes, config.replace(use_codegen_specialization=False),
                                 tail=closes.shape[1], mode="ema_only")


def joined(parts):
    """One result per bar from a list of per-chunk results (positions concatenated)."""
    cat = lambda name, axis: np.concatenate([getattr(p, name) for p in parts], axis=axis)  # noqa: E731
    return dict(signals=cat("signals", 2), family_equities=cat("family_equities", 2),
                direction=cat("direction", 1), long=cat("long", 1), short=cat("short", 1),
                last_event=parts[-1].last_event, bars_since_event=parts[-1].bars_since_event)


def assert_bit_identical(got: dict, want) -> None:
    for name, value in got.items():
        np.testing.assert_array_equal(value, getattr(want, name), err_msg=name)


def chunked(closes, config, cuts):
    state, first = screen_init(closes[:, :cuts[0]], config, tail=cuts[0])
    parts = [first]
    for lo, hi in zip(cuts, cuts[1:] + [closes.shape[1]]):
        if hi > lo:
            parts.append(screen_update(state, closes[:, lo:hi]))
    return state, joined(parts)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_golden_files_at_random_split_points(path):
    data, config = load_golden(path)
    close = data["close"].astype(np.float64)
    closes = np.vstack([close, close[::-1].copy()])
    rng = np.random.default_rng(len(close))
    for _ in range(3):
        cuts = sorted(set(int(c) for c in rng.integers(1, len(close), 4)))
        _, got = chunked(closes, config, cuts)
        assert_bit_identical(got, full(closes, config))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_i=st.integers(0, len(CONFIGS) - 1), seed=st.integers(0, 2**31),
       cuts=st.lists(st.integers(1, 699), min_size=1, max_size=5))
def test_ragged_batch_any_split(config_i, seed, cuts):
    config = CONFIGS[config_i]
    closes = batch()
    closes[:, -1] *= 1.0 + (seed % 7) * 1e-3
    _, got = chunked(closes, config, sorted(set(cuts)))
    assert_bit_identical(got, full(closes, config))


def test_symbols_without_new_bars_keep_their_state():
    config = ATCConfig()
    closes = batch()
    state, _ = screen_init(closes[:, :600], config)
    new = closes[:, 600:].copy()
    new[2, :] = np.nan                      # symbol 2: no new bar in this update
    new[4, :60] = np.nan                    # symbol 4: only its last 40
    before = {f: getattr(state, f).copy() for f in _ARRAYS}
    out = screen_update(state, new)
    for f in _ARRAYS:
        if f != "seed_window":
            np.testing.assert_array_equal(getattr(state, f)[..., 2], before[f][..., 2], err_msg=f)
    assert np.isnan(out.signals[2]).all() and not out.long[2].any()
    assert np.isnan(out.signals[4, 0, :60]).all() and not np.isnan(out.signals[4, 0, 60:]).any()
    # Later, symbol 2 catches up: its outputs equal a full recompute of its own history.
    screen_update(state, np.vstack([np.full(100, np.nan) if i != 2 else closes[2, 600:]
                                    for i in range(closes.shape[0])]))
    want = full(closes[2:3], config)
    assert state.bars[2] == np.isfinite(closes[2]).sum()
    np.testing.assert_array_equal(state.signal[2], want.signals[0, 0, -1])


def test_forming_bar_equals_the_full_bar_and_changes_nothing():
    config = CONFIGS[1]
    closes = batch()[[0, 1, 2, 3, 4, 7, 8]]          # every symbol has bars by bar 650
    state, _ = screen_init(closes[:, :650], config)
    want = full(closes[:, :651], config)
    before = {f: getattr(state, f).copy() for f in _ARRAYS if f != "seed_window"}
    for _ in range(2):                        # a tick, then another: same answer
        got = screen_forming(state, closes[:, 650] * 1.0)
        np.testing.assert_array_equal(got.signals[:, :, 0], want.signals[:, :, -1])
        np.testing.assert_array_equal(got.family_equities[:, :, 0], want.family_equities[:, :, -1])
        np.testing.assert_array_equal(got.direction[:, 0], want.direction[:, -1])
        np.testing.assert_array_equal(got.long[:, 0], want.long[:, -1])
        np.testing.assert_array_equal(got.last_event, want.last_event)
        np.testing.assert_array_equal(got.bars_since_event, want.bars_since_event)
    screen_forming(state, closes[:, 650] * 1.01)   # a different tick first
    for f, value in before.items():
        np.testing.assert_array_equal(getattr(state, f), value, err_msg=f)
    # Closing the bar after the peeks gives what a plain update gives.
    _, plain = chunked(closes, config, [650])
    screen_update(state, closes[:, 650:])
    np.testing.assert_array_equal(state.signal, plain["signals"][:, 0, -1])


def test_forming_during_warm_up_equals_the_full_bar():
    # Before an EMA's seed exists the state keeps the first bars: peeking at the seed bar
    # must see the forming close there, and not leave it behind.
    config = ATCConfig()
    close = random_walk(60, seed=4)
    state, _ = screen_init(close[None, :27], config)
    got = screen_forming(state, close[27:28])
    want = full(close[None, :28], config)
    np.testing.assert_array_equal(got.signals[0, 0, 0], want.signals[0, 0, -1])
    screen_update(state, close[None, 27:])
    np.testing.assert_array_equal(state.signal[0], full(close[None], config).signals[0, 0, -1])


def test_state_belongs_to_its_parameters_and_is_small():
    state = empty_state(ATCConfig(), 10)
    assert state.matches(ATCConfig()) and not state.matches(ATCConfig(ema_len=30))
    assert state.nbytes_per_symbol <= 8 * 1024


def test_bad_new_bars_are_named():
    state, _ = screen_init(batch(3, 100), ATCConfig())
    bad = np.full((3, 2), 100.0)
    bad[1, 1] = 0.0
    with pytest.raises(ATCInputError, match=r"row 1 at position 1 is 0\.0"):
        screen_update(state, bad)
    with pytest.raises(ATCInputError, match="shape"):
        screen_update(state, np.ones((2, 1)))
    with pytest.raises(ATCInputError, match="forming"):
        screen_forming(state, np.ones(4))
    assert state.bars.tolist() == [100, 97, 50]     # nothing was appended


def test_equals_the_generated_kernel_the_watchlist_runs():
    config = CONFIGS[0]
    closes = batch()
    _, got = chunked(closes, config, [300, 301, 650])
    assert_bit_identical(got, BACKEND.compute_batch(closes, config, tail=closes.shape[1],
                                                    mode="ema_only"))


def test_the_parallel_build_equals_the_serial_steps(monkeypatch):
    import core.jit.incremental as inc

    config = CONFIGS[1]
    closes = batch()
    monkeypatch.setattr(inc, "PARALLEL_MIN_STEPS", 0)           # every call parallel
    _, parallel = chunked(closes, config, [200, 450, 451])
    monkeypatch.setattr(inc, "PARALLEL_MIN_STEPS", 10**12)      # every call serial
    _, serial = chunked(closes, config, [200, 450, 451])
    for name in parallel:
        np.testing.assert_array_equal(parallel[name], serial[name], err_msg=name)
    assert_bit_identical(serial, full(closes, config))
