"""Helpers of the GPU tests: which kernels exist, a float64 reference, and
poisoned outputs."""

import json
import math
import os
import random
import sys

import pytest

import torch

# The float64 reference lives beside the GPU scripts (python/gpu), written
# independently of the package under test.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "gpu"))
from reference import (call_kwargs, layout_visibility, make,  # noqa: E402,F401
                       reference, rel_error, tile_states, visibility)


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


GRADIENT_MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]
GRADIENT_LENGTHS = [1, 7, 17, 64, 65, 127, 128, 200, 333, 513]


def random_gradient_cases(n, seed, specs, extra=None):
    """n gradient cases drawn from `seed` (shapes with GQA and tails, head
    dims up to 128, the four mask kinds, both layouts, f16 and bf16, half
    with a gradient of the lse) that `specs` (kernel_specs) can run;
    `extra(rng, case)` adds to each."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        hkv, g = rng.choice([1, 2, 3]), rng.choice([1, 1, 2, 4])
        mask = rng.choice(GRADIENT_MASKS)
        c = dict(B=rng.choice([1, 2]), Hkv=hkv, Hq=hkv * g,
                 Lq=rng.choice(GRADIENT_LENGTHS),
                 Lk=rng.choice(GRADIENT_LENGTHS),
                 D=rng.choice([32, 40, 64, 80, 96, 128]), mask=mask,
                 dtype=rng.choice(["f16", "bf16"]),
                 layout=rng.choice(["bhld", "blhd"]),
                 window=(rng.choice([0, 5, 64, 300]),
                         rng.choice([0, 0, 9, 100])),
                 dlse=rng.random() < 0.5)
        if extra:
            extra(rng, c)
        if have(specs, c["D"], c["dtype"], mask):
            cases.append(c)
    return cases


def gradient_case_inputs(c, dtype):
    """q, k, v, dout and dlse (None unless c["dlse"]) of a gradient case `c`
    (B, Hq, Hkv, Lq, Lk, D, layout), in `dtype` on the GPU, and its default
    scale: q and k at 1.5x the unit normal, v and dout at 1x."""
    q, k, v = (make(c["B"], h, n, c["D"], dtype, c["layout"], s) for h, n, s in
               ((c["Hq"], c["Lq"], 1.5), (c["Hkv"], c["Lk"], 1.5),
                (c["Hkv"], c["Lk"], 1.0)))
    dout = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"])
    dlse = torch.randn(c["B"], c["Hq"], c["Lq"], device="cuda") \
        if c["dlse"] else None
    return q, k, v, dout, dlse, 1 / math.sqrt(c["D"])


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
