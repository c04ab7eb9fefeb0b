"""Shared fixtures: golden files, the offline guard, a per-test home for user files."""
from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from core.config import ATCConfig

REPO = Path(__file__).resolve().parents[1]


def golden_dir() -> Path:
    env = os.environ.get("ATC_GOLDEN_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "golden",
                                                      REPO / "shared" / "golden"]:
        if candidate.is_dir() and any(candidate.glob("*.npz")):
            return candidate
    raise RuntimeError("golden files not found: set ATC_GOLDEN_DIR or keep ../shared/golden")


GOLDEN_FILES = sorted(golden_dir().glob("*.npz"))


def load_golden(path: Path) -> tuple[dict, ATCConfig]:
    data = dict(np.load(path))
    return data, ATCConfig.from_dict(json.loads(str(data["params_json"])))


def is_discrete(name: str) -> bool:
    return (name in {"direction", "arrow_long", "arrow_short", "long", "short"}
            or name.startswith("sig.") or name.endswith("_Signal") or name.endswith("_Cut"))


def mismatches(columns: dict[str, np.ndarray], gold: dict) -> list[str]:
    """Columns that differ from the golden file (continuous 1e-9 relative, discrete exact)."""
    bad = []
    for name, want in gold.items():
        if name not in columns:
            continue
        want = np.asarray(want, dtype=np.float64)
        got = np.asarray(columns[name], dtype=np.float64)
        wn, gn = np.isnan(want), np.isnan(got)
        if is_discrete(name):
            ok = (wn & gn) | (~wn & ~gn & (got == want))
        else:
            ok = (wn & gn) | (~wn & ~gn & (np.abs(got - want) <= 1e-9 * np.maximum(1.0, np.abs(want))))
        if not ok.all():
            i = int(np.argmin(ok))
            bad.append(f"{name}: bar {i} got {got[i]!r} want {want[i]!r}")
    return bad


def _is_local(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, (bytes, str)) and str(host) in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return isinstance(host, str) and host.startswith("/")   # unix socket paths


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a non-loopback address fails the test loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(sock: socket.socket, address: object, real=real_connect):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex",
                        lambda s, a: guard(s, a, real_connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns(socket.getaddrinfo))


def _no_dns(real):
    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_local((host,)) and not _is_ip(host):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real(host, *args, **kwargs)
    return getaddrinfo


def _is_ip(host: object) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def atc_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User files (store, settings, generated kernels) go to a temporary home."""
    home = tmp_path_factory.mktemp("atc-home")
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(home))
    return home


def random_walk(n: int, seed: int, vol: float = 0.02, start: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
