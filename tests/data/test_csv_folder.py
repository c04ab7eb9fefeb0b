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


def test_dates_outside_the_nanosecond_range_fail_only_their_file(tmp_path):
    from core.data import BarStore, refresh

    write(tmp_path / "GOOD.csv", "Date,Close\n2024-01-02,1\n2024-01-03,2")
    write(tmp_path / "OLD.csv", "Date,Close\n2024-01-02,1\n1500-01-03,2")
    write(tmp_path / "FUT.csv", "Date,Close\n2024-01-02,1\n\n3000-01-03,2")
    write(tmp_path / "NY.csv", "Date,Close\n2262-04-11 22:00,1")  # past the limit once in UTC
    outside = "is outside 1677-09-22 .. 2262-04-11, the range of nanosecond timestamps"
    with BarStore(tmp_path / "bars.sqlite3") as store:
        report = refresh(store, CsvFolderProvider(tmp_path, tz="America/New_York"),
                         ["GOOD", "OLD", "FUT", "NY"])
        assert report.failures == {
            "OLD": f"OLD.csv line 3, column 'Date': '1500-01-03' {outside}",
            "FUT": f"FUT.csv line 4, column 'Date': '3000-01-03' {outside}",
            "NY": f"NY.csv line 2, column 'Date': '2262-04-11 22:00' {outside}"}
        assert store.symbols() == ["GOOD"] and store.count("GOOD", "1d") == 2


def test_epoch_units_mixed_in_a_file_name_the_line(tmp_path):
    write(tmp_path / "S.csv", "time,close\n1704205800,1\n1704205860000,2\n1704205920,3")
    write(tmp_path / "MS.csv", "time,close\n1704205800000,1\n1704205860000,2\n1704205920,3")
    write(tmp_path / "FAR.csv", "time,close\n99999999999,1")
    write(tmp_path / "NS.csv", "time,close\n1704205800123456789,1")
    result = CsvFolderProvider(tmp_path).fetch(["S", "MS", "FAR", "NS"], "1m")
    assert result.failures["S"] == ("S.csv line 3, column 'time': '1704205860000' looks like epoch "
                                    "milliseconds but the file's other times are epoch seconds; "
                                    "use one unit in a file")
    # Read as milliseconds, a seconds value would have landed silently in January 1970.
    assert result.failures["MS"].startswith("MS.csv line 4, column 'time': '1704205920' looks "
                                            "like epoch seconds")
    assert result.failures["FAR"].startswith("FAR.csv line 2, column 'time': '99999999999' is outside")
    assert result.bars["NS"].timestamps.tolist() == [1704205800123456789]  # exact, not via floats


def test_line_numbers_are_the_editors_even_after_cells_spanning_lines(tmp_path):
    write(tmp_path / "Q.csv", 'Date,Close,Note\n2024-01-02,1,"split\nover\nlines"\n\n2024-01-03,x,')
    assert CsvFolderProvider(tmp_path).fetch(["Q"]).failures["Q"] == (
        "Q.csv line 6, column 'Close': 'x' is not a number")
    with gzip.open(tmp_path / "Z.csv.gz", "wt") as f:
        f.write('Date,Close\r\n2024-01-02,1\r\n\r\n2024-01-03,"bad"\r\n')
    assert CsvFolderProvider(tmp_path).fetch(["Z"]).failures["Z"] == (
        "Z.csv.gz line 4, column 'Close': 'bad' is not a number")


def test_symbol_column_values_must_be_valid_tickers(tmp_path):
    from core.data import BarStore, refresh

    write(tmp_path / "all.csv", "Symbol,Date,Close\nIBM,2024-01-02,1\n\n../../etc/passwd,2024-01-02,1")
    write(tmp_path / "my data.csv", "Date,Close\n2024-01-02,1")
    p = CsvFolderProvider(tmp_path)
    assert p.symbols() == ["IBM"]
    rule = "is not a valid ticker (letters, digits and . - ^ = & _ only, at most 32 characters)"
    reason = f"all.csv line 4, column 'Symbol': '../../etc/passwd' {rule}"
    assert p.validate_symbols(["../../etc/passwd"]) == {"../../etc/passwd": reason}
    with BarStore(tmp_path / "bars.sqlite3") as store:
        report = refresh(store, p, ["IBM", "../../etc/passwd", "my data"])
        assert report.failures["../../ETC/PASSWD"] == reason
        assert report.failures["MY DATA"] == (
            f"my data.csv: the symbol 'MY DATA' taken from the file name {rule}; rename the file "
            "or add a Symbol column")
        assert store.symbols() == ["IBM"]


def test_an_unforeseen_parse_error_fails_only_its_symbol(tmp_path, monkeypatch):
    import core.data.providers.csv_folder as csv_folder

    write(tmp_path / "A.csv", "Date,Close\n2024-01-02,1")
    write(tmp_path / "B.csv", "Date,Close\n2024-01-02,1")
    real = csv_folder._times

    def times(values, column, tz, file):
        if file.name == "A.csv":
            raise pd.errors.OutOfBoundsDatetime("boom")
        return real(values, column, tz, file)

    monkeypatch.setattr(csv_folder, "_times", times)
    result = CsvFolderProvider(tmp_path).fetch(["A", "B"])
    assert result.failures == {"A": "A.csv: cannot read the bars of A: boom"}
    assert set(result.bars) == {"B"}
