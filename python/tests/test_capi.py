"""On-demand kernel generation through libFlashCAPI (no GPU: compile only,
and load into the runtime's fake driver)."""

import ctypes

import pytest

torch = pytest.importorskip("torch")

from conftest import compiler_or_skip, runtime_or_skip  # noqa: E402
from flash_mlir import CompileError, _kernels, _runtime  # noqa: E402


def test_compile_returns_ptx_and_metadata():
    compiler = compiler_or_skip()
    name, ptx, meta = compiler.compile(64, "f16", "causal", "sm_80")
    assert name == "flash_fwd_d64_f16_causal_sm_80"
    assert ptx.startswith(b"//")
    assert b".entry " + name.encode() in ptx
    assert b".target sm_80" in ptx
    assert meta["spec"] == {"kind": "forward", "head_dim": 64, "dtype": "f16",
                            "mask": "causal", "features": [], "chip": "sm_80"}
    assert meta["threads"] == 32 * meta["config"]["warps"]


def test_metadata_becomes_a_valid_kernel_info():
    compiler = compiler_or_skip()
    rt = runtime_or_skip()
    _, _, meta = compiler.compile(128, "bf16", "sliding_window", "sm_90a")
    info, name = _kernels.info_from_metadata(rt, meta)
    assert ctypes.string_at(name) == info.name
    assert info.name == b"flash_fwd_d128_bf16_sliding_window_sm_90a"
    assert info.spec.chip == 901 and info.spec.mask == 3
    assert info.smem_bytes == meta["smem_bytes"] > 0


def test_compile_block_sparse_kernel():
    compiler = compiler_or_skip()
    rt = runtime_or_skip()
    name, ptx, meta = compiler.compile(64, "bf16", "causal", "sm_90a",
                                       features=("block_sparse",))
    assert name == "flash_fwd_d64_bf16_causal_sparse_sm_90a"
    assert b".entry " + name.encode() in ptx
    assert meta["spec"]["features"] == ["block_sparse"]
    assert meta["params"][8:] == [
        "memref3:kv_num_blocks", "memref4:kv_indices",
        "memref3:full_kv_num_blocks", "memref4:full_kv_indices",
        "i64:layout_block_q", "i64:layout_block_kv"]
    info, _ = _kernels.info_from_metadata(rt, meta)
    assert info.spec.features == _runtime.FEATURES["block_sparse"]


def test_compile_error_names_the_field():
    compiler = compiler_or_skip()
    with pytest.raises(CompileError, match=r"chip must be one of sm_80"):
        compiler.compile(64, "f16", "none", "sm_70")
    with pytest.raises(CompileError, match=r"dtype must be f16 or bf16"):
        compiler.compile(64, "f32", "none", "sm_80")
    with pytest.raises(CompileError, match=r"unknown feature 'paged'; the "
                       r"features are block_sparse"):
        compiler.compile(64, "f16", "none", "sm_80", features=("paged",))
    with pytest.raises(CompileError,
                       match=r"no decode kernels are generated yet"):
        compiler.compile(64, "f16", "none", "sm_80", kind="decode")


def test_compile_with_plan_overrides():
    compiler = compiler_or_skip()
    _, _, meta = compiler.compile(64, "f16", "causal", "sm_80",
                                  options="cta-kv=32 stages=3")
    assert meta["config"]["cta_kv"] == 32
    assert meta["config"]["stages"] == 3
    with pytest.raises(CompileError, match=r"invalid plan for "
                       r"flash_fwd_d64_f16_causal_sm_80 with cta-q=96: "
                       r"cta-q must be a positive multiple of 16 x warps "
                       r"\(64\), got 96"):
        compiler.compile(64, "f16", "causal", "sm_80", options="cta-q=96")
    with pytest.raises(CompileError, match=r"bad convert-flash-to-gpu "
                       r"option 'stages=5': stages must be in \[2, 4\], "
                       r"got 5"):
        compiler.compile(64, "f16", "causal", "sm_80", options="stages=5")
    with pytest.raises(CompileError, match=r"bad convert-flash-to-gpu "
                       r"option 'tiles=2'"):
        compiler.compile(64, "f16", "causal", "sm_80", options="tiles=2")


def test_fake_driver_compiled_kernel_launch(python_env):
    compiler_or_skip()
    from test_runtime import run_fake
    out = run_fake("compile", python_env)
    assert "SOURCE compiled flash_fwd_d64_f16_causal_sm_90a" in out
    assert "cuLaunchKernel 'flash_fwd_d64_f16_causal_sm_90a' grid=(" in out
    assert "CACHED True" in out
