"""The host side of the CUDA backend: signatures, constants, growth table, chunk plan."""
from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest

from core.atc.equity import growth_factor
from core.atc.moving_averages import ema, lsma, wma
from core.config import ATCConfig
from core.kernel_params import KernelParams
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


def params(config: ATCConfig = ATCConfig(), mode: str = "full") -> KernelParams:
    return KernelParams.from_config(config, mode)


def test_params_layout_matches_the_struct(emu_lib):
    lib = ctypes.CDLL(str(emu_lib))
    lib.emu_params_size.restype = ctypes.c_size_t
    assert lib.emu_params_size() == host.PARAMS_DTYPE.itemsize
    assert host.MEMBER_DTYPE.itemsize == 40
    assert host.call_params(params()).nbytes == host.PARAMS_DTYPE.itemsize


def test_member_constants_are_the_references_values():
    """α, the WMA norm and LINREG's sx and den as §4.8 (and the reference) compute them:
    the reference's MAs rebuilt from these constants are bit-identical."""
    config = ATCConfig(robustness="Wide", hma_kind="hull", hull_len=31, lsma_len=8, wma_len=19)
    rec, _ = host.member_constants(params(config))
    lengths = config.member_lengths().reshape(-1)
    assert (rec["n"] == lengths).all()
    x = np.round(np.linspace(50.0, 80.0, 60) ** 1.3, 2)
    for i in (0, 4, 8):                                        # EMA members: α
        n = int(lengths[i])
        assert rec["k0"][i] == 2.0 / (n + 1)
        e = ema(x, n)
        assert e[n] == e[n - 1] + rec["k0"][i] * (x[n] - e[n - 1])
    for i in range(18, 27):                                    # WMA: norm = 1 + … + n
        n = int(lengths[i])
        assert rec["k0"][i] == n * (n + 1) / 2
        acc = 0.0
        for p, y in enumerate(x[:n], start=1):
            acc = acc + y * p
        assert acc / rec["k0"][i] == wma(x, n)[n - 1]
    for i in range(36, 45):                                    # LSMA: sx and den
        n = int(lengths[i])
        sx, sx2 = float(n * (n + 1) // 2), float(n * (n + 1) * (2 * n + 1) // 6)
        assert rec["k0"][i] == sx and rec["k1"][i] == n * sx2 - sx * sx
        if n == 1:                                             # linreg of one bar is x
            continue
        sy = sxy = 0.0
        for p, y in enumerate(x[:n], start=1):
            sy, sxy = sy + y, sxy + y * p
        slope = (n * sxy - sx * sy) / rec["k1"][i]
        value = ((sy / n - (slope * sx) / n) + slope) + slope * (n - 1.0)
        assert value == lsma(x, n)[n - 1]
    hull = rec[9:18]
    assert (hull["n1"] == np.maximum(1, lengths[9:18] // 2)).all()
    assert (hull["n2"] == np.floor(np.sqrt(lengths[9:18]))).all()


@pytest.mark.parametrize("hma_kind", ["sma", "hull"])
def test_scratch_ring_regions_do_not_overlap(hma_kind):
    """HMA (math.sum's ring or Hull's raw values), DEMA and KAMA members each own their rows;
    EMA-only mode needs none."""
    config = ATCConfig(robustness="Medium", hma_kind=hma_kind, hull_len=20, dema_len=9, kama_len=30)
    rec, rows = host.member_constants(params(config))
    lengths = config.member_lengths()
    regions = []
    for f in (1, 3, 5):
        for m in range(9):
            size = host.HULL_RING if (f == 1 and hma_kind == "hull") else int(lengths[f, m])
            regions.append((int(rec["off"][f * 9 + m]), size))
    regions.sort()
    assert regions[0][0] == 0
    for (o1, s1), (o2, _) in zip(regions, regions[1:]):
        assert o2 == o1 + s1
    assert rows == regions[-1][0] + regions[-1][1] == host.ring_rows(params(config))
    assert host.ring_rows(params(config, "ema_only")) == 0


def test_call_params_carry_the_config():
    config = ATCConfig(De=0.2, cutout=12, strategy=True, colbase="KAMA", alertbase="WMA",
                       long_threshold=0.3, short_threshold=-0.2, cut_threshold=0.35, kama_w=2.5)
    p = np.frombuffer(host.call_params(params(config)).tobytes(), dtype=host.PARAMS_DTYPE)[0]
    assert p["decay"] == 1.0 - config.delta
    assert (p["cutout"], p["strategy"], p["colbase"], p["alertbase"]) == (12, 1, 6, 3)
    assert (p["long_thr"], p["short_thr"], p["cut_thr"]) == (0.3, -0.2, 0.35)
    assert list(p["weights"]) == list(config.weights())


def test_host_has_no_constants_of_its_own():
    """Item 6: the growth factor on the last bar and the mode's family count come from
    core.kernel_params, not from host copies."""
    assert not hasattr(host, "growth_factor_last") and not hasattr(host, "families_of")
    assert "--fmad=false" in host.COMPILE_OPTIONS


@pytest.mark.parametrize("cutout", [0, 7])
def test_growth_table_is_the_references_growth_factor(cutout):
    config = ATCConfig(La=0.37, cutout=cutout)
    table = host.growth_table(params(config), 3000)
    ref = growth_factor(3000, config.lam, cutout)
    assert table.shape == (3000 - cutout,)
    assert np.array_equal(table, ref[cutout:])                 # bit for bit


def test_chunk_plan_fills_the_device_and_pipelines():
    plan = host.plan_chunks(10_000, 5_000, 1, 6, 756, free_bytes=70 * 2**30,
                            resident_symbols=264 * 32, max_chunks=4)
    assert plan.size % 32 == 0 and plan.size >= 264 * 32        # never below one wave
    assert plan.count == -(-10_000 // plan.size) and plan.buffers == 2
    small = host.plan_chunks(100, 5_000, 1, 6, 756, 70 * 2**30, 264 * 32)
    assert (small.size, small.count, small.buffers) == (128, 1, 1)


def test_chunk_plan_respects_the_grid_limit():
    plan = host.plan_chunks(3_000_000, 4, 1, 1, 0, free_bytes=80 * 2**30,
                            resident_symbols=264 * 32, max_chunks=1)
    assert plan.size == host.MAX_CHUNK_SYMBOLS and plan.count == 2


def test_chunk_plan_respects_free_memory():
    per = host.bytes_per_symbol(5_000, 1, 6, 756)
    assert per == host.bytes_per_symbol(5_000, 1, 6, 0) + 756 * 8          # the scratch ring
    plan = host.plan_chunks(10_000, 5_000, 1, 6, 756, free_bytes=200 * per * 2,
                            resident_symbols=32, max_chunks=4, memory_fraction=0.5)
    assert plan.size * per * plan.buffers <= 200 * per * 2 * 0.5
    assert plan.count * plan.size >= 10_000
    with pytest.raises(MemoryError, match="MiB"):
        host.plan_chunks(10, 10_000_000, 1, 6, 756, free_bytes=2**30, resident_symbols=32)


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

    from cuda_backend.cupy_executor import PinnedStager

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
