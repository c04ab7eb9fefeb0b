"""Chunk checksums: a flipped bit in a stored price is found where it is, costs only its
series (set aside, reported, fetched again by the next refresh), and stores written before
checksums existed still open and gain them."""
from __future__ import annotations

import sqlite3

import pytest

from core.data import BarStore, refresh
from core.data.providers.yahoo import YahooProvider
from core.errors import DataError
from tests.data.fakes import NOW, daily_frame, make_bars
from tests.data.test_store import same

START = "2018-01-02"  # 1,500 business days end in 2023, before the fake "now"


def flip_bit(path, symbol: str, *, newest: bool = False, bit: int = 0, byte: int | None = None) -> None:
    """Flip one bit of a close price in ``symbol``'s oldest (or newest) chunk, in place,
    with raw sqlite3 and without touching the stored checksum."""
    conn = sqlite3.connect(path)
    order = "DESC" if newest else "ASC"
    chunk, n, blob = conn.execute(
        f"SELECT chunk, n, data FROM chunks WHERE symbol=? ORDER BY chunk {order} LIMIT 1",
        (symbol,)).fetchone()
    data = bytearray(blob)
    at = 4 * n * 8 + 8 * (n // 2) if byte is None else byte  # mid-chunk close, low mantissa byte
    data[at] ^= 1 << bit
    conn.execute("UPDATE chunks SET data=? WHERE symbol=? AND chunk=?", (bytes(data), symbol, chunk))
    conn.commit()
    conn.close()


def chunk_rows(path, table: str, symbol: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE symbol=?", (symbol,)).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def yahoo(fake_yahoo):
    fake_yahoo.add("AAA", daily_frame(1500, start=START, seed=1))
    fake_yahoo.add("BBB", daily_frame(1500, start=START, seed=2))
    return YahooProvider(now=lambda: NOW)


def test_a_flipped_bit_costs_only_its_series_and_the_next_refresh_refetches_it(tmp_path, yahoo, fake_yahoo):
    path = tmp_path / "bars.sqlite3"
    with BarStore(path) as store:
        assert refresh(store, yahoo, ["AAA", "BBB"]).updated == {"AAA": 1500, "BBB": 1500}
        before = {s: store.load(s) for s in ("AAA", "BBB")}
        n_chunks = chunk_rows(path, "chunks", "AAA")

    # The lowest mantissa bit of one close: the price stays finite and positive, so only the
    # checksum can tell (before checksums this came back as a price).
    flip_bit(path, "AAA")
    with BarStore(path) as store:
        with pytest.raises(DataError) as err:
            store.load("AAA")
        assert err.value.symbol == "AAA"
        message = str(err.value)
        assert "stored 1d bars of AAA were damaged (checksum mismatch in the chunk of bars" in message
        assert "the next refresh fetches them again" in message
        assert store.recovered_from is None
        assert store.load("AAA") is None and store.info("AAA", "1d") is None
        assert same(store.load("BBB"), before["BBB"])
        [record] = store.quarantined()
        assert (record.symbol, record.interval) == ("AAA", "1d")
        assert record.reason.startswith("checksum mismatch")
        # Moved aside, not deleted.
        assert chunk_rows(path, "quarantined_chunks", "AAA") == n_chunks
        assert chunk_rows(path, "chunks", "AAA") == 0

        fake_yahoo.calls.clear()
        report = refresh(store, yahoo, ["AAA", "BBB"])
        assert report.failures == {}
        assert report.updated == {"AAA": 1500, "BBB": 0}  # AAA in full, BBB incrementally
        assert report.refetched == []  # set aside before this refresh: simply not stored
        assert same(store.load("AAA"), before["AAA"])
        assert same(store.load("BBB"), before["BBB"])
        assert store.last_fetch("AAA", "1d") is not None


def test_damage_found_while_a_refresh_merges_is_refetched_in_the_same_refresh(tmp_path, yahoo, fake_yahoo):
    path = tmp_path / "bars.sqlite3"
    full = {"AAA": daily_frame(1502, start=START, seed=1), "BBB": daily_frame(1502, start=START, seed=2)}
    for sym, frame in full.items():
        fake_yahoo.add(sym, frame.iloc[:1500].copy())
    with BarStore(path) as store:
        refresh(store, yahoo, ["AAA", "BBB"])
    flip_bit(path, "AAA", newest=True)  # the chunk the next incremental refresh merges into
    for sym, frame in full.items():
        fake_yahoo.add(sym, frame)
    with BarStore(path) as store:
        report = refresh(store, yahoo, ["AAA", "BBB"], clock=lambda: 7.0)
        assert report.failures == {}
        assert report.updated == {"AAA": 1502, "BBB": 2} and report.refetched == ["AAA"]
        assert [q.symbol for q in store.quarantined()] == ["AAA"]
        for sym in ("AAA", "BBB"):
            assert store.count(sym, "1d") == 1502 and store.last_fetch(sym, "1d") == 7.0
        assert store.recovered_from is None


def test_load_many_leaves_out_only_the_damaged_series(tmp_path):
    path = tmp_path / "bars.sqlite3"
    many = [make_bars(f"S{i}", 2000, seed=i) for i in range(4)]
    with BarStore(path) as store:
        store.upsert_many(many)
    flip_bit(path, "S2", bit=5)
    with BarStore(path) as store:
        got = store.load_many(["S0", "S1", "S2", "S3"])
        assert list(got) == ["S0", "S1", "S3"]
        assert all(same(got[f"S{i}"], many[i]) for i in (0, 1, 3))
        assert [q.symbol for q in store.quarantined("1d")] == ["S2"]
        assert store.symbols() == ["S0", "S1", "S3"]


def test_upsert_into_a_damaged_series_writes_nothing_and_says_so(tmp_path):
    path = tmp_path / "bars.sqlite3"
    bars = make_bars("A", 600)
    with BarStore(path) as store:
        store.upsert(bars.slice(0, 590))
    flip_bit(path, "A", newest=True)
    with BarStore(path) as store:
        with pytest.raises(DataError, match="stored 1d bars of A were damaged"):
            store.upsert(bars.slice(590, 600))
        assert store.load("A") is None
        assert store.upsert(bars) == 600  # the whole history, as the refresh fetches it
        assert same(store.load("A"), bars)
        store.delete("A")
        assert store.quarantined() == [] and chunk_rows(path, "quarantined_chunks", "A") == 0


@pytest.mark.parametrize("byte", [0, 7, 100, 2500, 4 * 8 * 40 + 3, -1])
def test_any_single_bit_anywhere_in_a_chunk_is_found(tmp_path, byte):
    path = tmp_path / "bars.sqlite3"
    with BarStore(path) as store:
        store.upsert_many([make_bars("A", 300), make_bars("B", 300, seed=1)])
    conn = sqlite3.connect(path)
    size = conn.execute("SELECT length(data) FROM chunks WHERE symbol='A' "
                        "ORDER BY chunk LIMIT 1").fetchone()[0]
    conn.close()
    flip_bit(path, "A", byte=byte % size, bit=byte % 8)
    with BarStore(path) as store:
        with pytest.raises(DataError, match="bars of A were damaged"):
            store.load("A")
        assert same(store.load("B"), make_bars("B", 300, seed=1))


def make_old_store(path, series) -> None:
    """A store as the version before checksums wrote it: no crc column, no quarantine."""
    with BarStore(path) as store:
        store.upsert_many(series)
    conn = sqlite3.connect(path)
    conn.executescript("ALTER TABLE chunks DROP COLUMN crc; DROP TABLE quarantine; "
                       "DROP TABLE quarantined_chunks;")
    conn.close()


def test_a_store_written_before_checksums_opens_and_gains_them(tmp_path):
    path = tmp_path / "bars.sqlite3"
    series = [make_bars("A", 1500), make_bars("B", 1500, seed=1)]
    make_old_store(path, series)
    with BarStore(path) as store:
        assert store.recovered_from is None
        assert all(same(store.load(b.symbol), b) for b in series)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM chunks WHERE crc IS NULL").fetchone() == (0,)
    conn.close()
    flip_bit(path, "A")  # from now on old history is protected too
    with BarStore(path) as store:
        with pytest.raises(DataError, match="checksum mismatch"):
            store.load("A")
        assert same(store.load("B"), series[1])


def test_old_chunks_already_failing_their_invariants_stay_unverified_and_cost_their_series(tmp_path):
    path = tmp_path / "bars.sqlite3"
    series = [make_bars("A", 1500), make_bars("B", 1500, seed=1)]
    make_old_store(path, series)
    # A close turned negative in the old file: no checksum could vouch for it.
    conn = sqlite3.connect(path)
    chunk, n, blob = conn.execute("SELECT chunk, n, data FROM chunks WHERE symbol='A' "
                                  "ORDER BY chunk LIMIT 1").fetchone()
    data = bytearray(blob)
    data[4 * n * 8 + 7] ^= 0x80  # the sign bit of the first close
    conn.execute("UPDATE chunks SET data=? WHERE symbol='A' AND chunk=?", (bytes(data), chunk))
    conn.commit()
    conn.close()
    with BarStore(path) as store:
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT symbol FROM chunks WHERE crc IS NULL").fetchall() == [("A",)]
        conn.close()
        with pytest.raises(DataError, match="invariants"):
            store.load("A")
        assert same(store.load("B"), series[1]) and store.recovered_from is None


def test_chunks_without_a_checksum_are_read_as_unverified(tmp_path):
    # An older version writing into an upgraded file leaves the checksum empty.
    path = tmp_path / "bars.sqlite3"
    bars = make_bars("A", 1501)
    with BarStore(path) as store:
        store.upsert(bars.slice(0, 1500))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE chunks SET crc=NULL")
    conn.commit()
    conn.close()
    with BarStore(path) as store:
        assert same(store.load("A"), bars.slice(0, 1500))
        assert store.upsert(bars) == 1  # merges into the unverified newest chunk
        assert same(store.load("A"), bars)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM chunks WHERE crc IS NOT NULL").fetchone() == (1,)
    conn.close()
