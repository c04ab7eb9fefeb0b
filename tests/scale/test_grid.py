"""Grid files: lists, ranges, fixed values and the backtest section; errors name the field."""
from __future__ import annotations

import pytest

from core.errors import ATCInputError
from core.grid import load_grid, parse_grid


def test_every_combination_in_order_with_ranges_and_base_values():
    grid = parse_grid("""
[grid]
ema_len = [20, 28]
La = { start = 0.01, stop = 0.03, step = 0.01 }
robustness = ["Narrow", "Wide"]
[base]
cutout = 5
[backtest]
entry = "close"
cost_bps = 2.5
""")
    assert grid.fields == ("ema_len", "La", "robustness") and len(grid) == 12
    assert grid.values[:3] == ((20, 0.01, "Narrow"), (20, 0.01, "Wide"), (20, 0.02, "Narrow"))
    assert grid.configs[11].La == 0.03 and grid.configs[11].ema_len == 28
    assert all(c.cutout == 5 for c in grid.configs)
    assert grid.backtest.entry == "close" and grid.backtest.cost_bps == 2.5
    assert grid.describe(1) == "ema_len=20, La=0.01, robustness=Wide"
    assert grid.fingerprint() != parse_grid("[grid]\nema_len = [20, 28]").fingerprint()


def test_integer_and_num_ranges():
    grid = parse_grid("[grid]\nema_len = { start = 10, stop = 40, step = 10 }\n"
                      "De = { start = 0.01, stop = 0.1, num = 4 }")
    assert [v[0] for v in grid.values[::4]] == [10, 20, 30, 40]
    assert all(isinstance(v[0], int) for v in grid.values)
    assert [v[1] for v in grid.values[:4]] == [0.01, 0.04, 0.07, 0.1]


@pytest.mark.parametrize("text, field, message", [
    ("[grid]\nema_len = [20, 5000]", "ema_len", "ema_len = 5000 is out of range"),
    ("[grid]\nspeed = [1]", "speed", "unknown parameter 'speed'"),
    ("[grid]\nLa = { start = 0.1, stop = 0.01, step = 0.01 }", "La", "stop 0.01 is below start"),
    ("[grid]\nLa = { start = 0.01, stop = 0.1 }", "La", "a range is"),
    ("[grid]\nema_len = []", "ema_len", "empty"),
    ("[grids]\nema_len = [2]", "grids", "unknown section"),
    ("[base]\ncutout = 1", "grid", "[grid] section is missing"),
    ("[grid]\nema_len = [20]\n[backtest]\nentry = 'open'", "entry", "entry = 'open'"),
    ("[grid]\nema_len = [20]\n[base]\nema_len = 3", "ema_len", "both in [grid] and [base]"),
    ("[grid\n", "grid", "not valid TOML"),
])
def test_bad_grids_name_the_field(text, field, message):
    with pytest.raises(ATCInputError) as info:
        parse_grid(text)
    assert message in str(info.value) and info.value.field == field


def test_a_combination_invalid_as_a_whole_names_the_parameter_set():
    with pytest.raises(ATCInputError, match=r"parameter set 1 \(ema_len=6, robustness=Wide\): "
                                            r"ema_len = 6 is too short"):
        parse_grid("[grid]\nema_len = [6]\nrobustness = ['Narrow', 'Wide']")


def test_too_many_sets_are_refused_before_any_work():
    with pytest.raises(ATCInputError, match="parameter sets; at most 100,000"):
        parse_grid("[grid]\nema_len = { start = 10, stop = 2000, step = 1 }\n"
                   "hull_len = { start = 10, stop = 2000, step = 1 }")


def test_a_grid_file_error_names_the_file(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("[grid]\nLa = [9]")
    with pytest.raises(ATCInputError, match=r"g.toml: parameter set 0 \(La=9\): La = 9.0 is out of range"):
        load_grid(path)
    with pytest.raises(ATCInputError, match="cannot read the grid"):
        load_grid(tmp_path / "none.toml")
