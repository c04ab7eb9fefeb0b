"""The screening prepares its batch's kernel through the registry (the backend contract's
``prepare``) before the batch call: numba's specialised kernel then builds in the
background while the batch runs on the generic one; the app names no JIT module."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from atc_desktop.data_service import DataService
from atc_desktop.screening import ScreenRequest, run_screen
from core.backends.base import READY, Readiness
from core.backends.numpy_backend import NumpyBackend
from core.backends.registry import Registry
from core.config import ATCConfig

REPO = Path(__file__).resolve().parents[2]


class Recording(NumpyBackend):
    """A backend with something to prepare; records the order of the calls."""

    name = "numba"
    calls: list[tuple[Any, ...]] = []

    def prepare(self, config: ATCConfig, mode: str = "full") -> Readiness:
        Recording.calls.append(("prepare", config, mode))
        return Readiness("preparing", "compiling")

    def readiness(self, config: ATCConfig, mode: str = "full") -> Readiness:
        return READY

    def wait_prepared(self, timeout: float | None = None) -> bool:
        return True

    def compute_batch(self, *args: Any, **kwargs: Any) -> Any:
        Recording.calls.append(("compute_batch", kwargs["mode"]))
        return super().compute_batch(*args, **kwargs)


def test_a_batch_screening_prepares_its_kernel_before_the_call(tmp_path: Path,
                                                                scripted: Any) -> None:
    data = DataService(tmp_path / "bars.sqlite3", provider=scripted(["AAA", "BBB"], bars=300))
    data.refresh(["AAA", "BBB"], "1d")
    Recording.calls = []
    config = ATCConfig(kama_len=17)
    registry = Registry({"numba": Recording, "numpy": NumpyBackend})
    out = run_screen(ScreenRequest(1, ("AAA", "BBB"), "1d", config, 5000, fetch=False,
                                   family="KAMA"), data, registry)
    assert Recording.calls == [("prepare", config, "family:KAMA"),
                               ("compute_batch", "family:KAMA")]
    assert out.backend == "numba" and all(row.has_values for row in out.rows)
    data.close()


def test_the_app_reaches_the_jit_only_through_the_backend_contract() -> None:
    for name in ("app.py", "screening.py"):
        tree = ast.parse((REPO / "atc_desktop" / name).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for a in node.names}
        assert not any(m and m.startswith("core.jit") for m in imported), name
        names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert "background_compile" not in names, name
