"""Self-test of the CUDA backend on a GPU machine: parity, then timings.

    python -m cuda_backend.gpu_selftest [--symbols 10000] [--bars 5000] [--random 1000]

1. Parity with the numpy reference (continuous outputs 1e-9 relative, discrete exact):
   every golden file (``ATC_GOLDEN_DIR`` or ``../shared/golden``) through ``compute`` with
   the per-member detail, and ≥ 1000 random symbols with random parameters through
   ``compute_batch`` in both modes, against :func:`core.atc.compute_reference` per row.
2. Timings on a symbols × bars random-walk batch: the full kernel alone (CUDA events around
   the main launches), full end to end with tail = 1, EMA-only end to end, and the batch
   size at which CUDA overtakes the Rust backend (when it is installed).

Exit status 0 when every parity check passed, 1 when one failed, 2 when no GPU is usable
(the probe's reason is printed). The functions take the backend and launcher as arguments,
so the tests run the parity part on the CPU emulation of the kernels.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from core.config import ROBUSTNESS_OFFSETS, ATCConfig
from core.types import MA_NAMES

#: Discrete columns of the golden files (compared exactly).
_DISCRETE_EXACT = {"direction", "arrow_long", "arrow_short", "long", "short"}
_BASES = ("Average", "EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA")


def compute_reference(*args: Any, **kwargs: Any) -> Any:
    """The numpy reference, loaded by name at run time: the backend package keeps no static
    dependency on core.atc (pyproject.toml's import contracts), only this tool uses it."""
    return importlib.import_module("core.atc").compute_reference(*args, **kwargs)


def golden_dir() -> Path | None:
    env = os.environ.get("ATC_GOLDEN_DIR")
    repo = Path(__file__).resolve().parent.parent
    for candidate in ([Path(env)] if env else []) + [repo.parent / "shared" / "golden",
                                                      repo / "shared" / "golden"]:
        if candidate.is_dir() and any(candidate.glob("*.npz")):
            return candidate
    return None


def _is_discrete(name: str) -> bool:
    return (name in _DISCRETE_EXACT or name.startswith("sig.") or name.endswith("_Signal")
            or name.endswith("_Cut"))


#: Golden keys that are inputs or descriptions, not outputs.
_GOLDEN_INPUTS = {"close", "src", "params_json", "note"}


def column_mismatch(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """None when equal under the project's rule, else where and how they differ: discrete
    columns and the 54 MAs (TradingView's values, spec §4.8) exactly, others within 1e-9."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return f"{name}: shape {got.shape} != {want.shape}"
    gn, wn = np.isnan(got), np.isnan(want)
    if _is_discrete(name) or name in MA_NAMES:
        ok = (gn & wn) | (~gn & ~wn & (got == want))
    else:
        ok = (gn & wn) | (~gn & ~wn & (np.abs(got - want) <= 1e-9 * np.maximum(1.0, np.abs(want))))
    if ok.all():
        return None
    i = np.unravel_index(int(np.argmin(ok)), ok.shape)
    return f"{name}: {int((~ok).sum())} values differ, first at {tuple(int(v) for v in i)}: {got[i]!r} != {want[i]!r}"


@dataclass
class Parity:
    what: str
    checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.failures


def parity_golden(backend: Any, directory: Path | None = None) -> Parity:
    """Every golden file (``ties/`` included) through ``compute(detail=True)``, column by
    column; a golden column the result lacks is a failure."""
    report = Parity("golden files")
    directory = directory or golden_dir()
    if directory is None:
        report.failures.append("no golden files found (set ATC_GOLDEN_DIR)")
        return report
    for path in sorted(directory.glob("*.npz")) + sorted(directory.glob("ties/*.npz")):
        gold = dict(np.load(path))
        config = ATCConfig.from_dict(json.loads(str(gold["params_json"])))
        src = gold.get("src")
        result = backend.compute(np.asarray(gold["close"], dtype=np.float64), config, detail=True,
                                 src=None if src is None else np.asarray(src, dtype=np.float64))
        compared = 0
        columns = dict(result.columns(detail=True))
        for name in sorted(set(gold) - _GOLDEN_INPUTS):
            if name not in columns:
                report.failures.append(f"{path.stem}: {name} missing from the result")
                continue
            compared += 1
            bad = column_mismatch(name, columns[name], gold[name])
            if bad:
                report.failures.append(f"{path.stem}: {bad}")
        if compared < 100:
            report.failures.append(f"{path.stem}: only {compared} columns matched golden names")
        report.checked += 1
    return report


def random_config(rng: np.random.Generator, max_length: int = 120) -> ATCConfig:
    """Parameters across their ranges, often at the edges (members of length 1…3, long
    cutouts, Strategy View, the Hull option); base lengths below ``max_length``."""
    robustness = str(rng.choice(list(ROBUSTNESS_OFFSETS)))
    low = 1 + ROBUSTNESS_OFFSETS[robustness][3]

    def length() -> int:
        return int(low if rng.random() < 0.2 else rng.integers(low, max_length))

    return ATCConfig(
        La=float(rng.uniform(0.005, 0.5)), De=float(rng.uniform(0.01, 0.25)),
        cutout=int(0 if rng.random() < 0.5 else rng.integers(0, 150)), robustness=robustness,
        long_threshold=float(rng.uniform(-0.2, 0.7)), short_threshold=float(rng.uniform(-0.7, 0.2)),
        ema_len=length(), hull_len=length(), wma_len=length(), dema_len=length(), lsma_len=length(),
        kama_len=length(),
        ema_w=float(rng.uniform(0, 5)), hma_w=float(rng.uniform(0, 5)), wma_w=float(rng.uniform(0, 5)),
        dema_w=float(rng.uniform(0, 5)), lsma_w=float(rng.uniform(0, 5)), kama_w=float(rng.uniform(0, 5)),
        strategy=bool(rng.random() < 0.4), colbase=str(rng.choice(_BASES)), alertbase=str(rng.choice(_BASES)),
        hma_kind="hull" if rng.random() < 0.25 else "sma", cut_threshold=float(rng.uniform(0.0, 0.99)),
    )


def random_batch(rng: np.random.Generator, symbols: int, bars: int) -> tuple[np.ndarray, list[int]]:
    """Random walks, some rounded to cents (ties with the MAs), NaN-left-padded at random."""
    closes = np.empty((symbols, bars))
    firsts = []
    for row in range(symbols):
        vol = float(rng.uniform(0.002, 0.06))
        prices = float(rng.uniform(1.0, 500.0)) * np.exp(np.cumsum(rng.normal(0.0, vol, bars)))
        if rng.random() < 0.3:
            prices = np.maximum(np.round(prices, 2), 0.01)
        first = 0 if rng.random() < 0.3 else int(rng.integers(0, bars - 1))
        prices[:first] = np.nan
        closes[row] = prices
        firsts.append(first)
    return closes, firsts


def check_batch() -> tuple[np.ndarray, list[int], ATCConfig]:
    """The probe's self-check batch (cuda_backend.backend.self_check): four 300-bar series
    full of near-ties — cent prices with flat stretches, a 5-decimal FX walk, a constant
    series, a cent walk starting late — and a Narrow parameter set whose WMA and LSMA
    windows exceed ATC_DIRECT_MAX (so their running sums and the safe band are exercised,
    across an exact re-sum on bar 256)."""
    rng = np.random.default_rng(11)
    bars = 300
    cents = np.round(25.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, bars))), 2)
    cents[60:90] = cents[60]
    cents[200:215] = cents[200]
    fx = np.round(1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0004, bars))), 5)
    late = np.round(3.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars))), 2)
    firsts = [0, 0, 0, 170]
    late[:firsts[3]] = np.nan
    closes = np.vstack([cents, fx, np.full(bars, 12.34), late])
    config = ATCConfig(robustness="Narrow", ema_len=9, hull_len=10, wma_len=14, dema_len=7,
                       lsma_len=13, kama_len=8, cutout=3)
    return closes, firsts, config


def batch_mismatches(out: Any, closes: np.ndarray, firsts: Iterable[int], config: ATCConfig,
                     tail: int, mode: str) -> list[str]:
    """Rows of a batch result that differ from the reference on the row's own history."""
    nf = 6 if mode == "full" else 1
    n = closes.shape[1]
    bad = []
    for row, first in enumerate(firsts):
        ref = compute_reference(closes[row, first:], config, families=nf)
        k = min(tail, n - first)
        pairs = [("signals", out.signals[row, :, tail - k:], ref.signals[:nf, -k:]),
                 ("equities", out.family_equities[row, :, tail - k:], ref.family_equities[:nf, -k:]),
                 ("direction", out.direction[row, tail - k:], ref.direction[-k:]),
                 ("long", out.long[row, tail - k:], ref.long[-k:]),
                 ("short", out.short[row, tail - k:], ref.short[-k:])]
        if mode == "full":
            pairs.append(("average", out.average_signal[row, tail - k:], ref.average_signal[-k:]))
        for name, got, want in pairs:
            # Layer-1 signals are discrete (round2 codes); the "_Signal" suffix says so.
            problem = column_mismatch(name + ("_Signal" if name == "signals" else ""), got, want)
            if problem:
                bad.append(f"row {row}: {problem}")
        hits = np.flatnonzero(ref.long | ref.short)
        want_event = ((1 if ref.long[hits[-1]] else -1), ref.long.size - 1 - hits[-1]) if hits.size else (0, -1)
        if (int(out.last_event[row]), int(out.bars_since_event[row])) != want_event:
            bad.append(f"row {row}: last event {(int(out.last_event[row]), int(out.bars_since_event[row]))} "
                       f"!= {want_event}")
    return bad


def parity_random(backend: Any, symbols: int = 1000, per_config: int = 40, seed: int = 2024) -> Parity:
    """``symbols`` random symbols in groups sharing one random parameter set, both modes."""
    report = Parity(f"{symbols} random symbols")
    rng = np.random.default_rng(seed)
    done = 0
    while done < symbols:
        count = min(per_config, symbols - done)
        config = random_config(rng)
        bars = int(rng.integers(120, 900))
        closes, firsts = random_batch(rng, count, bars)
        tail = int(rng.integers(1, bars + 1))
        for mode in ("full", "ema_only"):
            out = backend.compute_batch(closes, config, tail=tail, mode=mode)
            for problem in batch_mismatches(out, closes, firsts, config, tail, mode)[:5]:
                report.failures.append(f"group at symbol {done} ({mode}, {config}): {problem}")
        done += count
        report.checked += count
    return report


# -- timings -----------------------------------------------------------------------------
class KernelClock:
    """Times the main kernels of a launcher (not the prepare kernel, copies or fills) by
    wrapping its executor's ``launch`` with CUDA events on the launch's stream."""

    MAIN = ("atc_full_kernel", "atc_full_hull_kernel", "atc_ema_only_kernel")

    def __init__(self, launcher: Any) -> None:
        import cupy  # type: ignore[import-not-found, unused-ignore]

        self.cp = cupy
        self.executor = launcher.executor
        self._launch = self.executor.launch
        self.pairs: list[tuple[Any, Any]] = []

        def timed(kernel, grid, block, args, stream):
            if kernel not in self.MAIN:
                return self._launch(kernel, grid, block, args, stream)
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record(stream)
            self._launch(kernel, grid, block, args, stream)
            stop.record(stream)
            self.pairs.append((start, stop))

        self.executor.launch = timed

    def take_ms(self) -> float:
        """Sum of the recorded kernels' times (ms) since the last call."""
        total = 0.0
        for start, stop in self.pairs:
            stop.synchronize()
            total += self.cp.cuda.get_elapsed_time(start, stop)
        self.pairs.clear()
        return total

    def close(self) -> None:
        self.executor.launch = self._launch


def median_seconds(call: Callable[[], Any], repeats: int) -> float:
    call()                                      # warm-up: compilation, pools, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def walks(symbols: int, bars: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (symbols, bars)), axis=1))


def crossover(cuda: Any, rust: Any, bars: int, sizes: Iterable[int], repeats: int = 3) -> tuple[int | None, list]:
    """The smallest batch (symbols) at which CUDA's end-to-end full batch beats Rust's."""
    rows = []
    found = None
    for size in sizes:
        closes = walks(size, bars, seed=size)
        tc = median_seconds(lambda: cuda.compute_batch(closes, ATCConfig(), tail=1), repeats)
        tr = median_seconds(lambda: rust.compute_batch(closes, ATCConfig(), tail=1), repeats)
        rows.append((size, tc, tr))
        if found is None and tc < tr:
            found = size
    return found, rows


def _rust_backend() -> Any | None:
    # By name, as the registry loads optional backends (no static cuda → rust dependency).
    try:
        backend = importlib.import_module("rust_backend").create_backend()
    except Exception:
        return None
    return backend if backend.probe().available else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cuda_backend.gpu_selftest", description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10_000)
    parser.add_argument("--bars", type=int, default=5_000)
    parser.add_argument("--random", type=int, default=1000, help="random symbols for parity")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-timings", action="store_true")
    args = parser.parse_args(argv)

    from core.kernel_params import kernel_params
    from cuda_backend.backend import CudaBackend
    from cuda_backend.cupy_executor import CupyExecutor
    from cuda_backend.launcher import Launcher

    backend = CudaBackend()
    probe = backend.probe()
    if not probe.available:
        print(f"no usable GPU: {probe.reason}")
        return 2
    print(f"device: {probe.device}; {probe.reason}")
    for key, value in probe.extra.items():
        print(f"  {key}: {value}")

    failed = False
    for report in (parity_golden(backend), parity_random(backend, args.random)):
        print(f"parity, {report.what}: {'OK' if report.ok else 'FAILED'} ({report.checked} checked)")
        for line in report.failures[:20]:
            print(f"  {line}")
        failed |= not report.ok
    if args.no_timings:
        return 1 if failed else 0

    n, b = args.symbols, args.bars
    closes = walks(n, b)
    rows: list[tuple[str, float]] = []
    launcher = Launcher(CupyExecutor())
    clock = KernelClock(launcher)
    try:
        full = kernel_params(ATCConfig(), "full")
        launcher.run_batch(closes, full, 1)                       # warm-up
        clock.take_ms()
        kernel_ms = []
        for _ in range(args.repeats):
            launcher.run_batch(closes, full, 1)
            kernel_ms.append(clock.take_ms())
        rows.append((f"full kernel only, {n}x{b}", statistics.median(kernel_ms) / 1e3))
    finally:
        clock.close()
    rows.append((f"full end-to-end tail=1, {n}x{b}",
                 median_seconds(lambda: backend.compute_batch(closes, ATCConfig(), tail=1), args.repeats)))
    rows.append((f"ema_only end-to-end tail=1, {n}x{b}",
                 median_seconds(lambda: backend.compute_batch(closes, ATCConfig(), tail=1, mode="ema_only"),
                                args.repeats)))
    print()
    print(f"{'measurement':<44} {'seconds':>10} {'symbol-bars/s':>15}")
    for name, seconds in rows:
        print(f"{name:<44} {seconds:>10.4f} {n * b / seconds:>15.3e}")

    rust = _rust_backend()
    if rust is None:
        print("\ncrossover vs Rust: the Rust backend is not available here")
    else:
        found, table = crossover(backend, rust, b, (1, 4, 16, 64, 256, 1024, 4096), args.repeats)
        print(f"\nfull batch, tail=1, {b} bars: CUDA vs Rust")
        print(f"{'symbols':>8} {'cuda s':>10} {'rust s':>10}")
        for size, tc, tr in table:
            print(f"{size:>8} {tc:>10.4f} {tr:>10.4f}")
        print(f"CUDA overtakes Rust at {found} symbols" if found else "CUDA did not overtake Rust in this range")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
