"""Every kernel file compiles for sm_90 with NVRTC — no GPU or driver needed.

Skipped, with the reason, only where the nvidia-cuda-nvrtc-cu12 wheel (dev extra) is absent.
"""
from __future__ import annotations

import re

import pytest

from cuda_backend import host, nvrtc_check


@pytest.fixture(scope="module")
def nvrtc() -> nvrtc_check.Nvrtc:
    try:
        return nvrtc_check.Nvrtc()
    except nvrtc_check.NvrtcUnavailable as exc:
        pytest.skip(f"NVRTC unavailable: {exc}")


def test_there_are_kernel_files():
    names = {p.name for p in nvrtc_check.kernel_files()}
    assert names == set(host.KERNEL_FILES)


@pytest.mark.parametrize("name", host.KERNEL_FILES)
def test_kernel_file_compiles_for_sm90(nvrtc, name):
    report = nvrtc_check.compile_file(host.KERNEL_DIR / name, "sm_90", verbose=True, nvrtc=nvrtc)
    assert report.ok, report.log
    assert report.binary_size > 0
    kernels = dict(re.findall(r"Compiling entry function '(\w+)'.*?Used (\d+) registers", report.log, re.S))
    assert kernels, report.log
    for kernel, registers in kernels.items():
        assert kernel in host.KERNEL_SIGNATURES
        # The full kernels are built for 2 blocks of 192 threads per SM (launch bounds).
        limit = 168 if kernel.startswith("atc_full") else 255
        assert int(registers) <= limit, report.log


def test_screening_and_prepare_kernels_do_not_spill(nvrtc):
    for name in ("atc_ema_only.cu", "atc_prepare.cu"):
        report = nvrtc_check.compile_file(host.KERNEL_DIR / name, "sm_90", verbose=True, nvrtc=nvrtc)
        assert "0 bytes spill stores" in report.log and "0 bytes spill loads" in report.log, report.log


def test_runtime_module_source_compiles(nvrtc):
    """The single source CuPy compiles (headers inlined once) is valid as a whole."""
    source = host.module_source()
    assert source.count("struct AtcParams {") == 1
    assert '#include "' not in source
    ok, log, size = nvrtc.compile(source, "atc_module.cu",
                                  host.COMPILE_OPTIONS + ("--gpu-architecture=compute_90",))
    assert ok, log
    assert size > 0


def test_no_fused_multiply_add_in_the_kernels(nvrtc):
    """§4.8 rounds every operation: with the runtime's options (--fmad=false) the kernels'
    PTX holds no double FMA, while the same compiler contracts a*b+c without the option —
    so the check would see one."""
    probe = 'extern "C" __global__ void k(double* p) { p[0] = p[1] * p[2] + p[3]; }'
    arch = ("--gpu-architecture=compute_90",)
    assert "fma.rn.f64" in nvrtc.ptx(probe, "probe.cu", ("--std=c++17",) + arch)
    assert "fma.rn.f64" not in nvrtc.ptx(probe, "probe.cu", host.COMPILE_OPTIONS + arch)
    ptx = nvrtc.ptx(host.module_source(), "atc_module.cu", host.COMPILE_OPTIONS + arch)
    assert "mul.rn.f64" in ptx and "fma.rn.f64" not in ptx


def test_a_compile_error_returns_the_log(nvrtc):
    ok, log, size = nvrtc.compile('extern "C" __global__ void k() { undeclared(); }', "bad.cu",
                                  ("--gpu-architecture=sm_90",))
    assert not ok and size == 0
    assert "undeclared" in log


def test_command_line_reports_every_file(capsys, nvrtc):
    assert nvrtc_check.main(["sm_90"]) == 0
    out = capsys.readouterr().out
    for name in host.KERNEL_FILES:
        assert f"{name}: ok" in out
    assert "registers" in out
