"""The seam between the device-agnostic launcher and its executors."""
from __future__ import annotations

import ast
import inspect

import pytest

from cuda_backend import cupy_executor, host, launcher


def test_pack_args_follows_the_kernel_signature():
    """Arguments reach every executor in the .cu signature's order with their kinds,
    whatever order the launcher wrote them in."""
    signature = host.KERNEL_SIGNATURES["atc_prepare_kernel"]
    args = {name: i for i, (name, _) in reversed(list(enumerate(signature)))}
    packed = launcher.pack_args("atc_prepare_kernel", args)
    assert [(a.name, a.kind) for a in packed] == list(signature)
    assert [a.value for a in packed] == list(range(len(signature)))


def test_pack_args_names_a_missing_argument():
    args = {name: 0 for name, _ in host.KERNEL_SIGNATURES["atc_ema_only_kernel"] if name != "tail"}
    with pytest.raises(KeyError, match="tail"):
        launcher.pack_args("atc_ema_only_kernel", args)


def _imported_modules(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))     # type: ignore[arg-type]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cupy_executor_mentions_cupy():
    """The launcher (chunk plan, argument packing, outputs) is device-agnostic: CuPy is
    imported by the executor module alone, so the CPU emulation runs the same launcher."""
    assert "cupy" not in _imported_modules(launcher)
    assert "cupy" in _imported_modules(cupy_executor)
