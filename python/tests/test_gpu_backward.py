"""Gradients of flash_mlir.attention on a GPU against float64 autograd of
the reference: dQ, dK and dV each within 2x (+ 1e-4) of eager PyTorch's
error in the same dtype, measured against max(||ref||, 0.01 ||dO||); a
gradient of the returned lse flows too.

Run with FLASH_MLIR_KERNELS=<flash-aot dir with backward kernels> and
FLASH_MLIR_RUNTIME=<path to libFlashRuntime.so>; FLASH_MLIR_GPU_CASES sets
the number of random cases.
"""

import os

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from gpu_util import (call_kwargs, gradient_case_inputs, have,  # noqa: E402
                      kernel_specs, make, random_gradient_cases)
from reference import (eager, gradient_errors, gradients,  # noqa: E402
                       reference, visibility)

import flash_mlir  # noqa: E402

pytestmark = requires_cuda

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def check_case(c):
    dtype = DTYPES[c["dtype"]]
    q, k, v, dout, dlse, scale = gradient_case_inputs(c, dtype)
    gqa = c["Hq"] != c["Hkv"]

    def ours(q, k, v):
        return flash_mlir.attention(q, k, v, enable_gqa=gqa, return_lse=True,
                                    **call_kwargs(c["mask"], c["window"]))

    got = gradients(ours, (q, k, v), dout, dlse)
    vis = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], "cuda")
    ref = gradients(lambda *t: reference(*t, vis, scale), (q, k, v), dout,
                    dlse)
    low = gradients(lambda *t: eager(*t, vis, scale), (q, k, v), dout, dlse)
    for grad, t in zip(got, (q, k, v)):
        assert grad.shape == t.shape and grad.dtype == dtype
    for name, err, err_torch, finite in gradient_errors(got, ref, low, dout):
        assert finite, f"d{name} has non-finite entries ({c})"
        assert err <= 2 * err_torch + 1e-4, \
            f"d{name}: error {err:.3g} > 2 x torch's {err_torch:.3g} ({c})"


def random_cases(n, seed):
    return random_gradient_cases(n, seed, kernel_specs())


SEED = int(os.environ.get("FLASH_MLIR_GPU_SEED", "4321"))
COUNT = int(os.environ.get("FLASH_MLIR_GPU_CASES", "40"))


@pytest.mark.parametrize("index", range(COUNT))
def test_random_case(index):
    # The inputs too are drawn from the seed: a failure reproduces alone.
    torch.manual_seed(SEED + index)
    check_case(random_cases(COUNT, SEED)[index])


def test_attention_backward_matches_autograd():
    """attention_backward, the autograd-free entry, gives what autograd
    gives through attention: dK and dV bit for bit (the same kernels), dQ
    up to the order of its f32 atomic additions."""
    q, k, v = (torch.randn(2, 4, 150, 64, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    dout = torch.randn_like(q)
    dlse = torch.randn(2, 4, 150, device="cuda")
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out, lse = flash_mlir.attention(*leaves, is_causal=True, return_lse=True)
    expected = torch.autograd.grad((out, lse), leaves, (dout, dlse))
    got = flash_mlir.attention_backward(dout, q, k, v, out.detach(),
                                        lse.detach(), dlse=dlse,
                                        is_causal=True)
    torch.testing.assert_close(got[0], expected[0], rtol=1e-2, atol=1e-3)
    assert torch.equal(got[1], expected[1])
    assert torch.equal(got[2], expected[2])
    with pytest.raises(flash_mlir.UnsupportedError, match="dout: shape"):
        flash_mlir.attention_backward(dout[:, :2], q, k, v, out, lse)


@pytest.mark.parametrize("mask", ["none", "causal", "sliding_window"])
def test_deterministic_mode_is_bitwise_reproducible(mask):
    """Under torch.use_deterministic_algorithms the CTAs add their parts of
    dQ in key-tile order: two backward passes give the same bits (without
    it, dQ's f32 atomics over 16 key tiles land in any order), and the same
    gradients as without it: dK and dV bit for bit, dQ up to the order of
    its additions."""
    if not have(kernel_specs(), 64, "bf16", mask):
        pytest.skip(f"no backward kernel for D 64 bf16 {mask}")
    torch.manual_seed(7)
    q = make(2, 4, 333, 64, torch.bfloat16, "blhd")
    k, v = (make(2, 2, 2000, 64, torch.bfloat16, "blhd") for _ in "kv")
    dout = torch.randn(2, 4, 333, 64, device="cuda", dtype=torch.bfloat16)
    dlse = torch.randn(2, 4, 333, device="cuda")
    kwargs = dict(enable_gqa=True, **call_kwargs(mask, (300, 100)))
    out, lse = flash_mlir.attention(q, k, v, return_lse=True, **kwargs)

    def grads():
        return flash_mlir.attention_backward(dout, q, k, v, out, lse,
                                             dlse=dlse, **kwargs)

    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        runs = [grads() for _ in range(2)]
    finally:
        torch.use_deterministic_algorithms(previous)
    for first, second in zip(*runs):
        assert torch.equal(first, second)
    plain = grads()
    torch.testing.assert_close(runs[0][0], plain[0], rtol=1e-2, atol=1e-3)
    assert torch.equal(runs[0][1], plain[1])
    assert torch.equal(runs[0][2], plain[2])


def test_no_keys_gives_zero_gradients():
    q = torch.randn(1, 2, 5, 64, device="cuda", dtype=torch.float16,
                    requires_grad=True)
    k = torch.randn(1, 2, 0, 64, device="cuda", dtype=torch.float16,
                    requires_grad=True)
    v = torch.randn_like(k, requires_grad=True)
    flash_mlir.attention(q, k, v).float().sum().backward()
    assert torch.equal(q.grad, torch.zeros_like(q))
    assert k.grad.shape == k.shape


def test_block_mask_backward_is_refused():
    q = torch.randn(1, 1, 128, 64, device="cuda", dtype=torch.float16,
                    requires_grad=True)
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: i >= 0, 1, 1, 128,
                                        128, device="cuda")
    out = flash_mlir.attention(q, q, q, block_mask=mask)
    with pytest.raises(flash_mlir.UnsupportedError,
                       match="no backward pass for block_mask calls"):
        out.float().sum().backward()
