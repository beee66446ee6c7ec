"""Helpers of the GPU tests: which kernels exist, a float64 reference, and
poisoned outputs."""

import json
import math
import os
import sys

import pytest

import torch

# The float64 reference lives beside the GPU scripts (python/gpu), written
# independently of the package under test.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "gpu"))
from reference import (layout_visibility, make, reference,  # noqa: E402,F401
                       rel_error, tile_states, visibility)


def kernel_specs(block_sparse=False, dropout=False):
    """The (head_dim, dtype, mask) triples of the dense (or block-sparse, or
    with dropout) kernels that can run here, or None for every spec (the
    compiler is available)."""
    wanted = {name for name, on in (("block_sparse", block_sparse),
                                     ("dropout", dropout)) if on}
    from flash_mlir import _capi, _kernels
    directory = _kernels.kernel_dir()
    specs = set()
    if directory:
        with open(os.path.join(directory, "manifest.json")) as f:
            for entry in json.load(f)["kernels"]:
                s = entry["spec"]
                if set(s["features"]) == wanted:
                    specs.add((s["head_dim"], s["dtype"], s["mask"]))
    if _capi.get_compiler() is not None:
        return None
    if not specs:
        pytest.skip("no kernels: set FLASH_MLIR_KERNELS to a flash-aot "
                    "directory (or FLASH_MLIR_CAPI to libFlashCAPI.so)")
    return specs


def have(specs, head_dim, dtype, mask):
    from flash_mlir._spec import kernel_head_dim
    return specs is None or (kernel_head_dim(head_dim), dtype, mask) in specs


def call_kwargs(mask, window):
    """flash_mlir.attention's keyword arguments for a mask kind."""
    if mask == "causal":
        return {"is_causal": True}
    if mask == "causal_bottom_right":
        return {"window": (None, 0)}
    if mask == "sliding_window":
        return {"window": window}
    return {}


def check_against_reference(q, k, v, out, lse, visible, scale, case):
    """Checks flash_mlir's `out` and `lse` for inputs q, k, v ([B, H, L, D])
    whose queries see the keys of `visible` (bool, broadcast to
    [B, Hq, Lq, Lk]) against the float64 reference: every element written,
    the output within 2x PyTorch's own error (SDPA in the same dtype, over
    rows that see a key), 0 and -inf on rows that see none, lse within 1e-3
    relative. `case` names the failure."""
    import torch.nn.functional as F
    b, hq, lq, _ = q.shape
    visible = visible.expand(b, hq, lq, k.shape[2])
    gqa = hq != k.shape[1]
    ref_out, ref_lse = reference(q, k, v, visible, scale)
    assert not torch.isnan(out).any(), "an output element was not written"
    assert not torch.isnan(lse).any(), "an lse element was not written"
    live = visible.any(-1)
    err_torch = 0.0
    if live.any():
        torch_out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=visible, scale=scale, enable_gqa=gqa)
        err_torch = rel_error(torch_out[live], ref_out[live])
    err = rel_error(out, ref_out)
    assert err <= 2 * err_torch, (case, err, err_torch)
    assert torch.equal(out[~live], torch.zeros_like(out[~live]))
    assert torch.equal(torch.isneginf(lse), torch.isneginf(ref_lse))
    finite = ~torch.isneginf(ref_lse)
    if finite.any():
        lse_err = ((lse.double()[finite] - ref_lse[finite]).abs() /
                   ref_lse[finite].abs().clamp_min(1.0)).max().item()
        assert lse_err <= 1e-3, (case, lse_err)


@pytest.fixture
def poisoned(monkeypatch):
    """Makes flash_mlir allocate its outputs filled with NaN, so that an
    element the kernel does not write shows."""
    from flash_mlir import _attention
    layout, lse = _attention.empty_like_layout, _attention.empty_lse

    def nan_layout(*args, **kwargs):
        return layout(*args, **kwargs).fill_(math.nan)

    def nan_lse(q):
        return lse(q).fill_(math.nan)

    monkeypatch.setattr(_attention, "empty_like_layout", nan_layout)
    monkeypatch.setattr(_attention, "empty_lse", nan_lse)
