"""The extension's result tuples carry their names (the crate's output layout,
``src/layout.rs``), and the crate's single-series modules depend on each other one way."""
from __future__ import annotations

import dataclasses
import graphlib
import re
from pathlib import Path

import numpy as np

import rust_backend
from core.config import ATCConfig
from core.kernel_params import KernelParams
from core.types import ATCResult, BatchResult
from tests.rust.rust_helpers import random_walk

SRC = Path(rust_backend.__file__).with_name("src")


def expected_shape(name: str, n: int) -> tuple[int, ...]:
    """The shape the spec gives a single-series output of ``n`` bars."""
    return {"signals": (6, n), "family_equities": (6, n), "mas": (54, n), "states": (54, n),
            "equities": (54, n)}.get(name, (n,))


def test_single_series_tuples_are_named_after_the_result_fields(rust):
    native = rust._native
    names = native.SINGLE_OUTPUTS
    assert set(names) <= {f.name for f in dataclasses.fields(ATCResult)}
    assert names[-1] == "rate_of_change" and len(set(names)) == len(names)
    n = 40
    close = random_walk(np.random.default_rng(21), n)
    params = KernelParams.from_config(ATCConfig())
    for detail in (False, True):
        got = native.compute(close, None, params, detail)
        assert len(got) == len(names) - 1, "compute's tuple has no R"
        for name, arr in zip(names, got):
            if name in ("mas", "states", "equities") and not detail:
                assert arr is None, name
                continue
            assert arr.shape == expected_shape(name, n), name
            want = {"arrow_long": np.bool_, "arrow_short": np.bool_, "long": np.bool_, "short": np.bool_,
                    "states": np.int8}.get(name, np.float64)
            assert arr.dtype == want, name
    res = rust.compute(close, ATCConfig(), detail=True)
    arrays = dict(zip(names, native.compute(close, None, params, True)))
    for name, arr in arrays.items():
        np.testing.assert_array_equal(getattr(res, name), arr, err_msg=name)


def test_batch_tuples_are_named_after_the_result_fields(rust):
    native = rust._native
    names = native.BATCH_OUTPUTS
    assert set(names) <= {f.name for f in dataclasses.fields(BatchResult)}
    closes = np.vstack([random_walk(np.random.default_rng(s), 30) for s in (1, 2, 3)])
    starts = np.zeros(3, dtype=np.int64)
    shapes = {"signals": (3, 6, 4), "family_equities": (3, 6, 4), "last_event": (3,),
              "bars_since_event": (3,)}
    dtypes = {"long": np.bool_, "short": np.bool_, "last_event": np.int8, "bars_since_event": np.int64}
    got = dict(zip(names, native.compute_batch(closes, starts, KernelParams.from_config(ATCConfig()), 4),
                   strict=True))
    for name, arr in got.items():
        assert arr.shape == shapes.get(name, (3, 4)), name
        assert arr.dtype == dtypes.get(name, np.float64), name
    ema = dict(zip(names, native.compute_batch(closes, starts, KernelParams.from_config(ATCConfig(), "ema_only"),
                                               4), strict=True))
    assert ema["average_signal"] is None and ema["signals"].shape == (3, 1, 4)


def crate_dependencies() -> dict[str, set[str]]:
    """Each top-level module of the crate and the modules it names (``crate::m``)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.rs"):
        module = path.relative_to(SRC).parts[0].removesuffix(".rs")
        if module == "lib":          # the crate root (the PyO3 layer) may use everything
            continue
        code = re.sub(r"//.*", "", path.read_text(encoding="utf-8"))
        graph.setdefault(module, set()).update(set(re.findall(r"\bcrate::(\w+)", code)) - {module})
    return graph


def test_single_series_modules_form_no_cycle():
    """The stages are shared by the driver and the scheduler: neither uses the other's
    caller (a cycle made them one module in two files)."""
    graph = crate_dependencies()
    single = {"single", "pipeline", "stage"}
    sub = {m: graph.get(m, set()) & single for m in single}
    order = list(graphlib.TopologicalSorter(sub).static_order())   # raises CycleError on a cycle
    assert order.index("stage") < order.index("pipeline") < order.index("single")
