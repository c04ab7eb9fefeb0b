import json
from dataclasses import fields

import numpy as np
import pytest

from core.config import ATCConfig
from core.errors import ATCInputError


def test_defaults_are_the_spec_defaults():
    c = ATCConfig()
    assert (c.La, c.De, c.cutout, c.robustness) == (0.02, 0.03, 0, "Medium")
    assert (c.long_threshold, c.short_threshold, c.strategy) == (0.1, -0.1, False)
    assert (c.hma_kind, c.cut_threshold, c.use_codegen_specialization) == ("sma", 0.49, True)
    assert c.lam == pytest.approx(2e-5) and c.delta == pytest.approx(3e-4)
    assert c.member_lengths()[0].tolist() == [28, 29, 30, 32, 34, 27, 26, 24, 22]
    assert c.weights().tolist() == [1.0] * 6


@pytest.mark.parametrize("robustness, row", [
    ("Narrow", [20, 21, 22, 23, 24, 19, 18, 17, 16]),
    ("Medium", [20, 21, 22, 24, 26, 19, 18, 16, 14]),
    ("Wide", [20, 21, 23, 25, 27, 19, 17, 15, 13]),
])
def test_member_lengths_follow_the_offsets(robustness, row):
    assert ATCConfig(robustness=robustness, wma_len=20).member_lengths()[2].tolist() == row


@pytest.mark.parametrize("name, value, words", [
    ("La", 0.6, ["La", "0.6", "0.005", "0.5"]),
    ("De", 0.0, ["De", "0.0", "0.01", "0.25"]),
    ("cutout", -1, ["cutout", "-1", "0"]),
    ("cutout", 2.5, ["cutout", "2.5", "whole"]),
    ("long_threshold", 1.5, ["long_threshold", "1.5", "-1.0", "1.0"]),
    ("ema_w", -0.1, ["ema_w", "-0.1", "0.0", "100.0"]),
    ("robustness", "Loose", ["robustness", "Loose", "Narrow", "Medium", "Wide"]),
    ("hma_kind", "ema", ["hma_kind", "sma", "hull"]),
    ("strategy", "yes", ["strategy", "true or false"]),
    ("La", float("nan"), ["La", "nan"]),
    ("kama_len", "28", ["kama_len", "number"]),
])
def test_invalid_values_name_field_value_and_range(name, value, words):
    with pytest.raises(ATCInputError) as err:
        ATCConfig(**{name: value})
    assert err.value.field == name
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("robustness, too_short", [("Narrow", 4), ("Medium", 6), ("Wide", 7)])
def test_lengths_must_keep_every_member_at_least_one(robustness, too_short):
    ATCConfig(robustness=robustness, dema_len=too_short + 1)
    with pytest.raises(ATCInputError) as err:
        ATCConfig(robustness=robustness, dema_len=too_short)
    assert err.value.field == "dema_len" and robustness in str(err.value)


def test_json_round_trip_keeps_every_field():
    c = ATCConfig(La=0.05, cutout=100, robustness="Wide", ema_len=40, kama_w=0.8,
                  strategy=True, colbase="KAMA", hma_kind="hull", cut_threshold=0.3,
                  use_codegen_specialization=False)
    back = ATCConfig.from_json(c.to_json())
    assert back == c
    assert set(json.loads(c.to_json())) == {f.name for f in fields(ATCConfig)}


def test_unknown_and_malformed_json_are_errors():
    with pytest.raises(ATCInputError, match="unknown parameter 'Foo'"):
        ATCConfig.from_json('{"Foo": 1}')
    with pytest.raises(ATCInputError, match="not valid JSON"):
        ATCConfig.from_json("{La: 1")
    with pytest.raises(ATCInputError, match="object"):
        ATCConfig.from_json("[1, 2]")


def test_parse_value_converts_command_line_text():
    assert ATCConfig.parse_value("La", "0.05") == 0.05
    assert ATCConfig.parse_value("cutout", "10") == 10
    assert ATCConfig.parse_value("strategy", "true") is True
    assert ATCConfig.parse_value("robustness", "Wide") == "Wide"
    with pytest.raises(ATCInputError, match="cutout"):
        ATCConfig.parse_value("cutout", "ten")
    with pytest.raises(ATCInputError, match="unknown"):
        ATCConfig.parse_value("nope", "1")


def test_numpy_scalars_are_accepted_and_normalised():
    c = ATCConfig(cutout=np.int64(5), La=np.float32(0.25))
    assert type(c.cutout) is int and type(c.La) is float


def test_warmup_covers_the_slowest_member_and_dema():
    c = ATCConfig()
    assert c.warmup_bars() == 2 * 28 - 2 + 2 * 6   # DEMA's longest member 34 → bar 66
    assert ATCConfig(cutout=500).warmup_bars() == 500
