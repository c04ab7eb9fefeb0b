"""The Rust incremental engine against the full computation, bit for bit.

States are built on the first bars of a history (random split points), the rest is
appended in random chunks, and every output of every bar — detail included — must equal
``compute(..., detail=True)`` and ``compute_batch`` over the same history: identical bits,
NaN where they have NaN. The forming bar is evaluated before each chunk and must equal the
full computation's bar while leaving the states as they were.
"""
from __future__ import annotations

import dataclasses
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rust_backend.backend as adapter
from core.backends.base import IncrementalBackend
from core.config import BASE_CHOICES, ROBUSTNESS_OFFSETS, ATCConfig
from core.errors import ATCInputError, BackendError
from core.types import ATCResult, BatchResult
from rust_backend.backend import RustBackend
from tests.rust.rust_helpers import GOLDEN_FILES, golden_config, golden_id, random_walk

BATCH_FIELDS = ("signals", "family_equities", "direction", "long", "short", "average_signal")
DETAIL_FIELDS = ("average_signal", "signals", "family_equities", "signal_base", "direction",
                 "arrow_long", "arrow_short", "long", "short", "mas", "states", "equities",
                 "rate_of_change")
CONFIGS = {
    "default": ATCConfig(),
    "narrow_cutout": ATCConfig(robustness="Narrow", cutout=40, La=0.05, De=0.1, ema_len=9,
                               hull_len=14, wma_len=11, dema_len=20, lsma_len=7, kama_len=16,
                               ema_w=0.5, kama_w=2.0),
    "hull_strategy": ATCConfig(hma_kind="hull", strategy=True, colbase="KAMA", alertbase="WMA"),
}


def assert_identical(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Same shape and dtype, same bits (NaN where ``want`` is NaN, any payload)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} ≠ {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} ≠ {want.dtype}"
    if got.dtype.kind == "f":
        nan = np.isnan(want)
        bad = (np.isnan(got) != nan) | (~nan & (got.view(np.uint64) != want.view(np.uint64)))
    else:
        bad = got != want
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        pytest.fail(f"{what}: {int(bad.sum())} values differ, first at {i}: got {got[i]!r}, want {want[i]!r}")


def assert_detail_bars(got: ATCResult, full: ATCResult, t0: int, what: str) -> None:
    """An ATCResult of bars ``t0 … t0 + k − 1`` equals those bars of the full result."""
    k = got.bars
    for name in DETAIL_FIELDS:
        assert_identical(getattr(got, name), getattr(full, name)[..., t0:t0 + k], f"{what}: {name}")
    if t0 + k == full.bars:   # g on the last bar
        assert_identical(np.float64(got.growth_factor), np.float64(full.growth_factor), f"{what}: g")
    assert got.backend == "rust"


def events_until(full: ATCResult, t: int) -> tuple[int, int]:
    """Last event and bars since it over bars 0 … t of a full result."""
    hits = np.flatnonzero(full.long[:t + 1] | full.short[:t + 1])
    if hits.size == 0:
        return 0, -1
    u = int(hits[-1])
    return (1 if full.long[u] else -1), t - u


def assert_batch_row(got: BatchResult, row: int, full: ATCResult, t0: int, cols: range,
                     what: str) -> None:
    """Row ``row`` of a BatchResult: columns ``cols`` are bars ``t0 …`` of ``full``, the
    other columns na / False; the events count the whole history up to the last bar."""
    tail = got.direction.shape[1]
    bars = np.full(tail, -1)
    bars[list(cols)] = np.arange(t0, t0 + len(cols))
    have = bars >= 0
    want = {
        "signals": np.where(have, full.signals[:, bars], np.nan),
        "family_equities": np.where(have, full.family_equities[:, bars], np.nan),
        "direction": np.where(have, full.direction[bars], np.nan),
        "long": have & full.long[bars],
        "short": have & full.short[bars],
        "average_signal": np.where(have, full.average_signal[bars], np.nan),
    }
    for name in BATCH_FIELDS:
        assert_identical(getattr(got, name)[row], want[name], f"{what}: {name}")
    last = t0 + len(cols) - 1
    assert (int(got.last_event[row]), int(got.bars_since_event[row])) == events_until(full, last), what
    assert got.mode == "full" and got.backend == "rust"


def assert_same_batch(got: BatchResult, want: BatchResult, what: str) -> None:
    for name in BATCH_FIELDS + ("last_event", "bars_since_event"):
        assert_identical(getattr(got, name), getattr(want, name), f"{what}: {name}")


# -- one symbol: the golden files and their splits -------------------------------------------
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=golden_id)
def test_golden_history_split_anywhere_equals_the_full_computation(rust, path):
    gold = np.load(path)
    cfg = golden_config(gold)
    close = gold["close"]
    src = gold["src"] if "src" in gold else None
    n = close.size
    full = rust.compute(close, cfg, detail=True, src=src)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))

    def part(a, lo, hi, batch=True):
        return None if a is None else (a[None, lo:hi] if batch else a[lo:hi])

    for split in sorted({2, int(rng.integers(3, 90)), int(rng.integers(90, n - 1))}):
        tail = min(split, 7)
        states, first = rust.incremental_init(close[None, :split], cfg, tail=tail,
                                              src=part(src, 0, split))
        assert_batch_row(first, 0, full, split - tail, range(tail), f"{path.stem} init {split}")
        at, step = split, 0
        while at < n:
            k = min(int(rng.integers(1, 60)), n - at)
            what = f"{path.stem} split {split}, bars {at}…{at + k - 1}"
            # The forming bar, twice: equal to the full computation's bar, state unchanged.
            for _ in range(2):
                f = rust.incremental_forming(states, close[at:at + 1],
                                             src=None if src is None else src[at:at + 1])
                assert_batch_row(f, 0, full, at, range(1), what + " forming")
            fd = rust.incremental_forming_detail(states, 0, close[at],
                                                 src=None if src is None else src[at])
            assert_detail_bars(fd, rust.compute(close[:at + 1], cfg, detail=True,
                                                src=None if src is None else src[:at + 1]),
                               at, what + " forming detail")
            assert int(states.bars()[0]) == at
            if step % 2:
                got = rust.incremental_update_detail(states, 0, close[at:at + k],
                                                     src=part(src, at, at + k, batch=False))
                assert_detail_bars(got, full, at, what)
            else:
                got = rust.incremental_update(states, close[None, at:at + k], src=part(src, at, at + k))
                assert_batch_row(got, 0, full, at, range(k), what)
                if src is None:
                    assert_same_batch(got, rust.compute_batch(close[None, :at + k], cfg, tail=k), what)
            at, step = at + k, step + 1
        assert int(states.bars()[0]) == n


LENGTH_FIELDS = ("ema_len", "hull_len", "wma_len", "dema_len", "lsma_len", "kama_len")

random_config = st.builds(
    lambda rob, lens, cut, strat, col, alert, kind, ct, la: ATCConfig(
        robustness=rob, cutout=cut, strategy=strat, colbase=col, alertbase=alert, hma_kind=kind,
        cut_threshold=ct, La=la,
        **dict(zip(LENGTH_FIELDS, (max(x, 1 + ROBUSTNESS_OFFSETS[rob][3]) for x in lens)))),
    st.sampled_from(tuple(ROBUSTNESS_OFFSETS)),
    st.lists(st.integers(1, 45), min_size=6, max_size=6),
    st.integers(0, 150),
    st.booleans(),
    st.sampled_from(BASE_CHOICES),
    st.sampled_from(BASE_CHOICES),
    st.sampled_from(("sma", "hull")),
    st.sampled_from((0.49, 0.0, 0.3)),
    st.sampled_from((0.02, 0.5)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=random_config, seed=st.integers(0, 2**32 - 1), n=st.integers(3, 260),
       cents=st.booleans(), data=st.data())
def test_random_configs_split_anywhere_equal_the_full_computation(rust, config, seed, n, cents, data):
    """Random parameters (lengths, robustness, cutout, bases, Hull, λ), series in cents
    (near-ties) or not, a random split and random chunks: every bar, detail included."""
    rng = np.random.default_rng(seed)
    close = random_walk(rng, n, start=float(rng.uniform(0.5, 50)), vol=0.03)
    if cents:
        close = np.maximum(np.round(close, 2), 0.01)
    full = rust.compute(close, config, detail=True)
    at = data.draw(st.integers(2, n - 1), label="split")
    states, first = rust.incremental_init(close[None, :at], config, tail=1)
    assert_batch_row(first, 0, full, at - 1, range(1), "init")
    while at < n:
        k = data.draw(st.integers(1, n - at), label="chunk")
        assert_detail_bars(rust.incremental_forming_detail(states, 0, close[at]),
                           rust.compute(close[:at + 1], config, detail=True), at, "forming")
        assert_detail_bars(rust.incremental_update_detail(states, 0, close[at:at + k]), full, at,
                           f"bars {at}…{at + k - 1}")
        at += k


# -- batches of symbols with different histories -----------------------------------------------
def grow(rng: np.random.Generator, history: list[float], count: int) -> list[float]:
    """The next ``count`` prices of a random walk continuing ``history``."""
    last = history[-1] if history else float(rng.uniform(5, 500))
    walk = last * np.exp(np.cumsum(rng.normal(0.0, 0.03, count)))
    return [float(v) for v in walk]


@pytest.mark.parametrize("seed", range(6))
def test_batches_with_different_histories_and_gaps_equal_the_full_computation(rust, seed):
    """Symbols start on different bars; each block gives some symbols fewer new bars (NaN
    on the left) or none; forming bars are NaN for some symbols."""
    rng = np.random.default_rng(1000 + seed)
    cfg = list(CONFIGS.values())[seed % len(CONFIGS)]
    symbols, bars = 6, 160 + 40 * seed
    starts = rng.integers(0, bars - 2, symbols)
    starts[0] = 0
    closes = np.full((symbols, bars), np.nan)
    history: list[list[float]] = []
    for i, s in enumerate(starts):
        history.append(grow(rng, [], bars - int(s)))
        closes[i, s:] = history[i]
    tail = int(rng.integers(1, 30))
    states, first = rust.incremental_init(closes, cfg, tail=tail)
    assert_same_batch(first, rust.compute_batch(closes, cfg, tail=tail), "init")
    for chunk in range(12):
        k = int(rng.integers(1, 25))
        counts = rng.integers(0, k + 1, symbols)
        counts[rng.integers(symbols)] = k
        block = np.full((symbols, k), np.nan)
        for i in range(symbols):
            new = grow(rng, history[i], int(counts[i]))
            block[i, k - counts[i]:] = new
            history[i] += new
        # Forming bars (some symbols have none), evaluated twice before the block closes.
        forming = np.array([grow(rng, h, 1)[0] for h in history])
        forming[rng.random(symbols) < 0.3] = np.nan
        plain = states.copy()
        f1 = rust.incremental_forming(states, forming)
        assert_same_batch(f1, rust.incremental_forming(states, forming), "forming twice")
        got = rust.incremental_update(states, block)
        assert_same_batch(got, rust.incremental_update(plain, block), f"chunk {chunk}: forming changed the states")
        for i in range(symbols):
            full = rust.compute(np.array(history[i]), cfg)
            n = len(history[i])
            assert_batch_row(got, i, full, n - counts[i], range(k - counts[i], k), f"chunk {chunk} row {i}")
            # The forming bar of the history before this block.
            n0 = n - counts[i]
            if np.isnan(forming[i]):
                assert np.isnan(f1.average_signal[i, 0]) and not (f1.long[i, 0] or f1.short[i, 0])
                prior = rust.compute(np.array(history[i][:n0]), cfg)
                assert (int(f1.last_event[i]), int(f1.bars_since_event[i])) == events_until(prior, n0 - 1)
            else:
                ahead = rust.compute(np.array(history[i][:n0] + [float(forming[i])]), cfg)
                assert_batch_row(f1, i, ahead, n0, range(1), f"chunk {chunk} row {i} forming")
        assert list(states.bars()) == [len(h) for h in history]


def test_one_bar_per_symbol_as_a_vector_and_the_batch_it_extends(rust):
    rng = np.random.default_rng(7)
    closes = np.vstack([random_walk(rng, 300) for _ in range(5)])
    states, _ = rust.incremental_init(closes[:, :299], ATCConfig())
    got = rust.incremental_update(states, closes[:, 299])
    assert_same_batch(got, rust.compute_batch(closes, ATCConfig()), "one bar each")
    assert got.signals.shape == (5, 6, 1)


def test_separate_source_is_required_exactly_when_the_states_have_one(rust):
    rng = np.random.default_rng(8)
    close = random_walk(rng, 200)
    src = close * (1 + 0.003 * np.sin(np.arange(200)))
    full = rust.compute(close, ATCConfig(), detail=True, src=src)
    states, _ = rust.incremental_init(close[None, :150], ATCConfig(), src=src[None, :150])
    assert states.with_src
    with pytest.raises(ATCInputError, match="src") as info:
        rust.incremental_update(states, close[None, 150:160])
    assert info.value.field == "src"
    gap = close[None, 150:160].copy()
    gap[0, :2] = np.nan                      # no bar there, yet src has one
    with pytest.raises(ATCInputError, match="src row 0 at bar 0 is .* where new_bars is NaN") as info:
        rust.incremental_update(states, gap, src=src[None, 150:160])
    assert info.value.field == "src"
    got = rust.incremental_update(states, close[None, 150:200], src=src[None, 150:200])
    assert_batch_row(got, 0, full, 150, range(50), "src")
    plain, _ = rust.incremental_init(close[None, :150], ATCConfig())
    with pytest.raises(ATCInputError, match="without src"):
        rust.incremental_forming(plain, close[150:151], src=src[150:151])


# -- the states object -------------------------------------------------------------------------
def test_states_report_size_history_and_copy_independently(rust):
    rng = np.random.default_rng(9)
    closes = np.vstack([random_walk(rng, 400) for _ in range(4)])
    closes[1, :300] = np.nan
    states, _ = rust.incremental_init(closes[:, :380], ATCConfig())
    assert len(states) == 4
    assert list(states.bars()) == [380, 80, 380, 380]
    # Default parameters: the seeded state of every symbol fits in 8 KB.
    assert 0 < states.nbytes_per_symbol() <= 8 * 1024
    assert states.nbytes() <= 4 * states.nbytes_per_symbol()
    copy = states.copy()
    rust.incremental_update(copy, closes[:, 380:])
    assert list(states.bars()) == [380, 80, 380, 380] and list(copy.bars()) == [400, 100, 400, 400]
    assert states.config == ATCConfig() and "4 symbols" in repr(states)
    assert isinstance(rust, IncrementalBackend)


def test_warm_up_states_are_larger_until_every_seed_exists(rust):
    closes = random_walk(np.random.default_rng(10), 200)[None, :]
    states, _ = rust.incremental_init(closes[:, :10], ATCConfig())
    warm = states.nbytes_per_symbol()
    rust.incremental_update(states, closes[:, 10:100])
    assert states.nbytes_per_symbol() < warm


# -- validation ------------------------------------------------------------------------------
def test_parameters_are_validated_like_compute(rust, monkeypatch):
    close = random_walk(np.random.default_rng(11), 80)[None, :]
    bad = np.full((6, 9), 3, dtype=np.int64)
    bad[2, 4] = 0
    original = adapter.kernel_params
    monkeypatch.setattr(adapter, "kernel_params",
                        lambda cfg, mode="full": dataclasses.replace(original(cfg, mode), lengths=bad))
    with pytest.raises(ATCInputError, match="WMA") as info:
        rust.incremental_init(close, ATCConfig())
    assert info.value.field == "lengths"
    monkeypatch.setattr(adapter, "kernel_params",
                        lambda cfg, mode="full": dataclasses.replace(original(cfg, mode), cutout=-1))
    with pytest.raises(ATCInputError) as info:
        rust.incremental_init(close, ATCConfig())
    assert info.value.field == "cutout"
    monkeypatch.undo()
    with pytest.raises(ATCInputError, match="tail"):
        rust.incremental_init(close, ATCConfig(), tail=0)
    with pytest.raises(ATCInputError, match="2-D"):
        rust.incremental_init(close[0], ATCConfig())
    with pytest.raises(ATCInputError, match="row 0 at bar 5"):
        rust.incremental_init(np.where(np.arange(80) == 5, -1.0, close), ATCConfig())


def test_bad_new_bars_name_the_row_and_change_nothing(rust):
    rng = np.random.default_rng(12)
    closes = np.vstack([random_walk(rng, 120) for _ in range(3)])
    states, _ = rust.incremental_init(closes[:, :100], ATCConfig())
    block = closes[:, 100:110].copy()
    cases = [
        (np.where(np.arange(10) == 4, np.nan, block), "new_bars row 0 at bar 4 is nan"),
        (np.vstack([block[:2], np.where(np.arange(10) == 2, 0.0, block[2])]), "new_bars row 2 at bar 2 is 0.0"),
        (block[:2], "2 rows but the states hold 3"),
        (block[:, :0], "no columns"),
        (block[None], "2-D"),
        ([["x"] * 10] * 3, "not numeric"),
    ]
    for new, message in cases:
        with pytest.raises(ATCInputError, match=message) as info:
            rust.incremental_update(states, new)
        assert info.value.field == "new_bars"
    with pytest.raises(ATCInputError, match="forming has 2 values") as info:
        rust.incremental_forming(states, block[:2, 0])
    with pytest.raises(ATCInputError, match="forming row 1 at bar 0 is -3.0"):
        rust.incremental_forming(states, np.array([1.0, -3.0, 1.0]))
    for symbol in (-1, 3, True, 1.5):
        with pytest.raises(ATCInputError) as info:
            rust.incremental_forming_detail(states, symbol, 100.0)
        assert info.value.field == "symbol"
    with pytest.raises(ATCInputError, match="closes at bar 1"):
        rust.incremental_update_detail(states, 0, [100.0, np.nan])
    with pytest.raises(ATCInputError, match=r"new_bars row 1 at bar 9 is 1e\+101; .* within 1e-100"):
        rust.incremental_update(states, np.where(np.arange(10) == 9, [[1.0], [1e101], [1.0]], block))
    with pytest.raises(ATCInputError, match="no bars"):
        rust.incremental_update_detail(states, 0, [])
    assert list(states.bars()) == [100, 100, 100]
    got = rust.incremental_update(states, block)
    assert_same_batch(got, rust.compute_batch(closes[:, :110], ATCConfig(), tail=10), "after errors")


def test_an_extension_without_the_incremental_engine_is_reported(rust):
    old = SimpleNamespace(**{n: getattr(rust._native, n) for n in adapter._REQUIRED})
    backend = RustBackend(old)
    assert backend.probe().available
    with pytest.raises(BackendError, match="no incremental engine"):
        backend.incremental_init(np.ones((1, 5)), ATCConfig())
