"""The CSV folder provider: file layouts, column detection, adjustment, and errors that
name the file, the line and the column."""
from __future__ import annotations

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pytest

from core.data import make_provider
from core.data.providers.csv_folder import CsvFolderProvider
from core.errors import DataError


def write(path, text):
    path.write_text(text.strip() + "\n")
    return path


def test_one_file_per_symbol_with_any_case_and_spacing(tmp_path):
    write(tmp_path / "aapl.csv", """
DATE,open,HIGH,Low,close,VOLUME
2024-01-02,10,11,9,10.5,100
2024-01-03,10.5,12,10,11.5,200
""")
    p = make_provider(f"csv:{tmp_path}")
    assert isinstance(p, CsvFolderProvider) and p.symbols() == ["AAPL"]
    result = p.fetch(["aapl"])
    bars = result.bars["AAPL"]
    np.testing.assert_array_equal(bars.close, [10.5, 11.5])
    np.testing.assert_array_equal(bars.high, [11.0, 12.0])
    np.testing.assert_array_equal(bars.volume, [100.0, 200.0])
    assert bars.timestamps[0] == pd.Timestamp("2024-01-02", tz="UTC").value
    assert bars.source == "csv" and result.cleaning["AAPL"].is_clean


def test_one_file_with_a_symbol_column_and_gzip(tmp_path):
    text = """Ticker,Datetime,Open,High,Low,Close,Volume
MSFT,2024-01-02 14:30:00+00:00,1,1,1,1,1
IBM,2024-01-02 14:30:00+00:00,2,2,2,2,2
MSFT,2024-01-02 14:31:00+00:00,3,3,3,3,3
"""
    with gzip.open(tmp_path / "all.csv.gz", "wt") as f:
        f.write(text)
    p = CsvFolderProvider(tmp_path)
    assert p.symbols() == ["IBM", "MSFT"]
    result = p.fetch(["MSFT", "IBM"], "1m")
    np.testing.assert_array_equal(result.bars["MSFT"].close, [1.0, 3.0])
    np.testing.assert_array_equal(result.bars["IBM"].close, [2.0])
    assert result.bars["MSFT"].timestamps[1] == pd.Timestamp("2024-01-02 14:31", tz="UTC").value


def test_adj_close_adjusts_prices_and_close_only_files_work(tmp_path):
    write(tmp_path / "X.csv", """
Timestamp,Open,High,Low,Close,Adj_Close,Volume
2024-01-02,100,110,90,100,50,10
""")
    write(tmp_path / "Y.txt", """
date,close
2024-01-02,7
""")
    result = CsvFolderProvider(tmp_path).fetch(["X", "Y"])
    x = result.bars["X"]
    assert (x.open[0], x.high[0], x.low[0], x.close[0]) == (50.0, 55.0, 45.0, 50.0)
    y = result.bars["Y"]
    assert (y.open[0], y.high[0], y.low[0], y.close[0], y.volume[0]) == (7.0, 7.0, 7.0, 7.0, 0.0)


def test_epoch_seconds_and_local_timezone(tmp_path):
    write(tmp_path / "E.csv", "time,close\n1704205800,1\n1704205860,2")
    assert CsvFolderProvider(tmp_path).fetch(["E"], "1m").bars["E"].timestamps[0] == 1704205800 * 10**9
    write(tmp_path / "E.csv", "date,close\n2024-01-02,1")
    ny = CsvFolderProvider(tmp_path, tz="America/New_York").fetch(["E"]).bars["E"]
    assert ny.timestamps[0] == pd.Timestamp("2024-01-02 05:00", tz="UTC").value
    assert ny.tz == "America/New_York"


def test_non_numeric_cell_names_file_line_and_column(tmp_path):
    write(tmp_path / "BAD.csv", """
Date,Open,High,Low,Close,Volume
2024-01-02,1,1,1,1,1

2024-01-03,1,1,1,abc,1
""")
    result = CsvFolderProvider(tmp_path).fetch(["BAD"])
    assert result.failures["BAD"] == "BAD.csv line 4, column 'Close': 'abc' is not a number"


def test_bad_and_missing_dates_name_the_line(tmp_path):
    write(tmp_path / "D.csv", "Date,Close\n2024-01-02,1\nyesterday,2")
    assert CsvFolderProvider(tmp_path).fetch(["D"]).failures["D"] == (
        "D.csv line 3, column 'Date': 'yesterday' is not a date/time")
    write(tmp_path / "D.csv", "Date,Close\n2024-01-02,1\n,2")
    assert "D.csv line 3, column 'Date': missing date/time" == \
        CsvFolderProvider(tmp_path).fetch(["D"]).failures["D"]


def test_missing_and_ambiguous_columns_are_named(tmp_path):
    write(tmp_path / "N.csv", "Date,Open,Price\n2024-01-02,1,1")
    assert CsvFolderProvider(tmp_path).fetch(["N"]).failures["N"] == (
        "N.csv: no Close column (found: Date, Open, Price)")
    write(tmp_path / "N.csv", "Date,Timestamp,Close\n2024-01-02,2024-01-02,1")
    assert "columns 'Date' and 'Timestamp' both look like the time column" in \
        CsvFolderProvider(tmp_path).fetch(["N"]).failures["N"]


def test_missing_values_go_to_the_cleaner_and_are_reported(tmp_path):
    write(tmp_path / "M.csv", """
Date,Open,High,Low,Close,Volume
2024-01-02,1,1,1,1,1
2024-01-03,1,1,1,NaN,1
2024-01-04,1,1,1,,1
2024-01-05,1,1,1,-2,1
2024-01-08,1,1,1,1,1
""")
    result = CsvFolderProvider(tmp_path).fetch(["M"])
    report = result.cleaning["M"]
    assert report.counts == {"non_finite": 2, "non_positive": 1}
    assert report.first["non_finite"] == pd.Timestamp("2024-01-03", tz="UTC").value
    assert len(result.bars["M"]) == 2


def test_unknown_and_duplicated_symbols(tmp_path):
    write(tmp_path / "A.csv", "Date,Close\n2024-01-02,1")
    write(tmp_path / "more.csv", "Symbol,Date,Close\nA,2024-01-02,1\nB,2024-01-02,1")
    p = CsvFolderProvider(tmp_path)
    problems = p.validate_symbols(["A", "B", "C"])
    assert problems["A"].startswith("A appears in A.csv and more.csv")
    assert problems["C"].startswith("no CSV data for C in")
    assert "B" not in problems
    result = p.fetch(["A", "B", "C"])
    assert set(result.bars) == {"B"} and set(result.failures) == {"A", "C"}


def test_start_filters_and_an_empty_incremental_fetch_is_not_a_failure(tmp_path):
    write(tmp_path / "S.csv", "Date,Close\n2024-01-02,1\n2024-01-03,2\n2024-01-04,3")
    p = CsvFolderProvider(tmp_path)
    utc = dt.timezone.utc
    assert len(p.fetch(["S"], start=dt.datetime(2024, 1, 3, tzinfo=utc)).bars["S"]) == 2
    later = p.fetch(["S"], start=dt.datetime(2024, 2, 1, tzinfo=utc))
    assert later.failures == {} and len(later.bars["S"]) == 0


def test_files_are_reread_when_they_change(tmp_path):
    write(tmp_path / "C.csv", "Date,Close\n2024-01-02,1")
    p = CsvFolderProvider(tmp_path)
    assert len(p.fetch(["C"]).bars["C"]) == 1
    write(tmp_path / "C.csv", "Date,Close\n2024-01-02,1\n2024-01-03,2")
    write(tmp_path / "D.csv", "Date,Close\n2024-01-02,1")
    assert len(p.fetch(["C"]).bars["C"]) == 2
    assert p.symbols() == ["C", "D"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        make_provider(f"csv:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match="needs a folder"):
        make_provider("csv:")
