"""Fuzz what users hand the program: price CSVs (`atc compute` input and CSV folders) and
parameter files / `--set` values. Every outcome is a result that keeps the contract or one
clear ATCInputError/per-symbol failure — never another exception, never a lost symbol."""
from __future__ import annotations

import json
import math
import string
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli.main import build_config
from core.cli.prices_csv import read_columns
from core.config import ATCConfig
from core.data.providers.csv_folder import CsvFolderProvider
from core.errors import ATCInputError
from core.types import PRICE_MAX, PRICE_MIN

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# Cells users' files really contain, good and bad, beside arbitrary text.
CELLS = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-1", "0", "1e400", "1e-400", "1_0", "٢٨",
                     "1,5", "2024-01-02", "2024-13-45", "1700000000", "1700000000000",
                     "99999999999999999999", "-5e3", "\ufeff", '"', "\x00"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(string.printable + "é€\u00a0", max_size=8),
)


@st.composite
def csv_text(draw) -> str:
    """A price file as users write them — mostly well formed (dates, sometimes shuffled or
    repeated; prices at any scale) — with a few damaged cells, rows or headers."""
    n = draw(st.integers(0, 14))
    scale = 10.0 ** draw(st.integers(-100, 100))
    days = draw(st.permutations(range(n))) if draw(st.booleans()) else list(range(n))
    header = ["Date", "Open", "High", "Low", "Close", "Volume"]
    rows = [[f"2024-01-{1 + d % 28:02d}" if draw(st.booleans()) else str(1704067200 + 86400 * d)]
            + [repr(scale * (1 + 0.01 * draw(st.integers(0, 50)))) for _ in range(4)] + ["100"]
            for d in days]
    for _ in range(draw(st.integers(0, 3))):          # damage
        if rows and draw(st.booleans()):
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(header)))
            (rows[r].__setitem__(c, draw(CELLS)) if c < len(rows[r]) else rows[r].append(draw(CELLS)))
        else:
            header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(
                ["Close", "close", "Adj Close", "Symbol", "time", "", "x"]))
    sep = "," if draw(st.integers(0, 9)) else ";"
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return bom + draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@FAST
@given(text=csv_text(), raw=st.binary(max_size=64), use_raw=st.booleans())
def test_compute_input_csv(tmp_path_factory, text, raw, use_raw):
    path = tmp_path_factory.mktemp("csv") / "prices.csv"
    if use_raw:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    try:
        cols = read_columns(path, "close")
    except ATCInputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert cols.close.shape[0] >= 2
    assert ((cols.close >= PRICE_MIN) & (cols.close <= PRICE_MAX)).all()
    if cols.dates is not None:
        assert len(cols.dates) == cols.close.shape[0]


@FAST
@given(files=st.lists(csv_text(), min_size=1, max_size=3))
def test_csv_folder_fails_only_the_bad_files(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("folder")
    good = "Date,Open,High,Low,Close,Volume\n" + "\n".join(
        f"2024-01-{d:02d},{10 + d},{11 + d},{9 + d},{10.5 + d},100" for d in range(1, 21))
    (folder / "GOOD.csv").write_text(good)
    for k, text in enumerate(files):
        (folder / f"F{k}.csv").write_text(text, encoding="utf-8")
    provider = CsvFolderProvider(folder)
    wanted = ["GOOD"] + [f"F{k}" for k in range(len(files))]
    result = provider.fetch(wanted)
    assert set(result.bars) | set(result.failures) >= set(wanted)   # nobody is lost
    assert "GOOD" in result.bars and len(result.bars["GOOD"]) == 20
    for sym, bars in result.bars.items():
        close = np.asarray(bars.close)
        assert ((close >= PRICE_MIN) & (close <= PRICE_MAX)).all(), sym
        assert (np.diff(np.asarray(bars.timestamps)) > 0).all(), sym
    for sym, why in result.failures.items():
        assert isinstance(why, str) and why and "\n" not in why.strip(), sym


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
FIELDS = [f for f in ATCConfig().to_dict()]


@FAST
@given(values=st.dictionaries(st.sampled_from(FIELDS + ["bogus"]), JSON, max_size=4),
       raw=st.one_of(st.none(), st.binary(max_size=40),
                     st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
                     st.just('{"ema_len": 1e400}')),
       sets=st.lists(st.tuples(st.sampled_from(FIELDS + ["", "bogus"]), CELLS), max_size=3))
def test_params_file_and_set_values(tmp_path_factory, values, raw, sets):
    path = tmp_path_factory.mktemp("params") / "params.json"
    if raw is None:
        path.write_text(json.dumps(values))
    elif isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw)
    assignments = [f"{name}={value}" for name, value in sets]
    try:
        config = build_config(str(path), assignments)
    except ATCInputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # Accepted: a valid configuration that round-trips through its own JSON.
    assert ATCConfig.from_json(config.to_json()) == config
    for name, value in config.to_dict().items():
        assert not isinstance(value, float) or math.isfinite(value), name


def test_json_and_set_follow_one_rule():
    assert build_config(None, ["ema_len=28.0"]).ema_len == 28
    for bad in ("ema_len=28.5", "ema_len=1_0", "ema_len=٢٨", "ema_len=1e400"):
        try:
            build_config(None, [bad])
        except ATCInputError as exc:
            assert "ema_len" in str(exc)
        else:
            raise AssertionError(bad)
