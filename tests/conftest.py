"""Shared fixtures: golden files, the network guard, a per-test home for user files."""
from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from core import agreement
from core.config import ATCConfig
from tests.network_guard import NetworkBlocked
from tools.golden import find_golden_dir

REPO = Path(__file__).resolve().parents[1]


#: Backends that must run here (``make test`` names rust): their tests fail, not skip, when
#: the backend is missing or broken, so a lost Rust build cannot pass CI unnoticed.
REQUIRED_BACKENDS = frozenset(filter(None, os.environ.get("ATC_REQUIRED_BACKENDS", "").split(",")))


def skip_unavailable(name: str, reason: str) -> None:
    """Skip a test whose backend cannot run here, naming why; fail if it is required."""
    message = f"{name} backend unavailable: {reason}"
    if name in REQUIRED_BACKENDS:
        pytest.fail(message + f" (required by ATC_REQUIRED_BACKENDS={','.join(sorted(REQUIRED_BACKENDS))})")
    pytest.skip(message)


def golden_dir() -> Path:
    found = find_golden_dir()
    if found is None:
        raise RuntimeError("golden files not found: set ATC_GOLDEN_DIR or keep ../shared/golden")
    return found


#: Every golden file, the near-tie series of ``ties/`` included.
GOLDEN_FILES = sorted(golden_dir().glob("*.npz")) + sorted(golden_dir().glob("ties/*.npz"))


def golden_id(path: Path) -> str:
    """A test id that says whether the file is one of ``ties/``."""
    return f"{path.parent.name}/{path.stem}" if path.parent.name == "ties" else path.stem


#: Golden keys that are inputs or descriptions, not outputs to compare.
GOLDEN_INPUTS = agreement.GOLDEN_INPUTS


def load_golden(path: Path) -> tuple[dict, ATCConfig]:
    data = dict(np.load(path))
    return data, ATCConfig.from_dict(json.loads(str(data["params_json"])))


def mismatches(columns: dict[str, np.ndarray], gold: dict) -> list[str]:
    """Columns that differ from the golden file or are missing from ``columns``, under the
    golden rule of :mod:`core.agreement` (discrete columns, the 54 MAs — spec §4.8 — and
    Average_Signal bit for bit; other continuous columns within 1e-9 relative)."""
    return agreement.golden_mismatches(columns, gold)


def _loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None) or isinstance(host, bytes):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return isinstance(host, str) and host.startswith("/")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Connecting anywhere but loopback, or any HTTP request, fails the test loudly.

    Python sockets are guarded, and so are the HTTP entry points of curl_cffi (yfinance's
    transport, whose libcurl opens sockets in C where no Python patch reaches) and
    requests. The attempt raises at once, and because libraries may swallow the exception
    (yfinance logs per-ticker failures) every attempt is also recorded and fails the test
    at teardown. Yields the record (the guard's own tests clear it).
    """
    attempts: list[str] = []
    real_create = socket.create_connection
    real_connect = socket.socket.connect

    def blocked(what: str) -> NetworkBlocked:
        attempts.append(what)
        return NetworkBlocked(f"test tried to reach the network: {what}")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _loopback(address):
            raise blocked(f"connect {address!r}")
        return real_create(address, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise blocked(f"connect {address!r}")
        return real_connect(sock, address)

    def http(*args: Any, **kwargs: Any) -> None:
        raise blocked(f"HTTP request {args[1:3]!r}")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    from curl_cffi import requests as curl_requests
    from curl_cffi.curl import Curl

    monkeypatch.setattr(Curl, "perform", http)
    monkeypatch.setattr(curl_requests.Session, "request", http)
    import requests

    monkeypatch.setattr(requests.Session, "request", http)
    yield attempts
    if attempts:
        pytest.fail(f"test tried to reach the network {len(attempts)} time(s): {attempts[:3]}")


@pytest.fixture(autouse=True)
def atc_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User files (store, settings, generated kernels) go to a temporary home."""
    home = tmp_path_factory.mktemp("atc-home")
    monkeypatch.setenv("ATC_DESKTOP_HOME", str(home))
    return home


def random_walk(n: int, seed: int, vol: float = 0.02, start: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


def assert_matches_golden(backend: Any, path: Path) -> Any:
    """``backend.compute`` on a golden file's input (with its src, when it has one): every
    golden column, discrete exactly and continuous within tolerance. Returns the result."""
    from core.types import as_series

    gold, config = load_golden(path)
    src = as_series(gold["src"], "src") if "src" in gold else None
    result = backend.compute(as_series(gold["close"]), config, detail=True, src=src)
    columns = dict(result.columns(detail=True))
    assert mismatches(columns, gold) == []
    return result


def assert_batch_matches_golden(backend: Any, path: Path, mode: str) -> None:
    """``backend.compute_batch`` on a golden file's close, as a one-row batch and beside a
    shifted copy (a ragged batch): every bar's signals, direction and events equal the golden
    columns, equities and Average_Signal within 1e-9. Batches take close only, so a golden
    file computed on another source is skipped."""
    gold, config = load_golden(path)
    if "src" in gold:
        pytest.skip("batches compute on close; this golden file uses another source")
    close = np.asarray(gold["close"], dtype=np.float64)
    n = close.size
    ragged = np.full(n, np.nan)
    ragged[37:] = close[:n - 37] * 1.5                     # another symbol, later start
    out = backend.compute_batch(np.vstack([close, ragged]), config, tail=n, mode=mode)
    families = ["EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA"][:out.signals.shape[1]]
    for f, fam in enumerate(families):
        np.testing.assert_array_equal(out.signals[0, f], gold[fam + "_Signal"], err_msg=fam)
        np.testing.assert_allclose(out.family_equities[0, f], gold[fam + "_S"], rtol=1e-9,
                                   err_msg=fam)
    if mode == "full":
        np.testing.assert_array_equal(out.direction[0], gold["direction"])
        np.testing.assert_array_equal(out.long[0], gold["long"].astype(bool))
        np.testing.assert_array_equal(out.short[0], gold["short"].astype(bool))
        np.testing.assert_allclose(out.average_signal[0], gold["Average_Signal"], rtol=1e-9,
                                   atol=1e-15)
    assert_batch_discrete_equal_reference(out, np.vstack([close, ragged])[1:], config,
                                          rows=[1], families=len(families))


def assert_batch_discrete_equal_reference(out: Any, closes: np.ndarray, config: ATCConfig,
                                          rows: list[int] | None = None,
                                          families: int = 6) -> None:
    """Each row of a full-length batch result (tail = all bars) has the reference's
    signals, direction and events on that row alone (``rows``: which rows of ``out`` the
    rows of ``closes`` are, all by default; leading NaN is a later start)."""
    from core.atc import compute_reference

    for i, row in enumerate(rows if rows is not None else range(closes.shape[0])):
        first = int(np.argmax(np.isfinite(closes[i])))
        ref = compute_reference(closes[i, first:], config, families=families)
        np.testing.assert_array_equal(out.signals[row][:, first:], ref.signals[:families])
        np.testing.assert_array_equal(out.direction[row][first:], ref.direction)
        np.testing.assert_array_equal(out.long[row][first:], ref.long)
        np.testing.assert_array_equal(out.short[row][first:], ref.short)
