"""The host side of the CUDA backend: signatures, constants, growth table, chunk plan."""
from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest

from core.atc.equity import growth_factor
from core.atc.moving_averages import ema, lsma, wma
from core.config import ATCConfig
from cuda_backend import host

_C_TYPES = {"double*": "ptr", "int*": "ptr", "signedchar*": "ptr", "unsignedchar*": "ptr",
            "atc_i64*": "ptr", "int": "i32", "atc_i64": "i64", "double": "f64"}


def declared_params(kernel: str) -> list[tuple[str, str]]:
    """(name, kind) of a kernel's parameters, read from its .cu file's PARAMS macro."""
    macro = {"atc_prepare_kernel": "ATC_PREPARE_PARAMS", "atc_full_kernel": "ATC_FULL_PARAMS",
             "atc_full_hull_kernel": "ATC_FULL_PARAMS", "atc_ema_only_kernel": "ATC_EMA_PARAMS"}[kernel]
    text = "\n".join((host.KERNEL_DIR / f).read_text() for f in host.KERNEL_FILES)
    body = re.search(rf"#define {macro}\s*\\\n(.*?)(?<!\\)\n", text, re.S).group(1)
    body = body.replace("\\\n", " ").replace("__restrict__", "").replace("const", "")
    params = []
    for decl in body.split(","):
        words = decl.replace("*", " * ").split()
        name = words[-1]
        ctype = "".join(words[:-1])
        params.append((name, _C_TYPES[ctype]))
    return params


@pytest.mark.parametrize("kernel", sorted(host.KERNEL_SIGNATURES))
def test_python_signatures_match_the_kernels(kernel):
    assert list(host.KERNEL_SIGNATURES[kernel]) == declared_params(kernel)


def test_every_kernel_entry_point_is_declared():
    text = "\n".join((host.KERNEL_DIR / f).read_text() for f in host.KERNEL_FILES)
    entries = set(re.findall(r'extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\(', text))
    assert entries == set(host.KERNEL_SIGNATURES)


def test_params_layout_matches_the_struct(emu_lib):
    lib = ctypes.CDLL(str(emu_lib))
    lib.emu_params_size.restype = ctypes.c_size_t
    assert lib.emu_params_size() == host.PARAMS_DTYPE.itemsize
    assert host.MEMBER_DTYPE.itemsize == 40
    assert host.call_params(ATCConfig()).nbytes == host.PARAMS_DTYPE.itemsize


def test_member_constants_are_the_references_values():
    config = ATCConfig(robustness="Wide", hma_kind="hull", hull_len=31, lsma_len=8)
    rec = host.member_constants(config)
    lengths = config.member_lengths().reshape(-1)
    assert (rec["n"] == lengths).all()
    x = np.linspace(50.0, 80.0, 40) ** 1.3
    for i in (0, 4, 8):                                        # EMA members: α
        n = int(lengths[i])
        assert rec["k0"][i] == 2.0 / (n + 1)
        e = ema(x, n)
        assert e[n - 1] == x[:n].sum() / n or np.isclose(e[n - 1], x[:n].mean(), rtol=1e-15)
    for i in range(18, 27):                                    # WMA: divisor
        n = int(lengths[i])
        window = x[:n]
        assert np.isclose(window @ np.arange(1.0, n + 1) / rec["k0"][i], wma(x, n)[n - 1], rtol=1e-15)
    for i in range(36, 45):                                    # LSMA: Σp and the denominator
        n = int(lengths[i])
        pos = np.arange(float(n))
        assert rec["k0"][i] == pos.sum()
        assert rec["k1"][i] == n * (pos * pos).sum() - pos.sum() ** 2
        if n > 1:
            w = x[:n]
            slope = (n * (w @ pos) - rec["k0"][i] * w.sum()) / rec["k1"][i]
            assert np.isclose((w.sum() - slope * rec["k0"][i]) / n + slope * (n - 1), lsma(x, n)[n - 1],
                              rtol=1e-13)
    hull = rec[9:18]
    assert (hull["n1"] == np.maximum(1, lengths[9:18] // 2)).all()
    assert (hull["n2"] == np.floor(np.sqrt(lengths[9:18]))).all()


def test_call_params_carry_the_config():
    config = ATCConfig(De=0.2, cutout=12, strategy=True, colbase="KAMA", alertbase="WMA",
                       long_threshold=0.3, short_threshold=-0.2, cut_threshold=0.35, kama_w=2.5)
    p = np.frombuffer(host.call_params(config).tobytes(), dtype=host.PARAMS_DTYPE)[0]
    assert p["decay"] == 1.0 - config.delta
    assert (p["cutout"], p["strategy"], p["colbase"], p["alertbase"]) == (12, 1, 6, 3)
    assert (p["long_thr"], p["short_thr"], p["cut_thr"]) == (0.3, -0.2, 0.35)
    assert list(p["weights"]) == list(config.weights())


@pytest.mark.parametrize("cutout", [0, 7])
def test_growth_table_is_the_references_growth_factor(cutout):
    config = ATCConfig(La=0.37, cutout=cutout)
    table = host.growth_table(config, 3000)
    ref = growth_factor(3000, config.lam, cutout)
    assert table.shape == (3000 - cutout,)
    assert np.array_equal(table, ref[cutout:])                 # bit for bit
    assert host.growth_factor_last(config, 3000) == ref[-1]
    assert np.isnan(host.growth_factor_last(ATCConfig(cutout=50), 40))


def test_chunk_plan_fills_the_device_and_pipelines():
    plan = host.plan_chunks(10_000, 5_000, 1, 6, False, free_bytes=70 * 2**30,
                            resident_symbols=264 * 32, max_chunks=4)
    assert plan.size % 32 == 0 and plan.size >= 264 * 32        # never below one wave
    assert plan.count == -(-10_000 // plan.size) and plan.buffers == 2
    small = host.plan_chunks(100, 5_000, 1, 6, False, 70 * 2**30, 264 * 32)
    assert (small.size, small.count, small.buffers) == (128, 1, 1)


def test_chunk_plan_respects_the_grid_limit():
    plan = host.plan_chunks(3_000_000, 4, 1, 1, False, free_bytes=80 * 2**30,
                            resident_symbols=264 * 32, max_chunks=1)
    assert plan.size == host.MAX_CHUNK_SYMBOLS and plan.count == 2


def test_chunk_plan_respects_free_memory():
    per = host.bytes_per_symbol(5_000, 1, 6, False)
    plan = host.plan_chunks(10_000, 5_000, 1, 6, False, free_bytes=200 * per * 2,
                            resident_symbols=32, max_chunks=4, memory_fraction=0.5)
    assert plan.size * per * plan.buffers <= 200 * per * 2 * 0.5
    assert plan.count * plan.size >= 10_000
    with pytest.raises(MemoryError, match="MiB"):
        host.plan_chunks(10, 10_000_000, 1, 6, False, free_bytes=2**30, resident_symbols=32)


def test_flags_and_bad_rows():
    flags = np.array([0, 1, 2, 4, 8, 5], dtype=np.uint8)
    al, ash, lo, sh = host.decode_flags(flags)
    assert list(al) == [0, 1, 0, 0, 0, 1] and list(ash) == [0, 0, 1, 0, 0, 0]
    assert list(lo) == [0, 0, 0, 1, 0, 1] and list(sh) == [0, 0, 0, 0, 1, 0]
    ff = np.array([0, 3, 0, 9, 10], dtype=np.int32)
    lnf = np.array([-1, 2, 5, -1, 9], dtype=np.int32)
    npos = np.array([10, 10, 10, 10, 10], dtype=np.int32)
    npos_bad = npos.copy()
    npos_bad[0] = 4
    assert list(host.bad_rows(ff, lnf, npos, 10)) == [False, False, True, True, True]
    assert host.bad_rows(ff, lnf, npos_bad, 10)[0]


class _FakeEvent:
    waits = 0

    def record(self, stream):
        self.stream = stream

    def synchronize(self):
        _FakeEvent.waits += 1


def _fake_cupy():
    import ctypes
    import types

    calls = []

    def memcpy_async(dst, src, size, kind, stream):
        assert kind == 1 and stream == 1234
        calls.append((dst, size))
        ctypes.memmove(dst, src, size)

    cp = types.SimpleNamespace()
    cp.cuda = types.SimpleNamespace(
        alloc_pinned_memory=lambda n: bytearray(n), Event=_FakeEvent,
        runtime=types.SimpleNamespace(memcpyAsync=memcpy_async, memcpyHostToDevice=1))
    return cp, calls


def test_pinned_stager_copies_every_byte_in_order():
    """Pieces through two alternating pinned buffers, each filled by several threads; a
    buffer is reused only after waiting for its previous DMA (CuPy faked: no GPU here)."""
    from types import SimpleNamespace

    from cuda_backend.launcher import PinnedStager

    cp, calls = _fake_cupy()
    stager = PinnedStager(cp, piece_bytes=4000, threads=3)
    src = np.random.default_rng(1).normal(size=(37, 301))          # 89,096 bytes: 23 pieces
    dst = np.zeros_like(src)
    _FakeEvent.waits = 0
    stager.copy(src, dst.ctypes.data, SimpleNamespace(ptr=1234))
    np.testing.assert_array_equal(dst, src)
    assert [size for _, size in calls] == [4000] * 22 + [src.nbytes - 22 * 4000]
    assert [d - dst.ctypes.data for d, _ in calls] == list(range(0, src.nbytes, 4000))
    assert _FakeEvent.waits == 21                                   # every piece after the first two
