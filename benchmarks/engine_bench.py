"""ATC engine workloads on every available backend (issues' targets in seconds)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.timing import median_time, row
from core.backends.base import Backend, IncrementalBackend
from core.backends.registry import Registry
from core.config import FAMILIES, ATCConfig

REPO = Path(__file__).resolve().parents[1]

# Targets per (workload, backend), from the issues.
TARGETS = {
    ("1×1500 detail", "numba"): 1e-3,
    ("1×1500 detail", "rust"): 0.3e-3,
    ("518×1500 full batch", "numba"): 0.100,
    ("518×1500 full batch", "rust"): 0.025,
    ("5000×1500 EMA-only screening", "numba"): 0.100,
    ("1×100,000 full", "rust"): 0.010,
    ("5000×1500 full, tail=1", "rust"): 0.250,
    ("5000 symbols, 1 new bar, full (incremental)", "rust"): 2e-3,
    ("evaluate_forming 5000", "rust"): 2e-3,
    ("first computation, fresh process (warm JIT cache)", "numba"): 0.5,
}
MEMORY_TARGETS_MB = {"numba": 150.0, "rust": 100.0}
# Screening on one family other than EMA (mode family:F), numba's generated kernel.
TARGETS.update({(f"5000×1500 {f}-only screening", "numba"): 0.150 if f == "KAMA" else 0.200
                for f in FAMILIES[1:]})
#: A one-family screen must be this much faster per symbol than the full ATC.
FAMILY_GAIN_MIN = 4.0


def walks(symbols: int, bars: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, (symbols, bars)), axis=1)))


def tie_heavy_cents(symbols: int, bars: int, seed: int = 5) -> np.ndarray:
    """Low-priced walks quoted in cents with flat stretches: many MAs meet the close to the
    last bit, so the exact arithmetic decides a large share of the crossover states."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(2.0, 30.0, (symbols, 1)) * np.exp(
        np.cumsum(rng.normal(0.0, 0.01, (symbols, bars)), axis=1))
    held = rng.random((symbols, bars)) < 0.35                  # bars that repeat the last quote
    held[:, 0] = False
    idx = np.where(held, 0, np.arange(bars))
    np.maximum.accumulate(idx, axis=1, out=idx)
    prices = np.take_along_axis(prices, idx, axis=1)
    return np.ascontiguousarray(np.maximum(np.round(prices, 2), 0.01))


#: The tie-heavy batch may cost at most this much more than the random-walk batch.
TIE_HEAVY_RATIO = 1.5


def _target(workload: str, backend: str) -> float | None:
    return TARGETS.get((workload, backend))


def run(repeats: int = 7, backends: list[str] | None = None) -> list[dict]:
    registry = Registry()
    names = [n for n in registry.names if registry.probe(n).available]
    if backends:
        names = [n for n in names if n in backends]
    cfg = ATCConfig()
    rows: list[dict] = []
    one = walks(1, 1500)[0]
    long_series = walks(1, 100_000, seed=3)[0]
    batch518 = walks(518, 1500)
    cents518 = tie_heavy_cents(518, 1500)
    batch5000 = walks(5000, 1500, seed=11)
    for name in names:
        b = registry.get(name)
        slow = name == "numpy"
        reps = 1 if slow else repeats
        t = median_time(lambda: b.compute(one, cfg, detail=True), reps * (3 if not slow else 3))
        rows.append(row("1×1500 detail", name, t, _target("1×1500 detail", name)))
        t = median_time(lambda: b.compute(long_series, cfg), reps, warmup=0 if slow else 1)
        rows.append(row("1×100,000 full", name, t, _target("1×100,000 full", name)))
        if slow:   # the reference runs per symbol in Python: time a slice and say so
            t = median_time(lambda: b.compute_batch(batch518[:20], cfg), 1, warmup=0) * 518 / 20
            rows.append(row("518×1500 full batch", name, t, None, "extrapolated from 20 symbols"))
            continue
        label = name
        if name == "numba":
            # The full ATC's generated kernel, built first as the app and `atc` prepare it
            # (~2 min once per configuration, then from numba's on-disk cache).
            b.prepare(cfg, "full")
            b.wait_prepared(timeout=900)
            assert b.compute_batch(batch518[:2], cfg).notes == ["full ATC: specialised kernel"]
            label = "numba specialised"
        t_full = median_time(lambda: b.compute_batch(batch518, cfg), repeats)
        rows.append(row("518×1500 full batch", label, t_full, _target("518×1500 full batch", name)))
        t = median_time(lambda: b.compute_batch(cents518, cfg), repeats)
        rows.append(row("518×1500 full batch, cent prices (tie-heavy)", label, t,
                        TIE_HEAVY_RATIO * t_full if name in ("rust", "numba") else None,
                        f"{t / t_full:.2f}× the random-walk batch (target ≤ {TIE_HEAVY_RATIO}×)"))
        if name == "numba":
            generic = cfg.replace(use_codegen_specialization=False)
            t = median_time(lambda: b.compute_batch(batch518, generic), repeats)
            rows.append(row("518×1500 full batch", "numba generic", t, None,
                            f"{t / t_full:.2f}× the specialised kernel's time"))
        for spec in (True, False) if name == "numba" else (True,):
            c = cfg.replace(use_codegen_specialization=spec)
            t = median_time(lambda: b.compute_batch(batch5000, c, mode="ema_only"), repeats)
            label = "5000×1500 EMA-only screening"
            kind = "specialised" if spec else "generic"
            per_symbol_gain = (t_full / 518) / (t / 5000)
            rows.append(row(label, name if name != "numba" else f"numba {kind}", t,
                            _target(label, name) if spec else None,
                            f"{per_symbol_gain:.1f}× faster per symbol than full"))
        if name == "numba":
            rows += _family_rows(b, cfg, batch5000, t_full / 518, repeats)
        t = median_time(lambda: b.compute_batch(batch5000, cfg, tail=1), max(3, repeats // 2))
        mem = _peak_memory_mb(name)
        target_mb = MEMORY_TARGETS_MB.get(name)
        note = f"peak {mem:.0f} MB above the 60 MB input" + (f" (target ≤ {target_mb:.0f} MB)" if target_mb else "")
        rows.append(row("5000×1500 full, tail=1", name, t, _target("5000×1500 full, tail=1", name),
                        note, peak_mb=mem, peak_target_mb=target_mb))
        if isinstance(b, IncrementalBackend):
            rows += _incremental_rows(b, cfg, batch5000, repeats)
    if "numba" in names:
        rows.append(row("first computation, fresh process (warm JIT cache)", "numba",
                        _cold_start(repeats), _target("first computation, fresh process (warm JIT cache)", "numba"),
                        "import + first 1×1500 compute, interpreter start excluded"))
    return rows


def _family_rows(b: Backend, cfg: ATCConfig, closes: np.ndarray, full_per_symbol: float,
                 repeats: int) -> list[dict]:
    """tail=1 screening on each family but EMA alone (the generated kernel; its compile is
    the untimed warm-up run), against the full ATC per symbol on the same backend."""
    out = []
    for family in FAMILIES[1:]:
        label = f"5000×1500 {family}-only screening"
        t = median_time(lambda: b.compute_batch(closes, cfg, mode=f"family:{family}"), repeats)
        gain = full_per_symbol / (t / closes.shape[0])
        out.append(row(label, "numba specialised", t, _target(label, "numba"),
                       f"{gain:.1f}× faster per symbol than full (target ≥ {FAMILY_GAIN_MIN:.0f}×)"))
    return out


def _incremental_rows(b: IncrementalBackend, cfg: ATCConfig, closes: np.ndarray,
                     repeats: int) -> list[dict]:
    """States built on all but the last bar of the 5000-symbol batch; then that bar
    appended (each timed run appends it once more) and evaluated as the forming bar."""
    states, _ = b.incremental_init(closes[:, :-1], cfg)
    last = np.ascontiguousarray(closes[:, -1])
    size = f"state {states.nbytes_per_symbol()} B per symbol (target ≤ 8192)"
    reps = max(15, 3 * repeats)
    label = "5000 symbols, 1 new bar, full (incremental)"
    t = median_time(lambda: b.incremental_update(states, last), reps)
    out = [row(label, b.name, t, _target(label, b.name), size)]
    t = median_time(lambda: b.incremental_forming(states, last), reps)
    out.append(row("evaluate_forming 5000", b.name, t, _target("evaluate_forming 5000", b.name),
                   "state unchanged"))
    return out


_COLD = """
import time
t0 = time.perf_counter()
import numpy as np
from core.config import ATCConfig
from core.jit.backend import NumbaBackend
x = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 1500)))
NumbaBackend().compute(x, ATCConfig(), detail=True)
print(time.perf_counter() - t0)
"""


def _cold_start(repeats: int) -> float:
    times = []
    for i in range(repeats + 1):          # the first run fills the JIT cache if it is cold
        out = subprocess.run([sys.executable, "-c", _COLD], cwd=REPO, capture_output=True,
                             text=True, check=True)
        if i:
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return float(np.median(times))


_MEMORY = """
import json, sys
import numpy as np
from benchmarks.engine_bench import walks
from benchmarks.timing import peak_rss_above
from core.backends.registry import Registry
from core.config import ATCConfig
b = Registry().get(sys.argv[1])
if sys.argv[1] == "numba":                                 # the timed row's kernel
    b.prepare(ATCConfig(), "full")
    b.wait_prepared(timeout=900)
b.compute_batch(walks(4, 1500), ATCConfig(), tail=1)       # compile / load first
x = walks(5000, 1500, seed=11)
print(json.dumps(peak_rss_above(lambda: b.compute_batch(x, ATCConfig(), tail=1))))
"""


def _peak_memory_mb(backend: str) -> float:
    """Peak RSS above the input during a 5000×1500 tail=1 batch, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEMORY, backend], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) / 2**20
