"""The SQLite bar store: upserts, reads, fetch times, threads, corruption and crashes."""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import BarStore, Bars
from core.data.store import APPLICATION_ID, SCHEMA_VERSION, default_path
from core.errors import DataError
from tests.data.fakes import DAY_NS, make_bars

REPO = Path(__file__).resolve().parents[2]


def same(a: Bars, b: Bars) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("timestamps", "open", "high", "low", "close", "volume"))


@pytest.fixture
def store(tmp_path):
    with BarStore(tmp_path / "bars.sqlite3") as s:
        yield s


def test_default_path_is_in_the_user_data_dir(atc_home):
    assert default_path() == atc_home / "data" / "bars.sqlite3"
    with BarStore() as s:
        assert s.path == default_path() and s.path.exists()


def test_file_is_wal_with_schema_version_and_application_id(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def test_upsert_round_trip_is_exact_and_idempotent(store):
    bars = make_bars("AAPL", 2000, source="yahoo", tz="America/New_York")
    assert store.upsert(bars) == 2000
    got = store.load("AAPL", "1d")
    assert same(got, bars)
    assert (got.tz, got.source, got.synthetic) == ("America/New_York", "yahoo", False)
    assert store.upsert(bars) == 0           # nothing new, nothing changed
    assert store.count("AAPL", "1d") == 2000
    assert store.load("AAPL", "1h") is None
    assert store.load("MSFT", "1d") is None


def test_upsert_counts_new_and_changed_bars_and_replaces_by_timestamp(store):
    store.upsert(make_bars("AAPL", 100))
    old = store.load("AAPL")
    # The last stored bar re-fetched with a new close, plus 3 new bars.
    ts = np.append(old.timestamps[-1], old.timestamps[-1] + DAY_NS * np.arange(1, 4))
    c = np.array([old.close[-1] * 1.01, 1.0, 2.0, 3.0])
    assert store.upsert(Bars("AAPL", "1d", ts, c, c, c, c, np.ones(4))) == 4
    got = store.load("AAPL")
    assert len(got) == 103
    np.testing.assert_array_equal(got.close[-4:], c)
    np.testing.assert_array_equal(got.close[:99], old.close[:99])
    # Re-sending an unchanged bar counts 0.
    assert store.upsert(got.tail(1)) == 0
    assert store.info("AAPL", "1d").last_ts == int(ts[-1])
    assert store.last_timestamp("AAPL", "1d") == int(ts[-1])


def test_backfill_before_and_inside_existing_history(store):
    full = make_bars("X", 3000, seed=3)
    store.upsert(full.slice(1000, 2000))
    store.upsert(full.slice(0, 1200))
    store.upsert(full.slice(1800, 3000))
    assert same(store.load("X"), full)
    assert store.count("X", "1d") == 3000
    info = store.info("X", "1d")
    assert (info.first_ts, info.last_ts) == (int(full.timestamps[0]), int(full.timestamps[-1]))


def test_load_last_and_load_many(store):
    many = [make_bars(f"S{i}", 700 + i, seed=i) for i in range(5)]
    store.upsert_many(many)
    tail = store.load("S2", last=10)
    assert same(tail, many[2].tail(10))
    assert len(store.load("S2", last=100_000)) == 702
    got = store.load_many(["S4", "S0", "NOPE"], "1d")
    assert list(got) == ["S4", "S0"] and same(got["S0"], many[0])
    assert store.symbols() == [f"S{i}" for i in range(5)]
    assert store.symbols("1h") == []


def test_loaded_arrays_are_read_only_float64_contiguous(store):
    store.upsert(make_bars("A", 50))
    bars = store.load("A")
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(bars, name)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and not arr.flags.writeable
    assert bars.timestamps.dtype == np.int64


def test_another_source_replaces_the_series_instead_of_mixing(store):
    store.upsert(make_bars("AAPL", 300, source="bundled"))
    yahoo = make_bars("AAPL", 20, first_day=20_000, source="yahoo", seed=9)
    assert store.upsert(yahoo) == 20
    got = store.load("AAPL")
    assert same(got, yahoo) and got.source == "yahoo"
    assert store.count("AAPL", "1d") == 20


def test_fetch_times_and_delete(store):
    assert store.last_fetch("AAPL", "1d") is None
    store.mark_fetched("AAPL", "1d", 1_700_000_000.5)
    assert store.last_fetch("AAPL", "1d") == 1_700_000_000.5
    assert store.last_fetch("AAPL", "1h") is None
    store.upsert(make_bars("AAPL", 5))
    store.delete("AAPL")
    assert store.load("AAPL") is None and store.last_fetch("AAPL", "1d") is None


def test_zero_length_bars_write_nothing(store):
    assert store.upsert(make_bars("A", 0)) == 0
    assert store.symbols() == []


def test_closed_store_says_so(tmp_path):
    s = BarStore(tmp_path / "b.sqlite3")
    s.close()
    s.close()
    with pytest.raises(DataError, match="closed"):
        s.load("A")


def test_worker_threads_share_one_store(store):
    errors = []

    def work(k: int) -> None:
        try:
            for j in range(5):
                store.upsert(make_bars(f"T{k}", 100 + j * 10, seed=k))
                store.mark_fetched(f"T{k}", "1d", float(j))
                assert store.load(f"T{k}") is not None
                store.load_many([f"T{i}" for i in range(4)], "1d")
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {s: store.count(s, "1d") for s in store.symbols()} == {f"T{k}": 140 for k in range(4)}


# -- corruption and crashes --------------------------------------------------------------

def _filled(path: Path) -> None:
    with BarStore(path) as s:
        s.upsert_many([make_bars(f"S{i}", 3000, seed=i) for i in range(20)])


def test_garbage_file_is_moved_aside_with_a_warning_and_rebuilt(tmp_path, caplog):
    path = tmp_path / "bars.sqlite3"
    _filled(path)
    garbage = os.urandom(50_000)
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="core.data.store"):
        s = BarStore(path)
    assert s.recovered_from is not None and s.recovered_from.read_bytes() == garbage
    assert "moved it to" in caplog.text and str(s.recovered_from) in caplog.text
    assert s.symbols() == []
    s.upsert(make_bars("A", 10))
    assert len(s.load("A")) == 10
    s.close()
    with BarStore(path) as again:
        assert again.recovered_from is None and again.symbols() == ["A"]


def test_truncated_file_is_recovered(tmp_path):
    path = tmp_path / "bars.sqlite3"
    _filled(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with BarStore(path) as s:
        s.verify()  # a truncated file may open; the check finds the damage
        assert s.recovered_from is not None
        assert s.symbols() == []


def test_damage_inside_the_file_is_found_on_use_and_the_store_rebuilt(tmp_path):
    path = tmp_path / "bars.sqlite3"
    _filled(path)
    with open(path, "r+b") as f:
        f.seek(8192)
        f.write(os.urandom(200_000))
    s = BarStore(path)
    # Reading every series hits the damaged pages: SQLite notices broken B-tree pages and
    # the store's invariants catch damaged BLOB pages, which SQLite cannot see.
    assert s.load_many([f"S{i}" for i in range(20)], "1d") == {}
    ok = s.verify()
    assert s.recovered_from is not None
    assert ok  # by the time of the check, the damaged file had been replaced
    assert s.load("S0") is None
    s.close()


def test_damaged_blob_pages_cost_only_their_series(tmp_path):
    path = tmp_path / "bars.sqlite3"
    with BarStore(path) as s:
        s.upsert_many([make_bars("A", 3000), make_bars("B", 3000, seed=1)])
    conn = sqlite3.connect(path)
    n, blob = conn.execute("SELECT n, data FROM chunks WHERE symbol='A' ORDER BY n DESC LIMIT 1").fetchone()
    conn.close()
    # Overwrite eight closes of one BLOB in place: every page stays valid for SQLite.
    closes = blob[4 * n * 8 + 80: 4 * n * 8 + 144]
    raw = path.read_bytes()
    at = raw.index(closes)
    path.write_bytes(raw[:at] + b"\xff" * 64 + raw[at + 64:])
    with BarStore(path) as s:
        with pytest.raises(DataError, match="stored 1d bars of A were damaged") as err:
            s.load("A")
        assert err.value.symbol == "A"
        assert s.recovered_from is None and s.load("A") is None
        assert same(s.load("B"), make_bars("B", 3000, seed=1))


def test_foreign_and_newer_databases_are_moved_aside_not_overwritten(tmp_path):
    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    with BarStore(foreign) as s:
        assert s.recovered_from is not None
        assert sqlite3.connect(s.recovered_from).execute("SELECT count(*) FROM notes").fetchone() == (0,)

    newer = tmp_path / "newer.sqlite3"
    with BarStore(newer):
        pass
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with BarStore(newer) as s:
        assert s.recovered_from is not None


_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from core.data import BarStore, chunks
    from tests.data.fakes import make_bars
    store = BarStore({path!r})
    store.upsert_many([make_bars("KEEP%d" % i, 3000, seed=i) for i in range(3)])
    print("committed", flush=True)
    real = chunks.encode
    calls = [0]
    def encode(block):
        calls[0] += 1
        if calls[0] == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(block)
    chunks.encode = encode
    # One transaction: rewrites a committed series and adds new ones; dies part-way.
    store.upsert_many([make_bars("KEEP0", 3000, seed=99)]
                      + [make_bars("LOST%d" % i, 3000, seed=i) for i in range(3)])
    print("not reached", flush=True)
""")


def test_writer_killed_mid_transaction_loses_nothing_committed(tmp_path):
    path = tmp_path / "bars.sqlite3"
    script = _CHILD.format(repo=str(REPO), path=str(path), kill_at=12)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.split() == ["committed"]
    assert Path(str(path) + "-wal").exists()  # the log the killed writer left behind
    with BarStore(path) as s:
        assert s.recovered_from is None
        assert s.symbols() == ["KEEP0", "KEEP1", "KEEP2"]
        for i in range(3):
            assert same(s.load(f"KEEP{i}"), make_bars(f"KEEP{i}", 3000, seed=i))
        assert s.verify()


_LOOP = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from core.data import BarStore
    from tests.data.fakes import make_bars
    store = BarStore({path!r})
    for i in range(10_000):
        store.upsert_many([make_bars("W%04d" % i, 2000, seed=i), make_bars("ALL", 10 + i, seed=1)])
        print(i, flush=True)
""")


def test_writer_killed_at_a_random_moment_keeps_every_acknowledged_commit(tmp_path):
    path = tmp_path / "bars.sqlite3"
    with subprocess.Popen([sys.executable, "-c", _LOOP.format(repo=str(REPO), path=str(path))],
                          stdout=subprocess.PIPE, text=True) as proc:   # closes the pipe
        acknowledged = -1
        assert proc.stdout is not None
        while acknowledged < 5:
            acknowledged = int(proc.stdout.readline())
        time.sleep(np.random.default_rng().uniform(0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        rest = proc.stdout.read().split()
    acknowledged = int(rest[-1]) if rest else acknowledged
    with BarStore(path) as s:
        assert s.recovered_from is None
        written = [x for x in s.symbols() if x.startswith("W")]
        # Everything acknowledged is there; at most the commit in flight is extra.
        assert len(written) in (acknowledged + 1, acknowledged + 2)
        n = len(written)
        assert s.count("ALL", "1d") == 10 + n - 1  # the same transaction wrote both
        for i in range(n):
            assert s.count(f"W{i:04d}", "1d") == 2000
        assert s.verify()
