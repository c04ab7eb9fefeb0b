"""Self-test of the CUDA backend on a GPU machine: parity, then timings.

    python -m tools.gpu_selftest [--symbols 10000] [--bars 5000] [--random 1000]

1. Parity with the numpy reference under :mod:`core.agreement`'s rule (continuous outputs
   1e-9 relative, discrete exact, the golden MAs bit for bit):
   every golden file (``ATC_GOLDEN_DIR`` or ``../shared/golden``) through ``compute`` with
   the per-member detail, and ≥ 1000 random symbols with random parameters through
   ``compute_batch`` in both modes, against :func:`core.atc.compute_reference` per row.
2. Timings on a symbols × bars random-walk batch: the full kernel alone (CUDA events around
   the main launches), full end to end with tail = 1, EMA-only end to end, and the batch
   size at which CUDA overtakes the Rust backend (when it is installed).

Exit status 0 when every parity check passed, 1 when one failed, 2 when no GPU is usable
(the probe's reason is printed). The functions take the backend and launcher as arguments,
so the tests run the parity part on the CPU emulation of the kernels. A developer tool, run
from a checkout; not part of the installed backend.
"""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import numpy.typing as npt

from core import agreement
from core.config import ROBUSTNESS_OFFSETS, ATCConfig
from core.kernel_params import kernel_params
from cuda_backend.backend import CudaBackend
from cuda_backend.cupy_executor import CupyExecutor
from cuda_backend.launcher import KernelArg, Launcher
from cuda_backend.reference_check import batch_mismatches
from tools.golden import find_golden_dir

_BASES = ("Average", "EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA")


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
    directory = directory or find_golden_dir()
    if directory is None:
        report.failures.append("no golden files found (set ATC_GOLDEN_DIR)")
        return report
    for path in sorted(directory.glob("*.npz")) + sorted(directory.glob("ties/*.npz")):
        gold = dict(np.load(path))
        config = ATCConfig.from_dict(json.loads(str(gold["params_json"])))
        src = gold.get("src")
        result = backend.compute(np.asarray(gold["close"], dtype=np.float64), config, detail=True,
                                 src=None if src is None else np.asarray(src, dtype=np.float64))
        columns = dict(result.columns(detail=True))
        outputs = {name: gold[name] for name in sorted(set(gold) - agreement.GOLDEN_INPUTS)}
        report.failures += [f"{path.stem}: {p}" for p in agreement.golden_mismatches(columns, outputs)]
        compared = len(set(outputs) & set(columns))
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


def random_batch(rng: np.random.Generator, symbols: int, bars: int) -> tuple[npt.NDArray[np.float64], list[int]]:
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

    def __init__(self, launcher: Launcher) -> None:
        import cupy  # type: ignore[import-not-found, unused-ignore]

        self.cp = cupy
        self.executor = launcher.executor
        self._launch = self.executor.launch
        self.pairs: list[tuple[Any, Any]] = []

        def timed(kernel: str, grid: tuple[int, int], block: tuple[int, int],
                  args: tuple[KernelArg, ...], stream: Any) -> None:
            if kernel not in self.MAIN:
                return self._launch(kernel, grid, block, args, stream)
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record(stream)
            self._launch(kernel, grid, block, args, stream)
            stop.record(stream)
            self.pairs.append((start, stop))

        # Replaced in place: the launcher calls the executor's launch through the attribute.
        self.executor.launch = timed  # type: ignore[method-assign]

    def take_ms(self) -> float:
        """Sum of the recorded kernels' times (ms) since the last call."""
        total = 0.0
        for start, stop in self.pairs:
            stop.synchronize()
            total += self.cp.cuda.get_elapsed_time(start, stop)
        self.pairs.clear()
        return total

    def close(self) -> None:
        self.executor.launch = self._launch  # type: ignore[method-assign]


def median_seconds(call: Callable[[], Any], repeats: int) -> float:
    call()                                      # warm-up: compilation, pools, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def walks(symbols: int, bars: int, seed: int = 7) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (symbols, bars)), axis=1))


def crossover(cuda: Any, rust: Any, bars: int, sizes: Iterable[int],
              repeats: int = 3) -> tuple[int | None, list[tuple[int, float, float]]]:
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
    parser = argparse.ArgumentParser(prog="python -m tools.gpu_selftest", description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10_000)
    parser.add_argument("--bars", type=int, default=5_000)
    parser.add_argument("--random", type=int, default=1000, help="random symbols for parity")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-timings", action="store_true")
    args = parser.parse_args(argv)

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
