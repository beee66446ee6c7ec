"""The ctypes bindings of libFlashRuntime: struct layouts against the C
header, round trips through the library, manifests and selection, tensor
descriptors through the runtime's validation, and (in a subprocess, with
the runtime's fake CUDA driver) kernel loading and the launch parameters."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from conftest import SOURCE_ROOT, build_path, runtime_or_skip  # noqa: E402
from flash_mlir import RuntimeLibraryError, _runtime, _kernels  # noqa: E402

INPUT_LIB = os.path.join(SOURCE_ROOT, "test", "Runtime", "Inputs", "lib")

LAYOUT_PROGRAM = r"""
#include "flash/Runtime/Runtime.h"
#include <stdio.h>
#include <stddef.h>
#define S(T) printf(#T " size %zu\n", sizeof(T))
#define F(T, f) printf(#T " " #f " %zu\n", offsetof(T, f))
int main(void) {
  S(flashrt_spec); F(flashrt_spec, head_dim); F(flashrt_spec, dtype);
  F(flashrt_spec, mask); F(flashrt_spec, features); F(flashrt_spec, chip);
  F(flashrt_spec, kind);
  S(flashrt_kernel_info); F(flashrt_kernel_info, name);
  F(flashrt_kernel_info, spec); F(flashrt_kernel_info, cta_q);
  F(flashrt_kernel_info, cta_kv); F(flashrt_kernel_info, warps);
  F(flashrt_kernel_info, stages); F(flashrt_kernel_info, threads);
  F(flashrt_kernel_info, smem_bytes);
  S(flashrt_selection); F(flashrt_selection, index);
  F(flashrt_selection, image);
  S(flashrt_tensor); F(flashrt_tensor, data); F(flashrt_tensor, dtype);
  F(flashrt_tensor, rank); F(flashrt_tensor, sizes);
  F(flashrt_tensor, strides);
  S(flashrt_block_layout); F(flashrt_block_layout, kv_num_blocks);
  F(flashrt_block_layout, kv_indices);
  F(flashrt_block_layout, full_kv_num_blocks);
  F(flashrt_block_layout, full_kv_indices);
  F(flashrt_block_layout, block_q); F(flashrt_block_layout, block_kv);
  printf("FLASHRT_ABI_VERSION value %d\n", FLASHRT_ABI_VERSION);
  printf("FLASHRT_KIND_BACKWARD value %d\n", FLASHRT_KIND_BACKWARD);
  printf("FLASHRT_FEATURE_BLOCK_SPARSE value %u\n",
         FLASHRT_FEATURE_BLOCK_SPARSE);
  return 0;
}
"""

STRUCTS = {"flashrt_spec": _runtime.Spec,
           "flashrt_kernel_info": _runtime.KernelInfo,
           "flashrt_selection": _runtime.Selection,
           "flashrt_tensor": _runtime.Tensor,
           "flashrt_block_layout": _runtime.BlockLayout}


def c_layout(program, include_dirs, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "layout.c"
    src.write_text(program)
    exe = tmp_path / "layout"
    subprocess.run([cc, "-o", str(exe), str(src)] +
                   [f"-I{d}" for d in include_dirs], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    return [line.split() for line in out.splitlines()]


def test_struct_layouts_match_the_header(tmp_path):
    rows = c_layout(LAYOUT_PROGRAM, [os.path.join(SOURCE_ROOT, "include")],
                    tmp_path)
    assert len(rows) == 35
    constants = {"FLASHRT_ABI_VERSION": _runtime.ABI_VERSION,
                 "FLASHRT_KIND_BACKWARD": _runtime.KINDS["backward"],
                 "FLASHRT_FEATURE_BLOCK_SPARSE":
                     _runtime.FEATURES["block_sparse"]}
    for struct, member, value in rows:
        if member == "value":
            assert constants[struct] == int(value), struct
            continue
        cls = STRUCTS[struct]
        got = (ctypes.sizeof(cls) if member == "size"
               else getattr(cls, member).offset)
        assert got == int(value), (struct, member)


MANIFEST = {
    "version": 2,
    "kernels": [{
        "name": "flash_fwd_d96_bf16_sliding_window_sm_90a",
        "ptx": "k.ptx",
        "spec": {"kind": "forward", "head_dim": 96, "dtype": "bf16",
                 "mask": "sliding_window", "features": [], "chip": "sm_90a"},
        "config": {"cta_q": 128, "cta_kv": 32, "warps": 8, "stages": 3},
        "threads": 256,
        "smem_bytes": 77824,
    }],
}


def test_kernel_info_round_trip():
    rt = runtime_or_skip()
    text = json.dumps(MANIFEST).encode()
    handle = ctypes.c_void_p()
    rt.check(rt.library_parse(text, len(text), b"/nowhere",
                              ctypes.byref(handle)), "parse")
    try:
        assert rt.library_size(handle) == 1
        info = _runtime.KernelInfo()
        rt.check(rt.library_info(handle, 0, ctypes.byref(info)), "info")
        assert info.name == b"flash_fwd_d96_bf16_sliding_window_sm_90a"
        assert (info.spec.kind, info.spec.head_dim, info.spec.dtype,
                info.spec.mask, info.spec.features, info.spec.chip) == (
                    0, 96, _runtime.DTYPE_BF16, 3, 0, 901)
        assert (info.cta_q, info.cta_kv, info.warps, info.stages,
                info.threads, info.smem_bytes) == (128, 32, 8, 3, 256, 77824)
        assert rt.library_has_ptx(handle, 0) == 1
        assert rt.library_has_cubin(handle, 0) == 0
        rt.check(rt.kernel_info_check(ctypes.byref(info)), "check")
        selection = _runtime.Selection()
        rt.check(rt.library_select(handle, ctypes.byref(info.spec), 900,
                                   ctypes.byref(selection)), "select")
        assert (selection.index, selection.image) == (0, _runtime.IMAGE_PTX)
        assert rt.spec_symbol(info.spec) == info.name.decode()
    finally:
        rt.library_destroy(handle)


def test_abi_version():
    rt = runtime_or_skip()
    assert rt.abi_version() == _runtime.ABI_VERSION == 4


class _FakeAbi:
    """A stand-in for a loaded library that reports `version` (None: a
    library of version 1, which has no flashrt_abi_version)."""

    def __init__(self, version):
        if version is not None:
            self.flashrt_abi_version = lambda: version


@pytest.mark.parametrize("version", [None, 3, 5])
def test_abi_version_mismatch_names_both(version):
    with pytest.raises(_runtime.AbiVersionError,
                       match=rf"libold.so has ABI version {version or 1}, "
                             r"but this flash_mlir needs version 4"):
        _runtime._check_abi_version(_FakeAbi(version), "libold.so")
    _runtime._check_abi_version(_FakeAbi(4), "libnew.so")


def test_make_spec_kind_and_features():
    spec = _kernels.make_spec(64, "f16", "none", features=("block_sparse",))
    assert (spec.kind, spec.features) == (0, 1)
    spec = _kernels.make_spec(64, "f16", "none", kind="backward")
    assert (spec.kind, spec.features) == (1, 0)
    with pytest.raises(ValueError, match=r"unknown kernel feature 'paged'; "
                                         r"the features are block_sparse"):
        _kernels.make_spec(64, "f16", "none", features=("paged",))


def test_chips():
    rt = runtime_or_skip()
    assert rt.chip_parse("sm_90a") == 901
    assert rt.chip_name(860) == "sm_86"
    assert rt.chip_runs(900, 800, 1) == 1
    assert rt.chip_runs(900, 800, 0) == 0
    with pytest.raises(RuntimeLibraryError, match=r"INVALID_ARGUMENT"):
        rt.chip_parse("sm_x")


def test_library_open_and_select():
    runtime_or_skip()
    lib = _kernels.KernelLibrary(INPUT_LIB)
    assert "flash_fwd_d64_f16_causal_sm_90a" in lib.names()
    spec = _kernels.make_spec(64, "f16", "causal")
    info, image = lib.select(spec, 900)
    assert info.name == b"flash_fwd_d64_f16_causal_sm_90a"
    info, image = lib.select(spec, 860)
    assert info.name == b"flash_fwd_d64_f16_causal_sm_80"
    assert lib.select(_kernels.make_spec(32, "f16", "none"), 900) is None


def test_bad_manifest_is_reported(tmp_path):
    runtime_or_skip()
    (tmp_path / "manifest.json").write_text('{"version": 3, "kernels": []}')
    with pytest.raises(RuntimeLibraryError, match=r"MANIFEST: .*version: "
                       r"expected 1 or 2 \(the versions this runtime "
                       r"reads\), got 3"):
        _kernels.KernelLibrary(str(tmp_path))
    with pytest.raises(RuntimeLibraryError, match=r"IO"):
        _kernels.KernelLibrary(str(tmp_path / "missing"))


def test_set_kernel_dir_validates(tmp_path):
    runtime_or_skip()
    with pytest.raises(RuntimeLibraryError, match=r"IO"):
        _kernels.set_kernel_dir(str(tmp_path))
    _kernels.set_kernel_dir(INPUT_LIB)
    try:
        assert _kernels.kernel_dir() == INPUT_LIB
    finally:
        _kernels.set_kernel_dir(None)


def validate(q, k, v, o, lse, scale=0.125):
    """flashrt_validate_forward on descriptors of CPU tensors (it checks
    shapes, strides and alignment; it never dereferences)."""
    from flash_mlir._attention import _DTYPES, _descriptor
    rt = runtime_or_skip()
    lib = _kernels.KernelLibrary(INPUT_LIB)
    info, _ = lib.select(_kernels.make_spec(64, "f16", "causal"), 900)
    code = _DTYPES[q.dtype][1]
    ts = [_descriptor(t, code) for t in (q, k, v, o)]
    ts.append(_descriptor(lse, _runtime.DTYPE_F32))
    rt.check(rt.validate_forward(ctypes.byref(info),
                                 *(ctypes.byref(t) for t in ts), scale, 0, 0),
             "validate")


def test_descriptors_of_strided_tensors_validate():
    from flash_mlir._attention import empty_like_layout
    b, hq, hkv, lq, lk = 2, 4, 2, 33, 47
    # [B, L, H, D] storage seen as [B, H, L, D], and a GQA key.
    q = torch.zeros(b, lq, hq, 64, dtype=torch.float16).transpose(1, 2)
    k = torch.zeros(b, lk, hkv, 64, dtype=torch.float16).transpose(1, 2)
    v = torch.zeros(b, hkv, lk, 64, dtype=torch.float16)
    o = empty_like_layout(q)
    assert o.stride() == q.stride()
    lse = torch.zeros(b, hq, lq)
    validate(q, k, v, o, lse)
    odd = torch.zeros(b, hkv, lk, 68, dtype=torch.float16)[..., :64]
    with pytest.raises(RuntimeLibraryError,
                       match=r"TENSOR_STRIDE: k: strides\[1\] is 3196, "
                             r"expected a multiple of 8"):
        validate(q, odd, v, o, lse)
    three = k[:, :1].expand(b, 3, lk, 64)
    with pytest.raises(RuntimeLibraryError,
                       match=r"TENSOR_SHAPE: k: sizes\[1\] \(Hkv\) is 3"):
        validate(q, three, v, o, lse)


def validate_sparse(layout, q, k, lse):
    """flashrt_validate_forward_sparse on descriptors of CPU tensors and a
    _layout.Layout, for the stand-in sparse d64 f16 kernel (64-row, 64-key
    tiles)."""
    from flash_mlir import _layout
    from flash_mlir._attention import _descriptor
    rt = runtime_or_skip()
    lib = _kernels.KernelLibrary(INPUT_LIB)
    info, _ = lib.select(_kernels.make_spec(64, "f16", "none",
                                            features=("block_sparse",)), 800)
    struct, keepalive = _layout.descriptors(layout)
    ts = [_descriptor(t, _runtime.DTYPE_F16) for t in (q, k, k, q)]
    ts.append(_descriptor(lse, _runtime.DTYPE_F32))
    rt.check(rt.validate_forward_sparse(
        ctypes.byref(info), *(ctypes.byref(t) for t in ts), 0.125, 0, 0,
        ctypes.byref(struct)), "validate")
    del keepalive


def test_block_layout_descriptors_validate():
    import flash_mlir
    from flash_mlir import _layout
    q = torch.zeros(2, 4, 100, 64, dtype=torch.float16)
    k = torch.zeros(2, 2, 120, 64, dtype=torch.float16)
    lse = torch.zeros(2, 4, 100)
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: j <= i, None, 4,
                                        100, 120, block=(64, 64))
    layout = _layout.check_block_mask(mask, 2, 4, 100, 120)
    validate_sparse(layout, q, k, lse)
    validate_sparse(layout._replace(full_kv_num_blocks=None,
                                    full_kv_indices=None), q, k, lse)
    # What the Python checks would have refused, the runtime refuses too.
    with pytest.raises(RuntimeLibraryError,
                       match=r"TENSOR_SHAPE: full_kv_indices: sizes\[3\] "
                             r"\(N\) is 0, expected at least 1"):
        validate_sparse(layout._replace(
            full_kv_indices=layout.full_kv_indices[..., :0]), q, k, lse)


def test_abi_ready_copies_misaligned_tensors():
    from flash_mlir._attention import _abi_ready
    base = torch.zeros(2 * 4 * 16 * 64 + 4, dtype=torch.float16)
    t = base[4:].view(2, 4, 16, 64)  # 8-byte offset
    assert t.data_ptr() % 16 != 0
    fixed = _abi_ready(t)
    assert fixed.data_ptr() % 16 == 0 and torch.equal(fixed, t)
    odd = torch.zeros(2, 4, 16, 68, dtype=torch.float16)[..., :64]
    fixed = _abi_ready(odd)
    assert fixed.stride() == (4096, 1024, 64, 1)
    fine = torch.zeros(2, 16, 4, 64, dtype=torch.float16).transpose(1, 2)
    assert _abi_ready(fine) is fine


FAKE_SCRIPT = textwrap.dedent(r"""
    import sys
    import torch
    import flash_mlir
    from flash_mlir import _attention, _capi, _kernels, _spec

    mode = sys.argv[1]
    if mode != "compile":
        _capi.get_compiler = lambda: None
    if mode == "directory":
        flash_mlir.set_kernel_dir(sys.argv[2])
    try:
        kernel = _kernels.get_kernel(0, 64, "f16", "causal")
    except flash_mlir.KernelNotFoundError as err:
        print("ERROR", err, flush=True)
        sys.exit(0)
    print("SOURCE", kernel.source, kernel.info.name.decode(), flush=True)
    q = torch.zeros(2, 100, 4, 64, dtype=torch.float16).transpose(1, 2)
    k = torch.zeros(2, 2, 120, 64, dtype=torch.float16)
    v = torch.zeros(2, 2, 120, 64, dtype=torch.float16)
    o = _attention.empty_like_layout(q)
    lse = torch.empty(2, 4, 100)
    call = _spec.KernelCall(64, "f16", "causal", (0, 0), 0.125)
    sys.stdout.flush()
    _attention.launch(kernel, q, k, v, o, lse, call, None)
    again = _kernels.get_kernel(0, 64, "f16", "causal")
    print("CACHED", again is kernel, flush=True)
""")


FAKE_SPARSE_SCRIPT = textwrap.dedent(r"""
    import sys
    import torch
    import flash_mlir
    from flash_mlir import _attention, _capi, _kernels, _layout, _spec

    _capi.get_compiler = lambda: None
    flash_mlir.set_kernel_dir(sys.argv[2])
    kernel = _kernels.get_kernel(0, 64, "f16", "none", ("block_sparse",))
    print("SOURCE", kernel.info.name.decode(), flush=True)
    q = torch.zeros(2, 4, 100, 64, dtype=torch.float16)
    k = torch.zeros(2, 2, 120, 64, dtype=torch.float16)
    o = torch.empty_like(q)
    lse = torch.empty(2, 4, 100)
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: j <= i, None, 4,
                                        100, 120, block=(64, 64))
    layout = _layout.check_block_mask(mask, 2, 4, 100, 120)
    _layout.check_kernel_fits(kernel.info, layout)
    call = _spec.KernelCall(64, "f16", "none", (0, 0), 0.125, layout)
    sys.stdout.flush()
    _attention.launch(kernel, q, k, k, o, lse, call, None)
    sys.stdout.flush()
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: j <= i, None, None,
                                        100, 120, block=(64, 32))
    try:
        _layout.check_kernel_fits(
            kernel.info, _layout.check_block_mask(mask, 2, 4, 100, 120))
    except flash_mlir.UnsupportedError as err:
        print("UNSUPPORTED", err, flush=True)
""")


def run_fake(mode, python_env, *args, cc="90", script=FAKE_SCRIPT):
    fake = build_path("FAKE_CUDA_DRIVER")
    if not fake or not os.path.exists(fake):
        pytest.skip("the fake CUDA driver (a build-tree test library) is "
                    "not available")
    runtime_or_skip()
    env = dict(python_env, FLASHRT_CUDA_DRIVER=fake, FAKE_CUDA_CC=cc)
    env.pop("FLASH_MLIR_KERNELS", None)
    proc = subprocess.run([sys.executable, "-c", script, mode, *args],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_fake_driver_sparse_launch(python_env):
    out = run_fake("sparse", python_env, INPUT_LIB, script=FAKE_SPARSE_SCRIPT)
    assert "SOURCE flash_fwd_d64_f16_none_sparse_sm_80" in out
    # 120 keys: 2 blocks of one 64-key tile, the end marker, 2 bitmaps of
    # one word: 20 bytes beyond the kernel's 24576.
    assert ("cuLaunchKernel 'flash_fwd_d64_f16_none_sparse_sm_80' "
            "grid=(2, 4, 2) block=(128, 1, 1) smem=24596") in out
    params = {line.split()[1].rstrip(":"): line for line in out.splitlines()
              if line.startswith("fake:   ")}
    # The mask is shared by the batch: stride 0 there. Causal 64 x 64 tiles
    # of 100 x 120: each row has one partial tile (its diagonal), the second
    # one full tile; so N = 1 for both lists.
    expected = {
        "kv_num_blocks": "sizes=[1, 4, 2] strides=[0, 2, 1]",
        "kv_indices": "sizes=[1, 4, 2, 1] strides=[0, 2, 1, 0]",
        "full_kv_num_blocks": "sizes=[1, 4, 2] strides=[0, 2, 1]",
        "full_kv_indices": "sizes=[1, 4, 2, 1] strides=[0, 2, 1, 0]"}
    for name, text in expected.items():
        assert "offset=0 " + text in params[name], params[name]
    assert "layout_block_q=64 layout_block_kv=64" in out
    assert ("UNSUPPORTED block_mask: block size (64, 32) does not fit kernel "
            "flash_fwd_d64_f16_none_sparse_sm_80, whose CTAs take 64 query "
            "rows (cta_q) and 64-key tiles (cta_kv)") in out


def test_fake_driver_directory_load_and_launch(python_env):
    out = run_fake("directory", python_env, INPUT_LIB)
    assert f"SOURCE directory {INPUT_LIB} flash_fwd_d64_f16_causal_sm_90a" \
        in out
    assert "cuLaunchKernel 'flash_fwd_d64_f16_causal_sm_90a' grid=(1, 4, 2)" \
        in out
    params = {line.split()[1].rstrip(":"): line for line in out.splitlines()
              if line.startswith("fake:   ")}
    # q is [B, L, H, D] storage: strides (L*H*D, D, H*D, 1).
    expected = {"q": "sizes=[2, 4, 100, 64] strides=[25600, 64, 256, 1]",
                "k": "sizes=[2, 2, 120, 64] strides=[15360, 7680, 64, 1]",
                "o": "sizes=[2, 4, 100, 64] strides=[25600, 64, 256, 1]",
                "lse": "sizes=[2, 4, 100] strides=[400, 100, 1]"}
    for name, text in expected.items():
        assert "offset=0 " + text in params[name]
    assert "scale_log2=0.180336878 window_left=0 window_right=0" in out
    assert "CACHED True" in out


def test_fake_driver_no_kernel_anywhere(python_env):
    out = run_fake("none", python_env)
    assert "ERROR no kernel for head_dim=64 dtype=f16 mask=causal on sm_90" \
        in out
    assert "no kernel directory is set" in out
    assert "--head-dim=64 --dtype=f16 --mask=causal" in out
    assert "FLASH_MLIR_KERNELS=DIR" in out


def test_fake_driver_directory_lacks_kernel(python_env, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(INPUT_LIB, lib)
    manifest = json.loads((lib / "manifest.json").read_text())
    manifest["kernels"] = [e for e in manifest["kernels"]
                           if e["spec"]["mask"] != "causal"]
    (lib / "manifest.json").write_text(json.dumps(manifest))
    out = run_fake("directory", python_env, str(lib))
    assert f"the kernel directory {lib} lacks it (it has " \
           "flash_fwd_d128_bf16_none_sm_80" in out
