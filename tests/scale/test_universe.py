"""Parquet universes: layout, metadata, right-aligned reads, safe (re)writes, the store."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from core.data import BarStore
from core.data.providers.synthetic import SyntheticProvider
from core.errors import ATCInputError, DataError
from core.universe import (
    MANIFEST, METADATA_KEY, bars_from_store, export_universe, intervals_in,
    open_universe, panel_cache, read_panel,
)
from tests.scale.conftest import bars_of, synthetic_universe


def test_partitions_hold_sorted_symbol_groups_with_interval_adjustment_and_cleaning(tmp_path):
    u = synthetic_universe(tmp_path / "u", count=45, bars=300, per_file=20)
    assert [len(p.symbols) for p in u.partitions] == [20, 20, 5]
    assert u.symbols == sorted(u.symbols) and len(set(u.symbols)) == 45
    assert u.interval == "1d" and u.adjustment == "none (synthetic prices)"
    assert set(u.cleaning) == set(u.symbols) and u.cleaning["SYN0001"]["rows_out"] == 300
    meta = json.loads(pq.read_schema(tmp_path / "u" / "interval=1d" / "part-00001.parquet")
                      .metadata[METADATA_KEY])
    assert meta["interval"] == "1d" and meta["symbols"] == list(u.partitions[1].symbols)
    assert set(meta["cleaning"]) == set(u.partitions[1].symbols)
    assert intervals_in(str(tmp_path / "u")) == ["1d"]


def test_a_partition_reads_back_as_the_providers_bars_right_aligned(tmp_path):
    short = bars_of("SHORT", np.linspace(10, 20, 50), start_day=100)
    long = bars_of("LONG", np.linspace(30, 5, 150))
    export_universe(str(tmp_path / "u"), [(short, None), (long, None)], "1d", source="csv")
    u = open_universe(str(tmp_path / "u"), "1d")
    panel = read_panel(u.url(u.partitions[0]))
    assert panel.symbols == ("LONG", "SHORT") and panel.close.shape == (2, 150)
    np.testing.assert_array_equal(panel.close[0], long.close)
    assert np.isnan(panel.close[1, :100]).all()
    np.testing.assert_array_equal(panel.close[1, 100:], short.close)
    np.testing.assert_array_equal(panel.open[1, 100:], short.open)
    assert list(panel.bars) == [150, 50]
    assert list(panel.last_timestamp) == [int(long.timestamps[-1]), int(short.timestamps[-1])]
    only = read_panel(u.url(u.partitions[0]), ["SHORT"])
    assert only.symbols == ("SHORT",) and only.close.shape == (1, 50)


def test_an_existing_universe_is_replaced_only_when_asked(tmp_path):
    root = str(tmp_path / "u")
    first = [(bars_of("A", np.linspace(1, 2, 30)), None)]
    export_universe(root, first, "1d", source="csv")
    with pytest.raises(ATCInputError, match="exists already; pass --overwrite"):
        export_universe(root, [(bars_of("B", np.linspace(1, 2, 30)), None)], "1d", source="csv")
    assert open_universe(root).symbols == ["A"]
    export_universe(root, [(bars_of("B", np.linspace(1, 2, 30)), None)], "1d", source="csv",
                    overwrite=True)
    assert open_universe(root).symbols == ["B"]
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == ["interval=1d"]


def test_an_export_that_fails_half_way_leaves_no_universe(tmp_path):
    def series():
        yield bars_of("A", np.linspace(1, 2, 30)), None
        yield bars_of("B", np.linspace(1, 2, 30)), None
        raise DataError("B2: the source went away", symbol="B2")

    with pytest.raises(DataError, match="B2"):
        export_universe(str(tmp_path / "u"), series(), "1d", source="csv", symbols_per_file=1)
    assert list((tmp_path / "u").iterdir()) == []
    with pytest.raises(ATCInputError, match="no universe"):
        open_universe(str(tmp_path / "u"))


def test_the_store_exports_with_a_cleaning_report_per_symbol(tmp_path):
    db = tmp_path / "bars.sqlite3"
    fetched = SyntheticProvider(count=3, bars=120, seed=2).fetch(["SYN0001", "SYN0002", "SYN0003"], "1d")
    with BarStore(db) as store:
        store.upsert_many(fetched.bars.values())
    u = export_universe(str(tmp_path / "u"), bars_from_store(str(db), "1d"), "1d", source="store")
    assert u.symbols == ["SYN0001", "SYN0002", "SYN0003"]
    assert all(u.cleaning[s]["counts"] == {} for s in u.symbols)
    panel = read_panel(u.url(u.partitions[0]))
    np.testing.assert_array_equal(panel.close[2], fetched.bars["SYN0003"].close)
    with pytest.raises(DataError, match="no bars of interval 1h"):
        list(bars_from_store(str(db), "1h"))


def test_opening_names_the_problem(tmp_path):
    with pytest.raises(ATCInputError, match="no such universe folder"):
        open_universe(str(tmp_path / "missing"))
    synthetic_universe(tmp_path / "u", count=3, bars=60)
    with pytest.raises(ATCInputError, match=r"no universe of interval 1h \(it has 1d\)"):
        open_universe(str(tmp_path / "u"), "1h")
    (tmp_path / "u" / "interval=1d" / MANIFEST).write_text("{}")
    with pytest.raises(DataError, match="not a version-1 atc-universe manifest"):
        open_universe(str(tmp_path / "u"))


def test_the_panel_cache_rereads_a_rewritten_partition(tmp_path):
    root = str(tmp_path / "u")
    export_universe(root, [(bars_of("A", np.linspace(1, 2, 30)), None)], "1d", source="csv")
    url = open_universe(root).url(open_universe(root).partitions[0])
    assert panel_cache.get(url) is panel_cache.get(url)          # read once
    export_universe(root, [(bars_of("A", np.linspace(5, 6, 40)), None)], "1d", source="csv",
                    overwrite=True)
    assert panel_cache.get(url).close.shape == (1, 40)
