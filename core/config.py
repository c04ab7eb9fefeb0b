"""`ATCConfig`: every parameter of the ATC spec (§2, §12), validated on construction.

Parameter names are the spec's names (``La``, ``De``, ``cutout``, ``ema_len`` …), the same
on the command line, in JSON files and in the golden files' ``params_json``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from core.errors import ATCInputError

FAMILIES: tuple[str, ...] = ("EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA")
#: Pine's length inputs and weight inputs, in family order.
LENGTH_FIELDS: tuple[str, ...] = ("ema_len", "hull_len", "wma_len", "dema_len", "lsma_len", "kama_len")
WEIGHT_FIELDS: tuple[str, ...] = ("ema_w", "hma_w", "wma_w", "dema_w", "lsma_w", "kama_w")
#: Length offsets (o1, o2, o3, o4) per robustness (spec §4.1).
ROBUSTNESS_OFFSETS: dict[str, tuple[int, int, int, int]] = {
    "Narrow": (1, 2, 3, 4),
    "Medium": (1, 2, 4, 6),
    "Wide": (1, 3, 5, 7),
}
#: Series a colour/alert base may follow: Average_Signal or one family's Layer-1 signal.
BASE_CHOICES: tuple[str, ...] = ("Average",) + FAMILIES
HMA_KINDS: tuple[str, ...] = ("sma", "hull")
MAX_LENGTH = 2000
#: A plain decimal number: optional sign, ASCII digits, optional fraction and exponent.
#: No digit separators ('1_0'), no other scripts' digits ('٢٨'), no 'inf'/'nan', which
#: Python's own int()/float() would accept.
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _range(lo: float, hi: float, help_: str) -> dict[str, Any]:
    return {"range": (lo, hi), "help": help_}


def _choice(options: tuple[str, ...], help_: str) -> dict[str, Any]:
    return {"choices": options, "help": help_}


@dataclass(frozen=True)
class ATCConfig:
    """All parameters of one ATC computation; frozen and validated on construction.

    Invalid values raise :class:`core.errors.ATCInputError` naming the field, the value and
    the allowed range. ``La`` and ``De`` are in the units a user types (λ = La/1000,
    δ = De/100, spec §2).
    """

    La: float = field(default=0.02, metadata=_range(0.005, 0.5, "growth rate λ·1000"))
    De: float = field(default=0.03, metadata=_range(0.01, 0.25, "decay δ in percent"))
    cutout: int = field(default=0, metadata=_range(0, 1_000_000, "first bar with equities"))
    robustness: str = field(default="Medium", metadata=_choice(tuple(ROBUSTNESS_OFFSETS), "length offsets"))
    long_threshold: float = field(default=0.1, metadata=_range(-1.0, 1.0, "long crossing level"))
    short_threshold: float = field(default=-0.1, metadata=_range(-1.0, 1.0, "short crossing level"))
    ema_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "EMA base length"))
    hull_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "HMA base length"))
    wma_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "WMA base length"))
    dema_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "DEMA base length"))
    lsma_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "LSMA base length"))
    kama_len: int = field(default=28, metadata=_range(1, MAX_LENGTH, "KAMA base length"))
    ema_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "EMA starting weight"))
    hma_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "HMA starting weight"))
    wma_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "WMA starting weight"))
    dema_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "DEMA starting weight"))
    lsma_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "LSMA starting weight"))
    kama_w: float = field(default=1.0, metadata=_range(0.0, 100.0, "KAMA starting weight"))
    strategy: bool = field(default=False, metadata={"help": "Strategy View: lag direction base one bar"})
    colbase: str = field(default="Average", metadata=_choice(BASE_CHOICES, "series for colours and arrows"))
    alertbase: str = field(default="Average", metadata=_choice(BASE_CHOICES, "series for alerts"))
    hma_kind: str = field(
        default="sma",
        metadata=_choice(HMA_KINDS, "'sma' matches TradingView; 'hull' is a real Hull MA and does not"),
    )
    cut_threshold: float = field(default=0.49, metadata=_range(0.0, 1.0, "Layer-1 cut level"))
    use_codegen_specialization: bool = field(
        default=True, metadata={"help": "EMA-only screening through the specialised JIT kernel"}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _checked(f, getattr(self, f.name)))
        min_len = 1 + ROBUSTNESS_OFFSETS[self.robustness][3]
        for name in LENGTH_FIELDS:
            value = getattr(self, name)
            if value < min_len:
                raise ATCInputError(
                    f"{name} = {value} is too short for robustness '{self.robustness}': allowed "
                    f"{min_len} … {MAX_LENGTH} (its shortest member, length − "
                    f"{min_len - 1}, must be ≥ 1)",
                    field=name,
                )

    # -- derived values -------------------------------------------------------------------
    @property
    def lam(self) -> float:
        """λ = La / 1000 (spec §2)."""
        return self.La / 1000.0

    @property
    def delta(self) -> float:
        """δ = De / 100 (spec §2)."""
        return self.De / 100.0

    def member_lengths(self) -> np.ndarray:
        """(6, 9) int64 lengths: family order of ``FAMILIES``, member order of spec §4.1."""
        o = ROBUSTNESS_OFFSETS[self.robustness]
        out = np.empty((6, 9), dtype=np.int64)
        for f, name in enumerate(LENGTH_FIELDS):
            base = getattr(self, name)
            out[f] = [base, base + o[0], base + o[1], base + o[2], base + o[3],
                      base - o[0], base - o[1], base - o[2], base - o[3]]
        return out

    def weights(self) -> np.ndarray:
        """(6,) float64 Layer-2 starting equities in family order."""
        return np.array([getattr(self, n) for n in WEIGHT_FIELDS], dtype=np.float64)

    def base_index(self, which: str) -> int:
        """Index of a colbase/alertbase choice: 0 = Average_Signal, 1 + f = family f."""
        return BASE_CHOICES.index(getattr(self, which))

    def warmup_bars(self) -> int:
        """Bars before every MA has a value (the slowest warm-up, DEMA's 2N−2 included)."""
        lengths = self.member_lengths()
        dema = int(lengths[3].max())
        return max(int(lengths.max()) - 1, 2 * dema - 2, self.cutout)

    # -- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ATCConfig:
        """Build from spec-named values; unknown names are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ATCInputError(
                f"unknown parameter {unknown[0]!r}; known parameters: {', '.join(sorted(known))}",
                field=unknown[0],
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ATCConfig:
        """Build from a JSON object of spec-named values (the JSON types are the types:
        numbers for numeric fields, true/false, strings for choices)."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ATCInputError(f"parameters are not valid JSON: {exc}") from None
        except RecursionError:
            raise ATCInputError("parameters are not valid JSON: nested too deeply") from None
        except ValueError as exc:        # e.g. an integer over Python's 4300-digit limit
            raise ATCInputError(f"parameters are not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise ATCInputError("parameters JSON must be an object of name: value pairs")
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> ATCConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def parse_value(cls, name: str, text: str) -> Any:
        """Convert a command-line string to the value JSON would give parameter ``name``.

        Numbers follow one rule whichever way they come: the text becomes the int or float
        that JSON would read from it, and validation (whole numbers for lengths, ranges)
        is the same as for a JSON file, so ``ema_len=28.0`` is accepted by both.
        """
        spec = {f.name: f for f in fields(cls)}
        if name not in spec:
            raise ATCInputError(f"unknown parameter {name!r}", field=name)
        kind = spec[name].type
        if kind == "bool":
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ATCInputError(f"{name} = {text!r} is not a boolean (true/false)", field=name)
        if kind in ("int", "float"):
            try:
                return parse_decimal(text)
            except ValueError:
                raise ATCInputError(f"{name} = {text!r} is not a number: allowed "
                                    f"{describe_field(spec[name])}, written with the digits "
                                    "0-9", field=name) from None
        return text


def parse_decimal(text: str) -> int | float:
    """A plain ASCII decimal number as JSON would read it: an int when written without
    fraction or exponent, else a float (``1e400`` is inf; ranges reject it later).
    ValueError for anything else."""
    t = text.strip()
    if not DECIMAL.fullmatch(t):
        raise ValueError(f"not a decimal number: {text!r}")
    if _INTEGER.fullmatch(t) and len(t) <= 1000:   # beyond that int() refuses; any range too
        return int(t)
    return float(t)


def describe_field(f: dataclasses.Field[Any]) -> str:
    """One line describing the allowed values of a field (used in errors and the UI)."""
    meta = f.metadata
    if "range" in meta:
        lo, hi = meta["range"]
        return f"{lo} … {hi}"
    if "choices" in meta:
        return " | ".join(meta["choices"])
    return "true | false"


def _checked(f: dataclasses.Field[Any], value: Any) -> Any:
    name, kind, meta = f.name, f.type, f.metadata
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ATCInputError(f"{name} = {value!r} must be true or false", field=name)
        return bool(value)
    if kind == "str":
        if value not in meta["choices"]:
            raise ATCInputError(
                f"{name} = {value!r} is not allowed: choose one of {describe_field(f)}", field=name
            )
        return str(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ATCInputError(f"{name} = {value!r} must be a number in {describe_field(f)}", field=name)
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise ATCInputError(f"{name} = {value!r} is out of range: allowed {describe_field(f)}", field=name)
    if kind == "int":
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise ATCInputError(f"{name} = {value!r} must be a whole number in {describe_field(f)}", field=name)
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:            # an int too large for a float
            raise ATCInputError(f"{name} is out of range: allowed {describe_field(f)}",
                                field=name) from None
    lo, hi = meta["range"]
    if not lo <= value <= hi:            # ints compare exactly, however large
        raise ATCInputError(f"{name} = {value!r} is out of range: allowed {describe_field(f)}", field=name)
    return value
