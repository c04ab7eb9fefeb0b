"""Parameter grids for sweeps: a TOML file naming ATCConfig fields and their values.

::

    [grid]                       # every combination of these (any ATCConfig field)
    ema_len = [14, 21, 28]       # a list of values
    La = { start = 0.01, stop = 0.05, step = 0.01 }   # a range, stop included
    De = { start = 0.01, stop = 0.1, num = 4 }         # num values, ends included
    robustness = ["Narrow", "Medium", "Wide"]

    [base]                       # fixed values for the other fields (optional)
    cutout = 0

    [backtest]                   # optional: entry, long_only, cost_bps, periods_per_year
    entry = "next_open"
    cost_bps = 5

Every value is checked as ATCConfig checks it; an error names the field (and, for a
combination that is invalid as a whole, the parameter set).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.backtest import BacktestOptions
from core.config import ATCConfig
from core.errors import ATCInputError

#: More sets than this is almost certainly a typo in a range (and days of work).
MAX_SETS = 100_000
_SECTIONS = ("grid", "base", "backtest")


@dataclass(frozen=True)
class Grid:
    """The expanded grid: the varied fields, one config per parameter set, the backtest."""

    fields: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]      # per set, the varied fields' values
    configs: tuple[ATCConfig, ...]
    backtest: BacktestOptions

    def __len__(self) -> int:
        return len(self.configs)

    def describe(self, index: int) -> str:
        return ", ".join(f"{f}={v}" for f, v in zip(self.fields, self.values[index]))

    def fingerprint(self) -> str:
        """A digest of every set and the backtest, for resumable runs."""
        blob = json.dumps({"sets": [c.to_dict() for c in self.configs],
                           "backtest": self.backtest.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def load_grid(path: str | Path) -> Grid:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ATCInputError(f"{p}: cannot read the grid: {exc.strerror}", field="grid") from None
    except UnicodeDecodeError as exc:
        raise ATCInputError(f"{p}: the grid is not UTF-8 text (byte {exc.start})", field="grid") from None
    try:
        return parse_grid(text)
    except ATCInputError as exc:
        raise ATCInputError(f"{p}: {exc}", field=exc.field) from None


def parse_grid(text: str, base: ATCConfig | None = None) -> Grid:
    """The grid of a TOML text; fields neither in [grid] nor [base] keep ``base``'s values
    (the defaults when None: the app passes its current parameters)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ATCInputError(f"not valid TOML: {exc}", field="grid") from None
    unknown = sorted(set(doc) - set(_SECTIONS))
    if unknown:
        raise ATCInputError(f"unknown section or key {unknown[0]!r}; the grid has sections "
                            "[grid], [base] and [backtest]", field=unknown[0])
    axes = doc.get("grid")
    if not isinstance(axes, dict) or not axes:
        raise ATCInputError("the [grid] section is missing or empty: name at least one "
                            "ATCConfig field with its values", field="grid")
    fixed = doc.get("base", {})
    if not isinstance(fixed, dict):
        raise ATCInputError("[base] must be a table of field = value", field="base")
    known = {f.name for f in fields(ATCConfig)}
    for name in [*axes, *fixed]:
        if name not in known:
            raise ATCInputError(f"unknown parameter {name!r}; known parameters: "
                                f"{', '.join(sorted(known))}", field=name)
    both = sorted(set(axes) & set(fixed))
    if both:
        raise ATCInputError(f"{both[0]} is both in [grid] and [base]; keep it in one", field=both[0])
    try:
        backtest = BacktestOptions.from_dict(doc.get("backtest", {}))
    except TypeError as exc:
        raise ATCInputError(f"[backtest]: {exc}", field="backtest") from None
    names = tuple(axes)
    lists = [_values(name, axes[name]) for name in names]
    total = math.prod(len(v) for v in lists)
    if total > MAX_SETS:
        raise ATCInputError(f"the grid has {total:,} parameter sets; at most {MAX_SETS:,} are "
                            "allowed (fewer values or wider steps)", field="grid")
    # A bad [base] value names its field.
    base_config = ATCConfig.from_dict({**(base or ATCConfig()).to_dict(), **fixed})
    configs, values = [], []
    for index, combo in enumerate(itertools.product(*lists)):
        change = dict(zip(names, combo))
        try:
            configs.append(_config(base_config, change))
        except ATCInputError as exc:
            desc = ", ".join(f"{k}={v}" for k, v in change.items())
            raise ATCInputError(f"parameter set {index} ({desc}): {exc}", field=exc.field) from None
        values.append(combo)
    return Grid(names, tuple(values), tuple(configs), backtest)


def _config(base: ATCConfig, change: dict[str, Any]) -> ATCConfig:
    return ATCConfig.from_dict({**base.to_dict(), **change})


def _values(name: str, spec: Any) -> list[Any]:
    """The values of one axis: a list, or a range table {start, stop, step | num}."""
    if isinstance(spec, list):
        if not spec:
            raise ATCInputError(f"{name}: the list of values is empty", field=name)
        if len(set(map(repr, spec))) != len(spec):
            raise ATCInputError(f"{name}: a value is listed twice", field=name)
        return spec
    if isinstance(spec, dict):
        keys = set(spec)
        if not ({"start", "stop"} <= keys and len(keys & {"step", "num"}) == 1
                and keys <= {"start", "stop", "step", "num"}):
            raise ATCInputError(f"{name}: a range is {{ start, stop, step }} or "
                                f"{{ start, stop, num }}, got {sorted(keys)}", field=name)
        start, stop = spec["start"], spec["stop"]
        for key in keys:
            v = spec[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ATCInputError(f"{name}: range {key} = {v!r} must be a number", field=name)
        if stop < start:
            raise ATCInputError(f"{name}: range stop {stop} is below start {start}", field=name)
        if "num" in spec:
            num = spec["num"]
            if not isinstance(num, int) or num < 1:
                raise ATCInputError(f"{name}: range num = {num!r} must be a whole number ≥ 1",
                                    field=name)
            if num == 1:
                return [start]
            step = (stop - start) / (num - 1)
            return [_tidy(start + k * step, start, stop) for k in range(num)]
        step = spec["step"]
        if step <= 0:
            raise ATCInputError(f"{name}: range step = {step!r} must be above 0", field=name)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > MAX_SETS:
            raise ATCInputError(f"{name}: the range has {count:,} values; at most "
                                f"{MAX_SETS:,}", field=name)
        return [_tidy(start + k * step, start, step) for k in range(count)]
    return [spec]                    # a single value: one point on this axis


def _tidy(value: float, *given: float) -> int | float:
    """Integer ranges stay integers; float ranges lose the last-digit noise of k × step."""
    if all(isinstance(g, int) for g in given) and float(value).is_integer():
        return int(value)
    return float(f"{value:.12g}")
