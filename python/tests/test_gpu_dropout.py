"""Attention dropout through flash_mlir.attention on a GPU: the output and
the gradients dQ, dK and dV against float64 autograd of the reference with
the mask flash_mlir.dropout_mask gives for the call's seed and offset, each
within 2x (+ 1e-4) of the larger of two errors with that mask: eager
PyTorch's in the same dtype, and that of the backward's formulas in
float64 with delta from the output rounded to the dtype (the rounding that
FlashAttention's backward, which reads the stored output, cannot avoid:
with dropout, the output of a row that sees one key is no longer exact in
the dtype, where the true dQ is 0). The lse is the softmax's before
dropout; a seed reproduces a call bit for bit and each call draws a new
mask.

Run with FLASH_MLIR_KERNELS=<flash-aot dir with dropout kernels> and
FLASH_MLIR_RUNTIME=<path to libFlashRuntime.so>; FLASH_MLIR_GPU_CASES sets
the number of random cases.
"""

import math
import os

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from gpu_util import (call_kwargs, gradient_case_inputs,  # noqa: E402
                      kernel_specs, random_gradient_cases)
from reference import (eager, gradient_errors, gradients,  # noqa: E402
                       reference, rel_error, visibility)

import flash_mlir  # noqa: E402
from flash_mlir import _dropout  # noqa: E402

pytestmark = requires_cuda

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def generator():
    return torch.cuda.default_generators[torch.cuda.current_device()]


def call_with_mask(c, fn):
    """fn() under the current generator state, and the dropout multipliers
    (0 or 1 / keep, [B, Hq, Lq, Lk]) that the call's seed and offset give."""
    seed, offset = generator().initial_seed(), generator().get_offset()
    result = fn()
    keep = flash_mlir.dropout_mask(seed, offset, c["p"], c["B"], c["Hq"],
                                   c["Lq"], c["Lk"], device="cuda")
    return result, keep.double() * _dropout.kept_scale(c["p"])


def check_case(c):
    dtype = DTYPES[c["dtype"]]
    q, k, v, dout, dlse, scale = gradient_case_inputs(c, dtype)
    gqa = c["Hq"] != c["Hkv"]

    def ours(q, k, v):
        return flash_mlir.attention(q, k, v, enable_gqa=gqa, return_lse=True,
                                    dropout_p=c["p"],
                                    **call_kwargs(c["mask"], c["window"]))

    vis = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], "cuda")
    (out, lse), drop = call_with_mask(c, lambda: ours(q, k, v))
    ref_out, ref_lse = reference(q, k, v, vis, scale, drop)
    low_out, _ = eager(q, k, v, vis, scale, drop)
    err, err_torch = rel_error(out, ref_out), rel_error(low_out, ref_out)
    assert err <= 2 * err_torch + 1e-4, \
        f"out: error {err:.3g} > 2 x torch's {err_torch:.3g} ({c})"
    # The lse is the softmax's, before dropout.
    fin = ~torch.isneginf(ref_lse)
    assert torch.equal(torch.isneginf(lse), ~fin)
    assert rel_error(lse[fin], ref_lse[fin]) < 1e-5

    got, drop = call_with_mask(
        c, lambda: gradients(ours, (q, k, v), dout, dlse))
    ref = gradients(lambda *t: reference(*t, vis, scale, drop), (q, k, v),
                    dout, dlse)
    low = gradients(lambda *t: eager(*t, vis, scale, drop), (q, k, v), dout,
                    dlse)
    rounded = rounded_output_gradients(q, k, v, vis, scale, drop, dout, dlse)
    for (name, err, err_torch, finite), (_, err_rounded, _, _) in zip(
            gradient_errors(got, ref, low, dout),
            gradient_errors(rounded, ref, low, dout)):
        assert finite, f"d{name} has non-finite entries ({c})"
        bound = 2 * max(err_torch, err_rounded) + 1e-4
        assert err <= bound, \
            f"d{name}: error {err:.3g} > {bound:.3g} (torch's " \
            f"{err_torch:.3g}, rounded O's {err_rounded:.3g}) ({c})"


def rounded_output_gradients(q, k, v, vis, scale, drop, dout, dlse):
    """(dq, dk, dv) by the backward's formulas in float64, delta = rowsum(dO
    ∘ O) - dlse with O rounded to q's dtype."""
    g = q.shape[1] // k.shape[1]
    q64, do64 = q.double(), dout.double()
    k64, v64 = (t.double().repeat_interleave(g, dim=1) for t in (k, v))
    s = (q64 @ k64.transpose(-1, -2) * scale).masked_fill(~vis, -math.inf)
    lse = torch.logsumexp(s, -1, keepdim=True)
    p = torch.exp(s - torch.where(torch.isneginf(lse), 0, lse))
    out = ((p * drop) @ v64).to(q.dtype).double()
    delta = (do64 * out).sum(-1, keepdim=True)
    if dlse is not None:
        delta = delta - dlse.double()[..., None]
    ds = p * ((do64 @ v64.transpose(-1, -2)) * drop - delta)

    def group_sum(t):
        b, h, n, d = t.shape
        return t.view(b, h // g, g, n, d).sum(2)

    return (scale * ds @ k64,
            group_sum(scale * ds.transpose(-1, -2) @ q64),
            group_sum((p * drop).transpose(-1, -2) @ do64))


def random_cases(n, seed):
    def add_dropout(rng, c):
        c["p"] = rng.choice([0.1, 0.1, 0.3, 0.5, 0.9])
    return random_gradient_cases(n, seed, kernel_specs(dropout=True),
                                 add_dropout)


SEED = int(os.environ.get("FLASH_MLIR_GPU_SEED", "4321"))
COUNT = int(os.environ.get("FLASH_MLIR_GPU_CASES", "40"))


@pytest.mark.parametrize("index", range(COUNT))
def test_random_case(index):
    torch.manual_seed(SEED + index)
    check_case(random_cases(COUNT, SEED)[index])


def qkv(lq=300, lk=300):
    return [torch.randn(2, 4, n, 64, device="cuda", dtype=torch.bfloat16)
            for n in (lq, lk, lk)]


def test_a_seed_reproduces_a_call_and_each_call_draws_anew():
    q, k, v = qkv()
    torch.manual_seed(7)
    first = flash_mlir.attention(q, k, v, dropout_p=0.2, is_causal=True)
    second = flash_mlir.attention(q, k, v, dropout_p=0.2, is_causal=True)
    torch.manual_seed(7)
    again = flash_mlir.attention(q, k, v, dropout_p=0.2, is_causal=True)
    assert torch.equal(first, again)
    assert not torch.equal(first, second)


def test_dropout_one_drops_everything():
    q, k, v = (t.requires_grad_() for t in qkv(65, 130))
    out = flash_mlir.attention(q, k, v, dropout_p=1.0)
    assert torch.equal(out, torch.zeros_like(out))
    out.sum().backward()
    for t in (q, k, v):
        assert torch.equal(t.grad, torch.zeros_like(t))


def test_block_mask_with_dropout_is_refused():
    q, k, v = qkv(256, 256)
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: j <= i, 1, 1, 256,
                                        256, device="cuda")
    with pytest.raises(flash_mlir.UnsupportedError,
                       match="the block-sparse kernels have no dropout"):
        flash_mlir.attention(q, k, v, dropout_p=0.1, block_mask=mask)
