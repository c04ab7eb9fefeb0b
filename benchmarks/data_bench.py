"""Bar store benchmarks: 500 symbols x 5,000 daily bars in the SQLite store.

``python -m benchmarks.data_bench [--repeats N]`` prints the rows; ``python -m benchmarks``
includes them. Every run uses a fresh temporary folder; "cold open" is a new ``BarStore``
on an existing file plus its first query (the OS file cache is warm: dropping it would
need root and would disturb everyone else on the machine).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.timing import median_time

from core.data import BarStore, Bars
from core.data.providers.synthetic import SyntheticProvider

SYMBOLS = 500
BARS = 5000
TARGETS = {
    "store write 500×5000": 2.0,
    "store read 1 symbol": 0.005,
    "store read 500 symbols": 0.5,
    "store cold open (500 symbols)": 0.1,
}


def _row(workload: str, seconds: float, note: str = "") -> dict:
    return {"workload": workload, "backend": "sqlite", "median_s": seconds,
            "target_s": TARGETS.get(workload), "note": note}


def _append_bar(last: Bars, k: int) -> Bars:
    """``last`` (one bar) followed by a copy of it ``k`` days later."""
    o, h, lo, c, v = (np.append(a, a[-1]) for a in (last.open, last.high, last.low,
                                                     last.close, last.volume))
    ts = np.append(last.timestamps, last.timestamps[-1] + k * 86_400 * 10**9)
    return Bars(last.symbol, last.interval, ts, o, h, lo, c, v, tz=last.tz,
                source=last.source, synthetic=last.synthetic)


def universe() -> list[Bars]:
    """The 500 x 5,000 synthetic daily series the benchmark writes and reads."""
    provider = SyntheticProvider(count=SYMBOLS, bars=BARS, seed=11)
    return list(provider.fetch(provider.symbols(), "1d").bars.values())


def run(repeats: int = 7) -> list[dict]:
    """Time the store's writes, reads and opening; one row per workload."""
    data = universe()
    symbols = [b.symbol for b in data]
    rows = []
    with tempfile.TemporaryDirectory(prefix="atc-data-bench-") as tmp:
        folder = Path(tmp)
        counter = iter(range(10_000))
        current: dict[str, Path] = {}

        def fresh() -> None:
            current["path"] = folder / f"write-{next(counter)}.sqlite3"

        def write_all() -> None:
            with BarStore(current["path"]) as s:
                s.upsert_many(data)

        rows.append(_row("store write 500×5000", median_time(write_all, repeats, setup=fresh),
                         "one transaction, empty store"))

        def write_each() -> None:
            with BarStore(current["path"]) as s:
                for b in data:
                    s.upsert(b)

        rows.append(_row("store write 500×5000, per symbol", median_time(write_each, max(1, repeats // 3), setup=fresh),
                         "one transaction per symbol"))

        path = folder / "read.sqlite3"
        with BarStore(path) as s:
            s.upsert_many(data)
        store = BarStore(path)
        rng = np.random.default_rng(0)
        picks = iter(rng.choice(symbols, size=1_000_000))
        one = median_time(lambda: store.load(next(picks), "1d"), max(50, repeats * 20))
        rows.append(_row("store read 1 symbol", one, "random symbol, 5,000 bars"))
        rows.append(_row("store read 500 symbols", median_time(lambda: store.load_many(symbols, "1d"), repeats)))
        rows.append(_row("store read last 300 bars × 500",
                         median_time(lambda: [store.load(s, "1d", last=300) for s in symbols], repeats),
                         "what a screening pass reads"))

        days = iter(range(1, 10_000))
        batch: list[Bars] = []

        def next_bars() -> None:
            # Each series' newest stored bar re-sent unchanged plus one new bar: a refresh.
            k = next(days)
            batch[:] = [_append_bar(b.tail(1), k) for b in data]

        rows.append(_row("store incremental upsert 500×(1 new bar)",
                         median_time(lambda: store.upsert_many(batch), repeats, setup=next_bars),
                         "last chunk of each series rewritten"))
        store.close()

        def cold_open() -> None:
            with BarStore(path) as s:
                s.symbols("1d")

        rows.append(_row("store cold open (500 symbols)", median_time(cold_open, max(repeats, 10)),
                         "open + first query, OS cache warm"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data_bench")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    for r in run(args.repeats):
        target = f"≤ {r['target_s'] * 1e3:.0f} ms" if r["target_s"] else ""
        verdict = "" if not r["target_s"] else ("ok" if r["median_s"] <= r["target_s"] else "MISSED")
        print(f"{r['workload']:<42} {r['median_s'] * 1e3:9.2f} ms  {target:<10} {verdict:<6} {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
