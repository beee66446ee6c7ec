"""Helpers of the GPU tests: which kernels exist, a float64 reference, and
poisoned outputs."""

import json
import math
import os

import pytest

import torch


def kernel_specs():
    """The (head_dim, dtype, mask) triples that can run here, or None for
    every spec (the compiler is available)."""
    from flash_mlir import _capi, _kernels
    directory = _kernels.kernel_dir()
    specs = set()
    if directory:
        with open(os.path.join(directory, "manifest.json")) as f:
            for entry in json.load(f)["kernels"]:
                s = entry["spec"]
                if not s["block_sparse"]:
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


def visibility(mask, lq, lk, window, device):
    """bool [Lq, Lk]: which keys each query sees."""
    i = torch.arange(lq, device=device)[:, None]
    j = torch.arange(lk, device=device)[None, :]
    off = lk - lq
    if mask == "none":
        return torch.ones(lq, lk, dtype=torch.bool, device=device)
    if mask == "causal":
        return j <= i
    if mask == "causal_bottom_right":
        return j <= i + off
    left, right = window
    return (j >= i + off - left) & (j <= i + off + right)


def reference(q, k, v, visible, scale):
    """Output and natural-log lse in float64; an empty row gives 0, -inf."""
    groups = q.shape[1] // k.shape[1]
    k = k.double().repeat_interleave(groups, dim=1)
    v = v.double().repeat_interleave(groups, dim=1)
    s = (q.double() @ k.transpose(-1, -2)) * scale
    s = s.masked_fill(~visible, -math.inf)
    m = s.amax(-1, keepdim=True)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    e = torch.exp(s - m)
    total = e.sum(-1, keepdim=True)
    p = torch.where(total > 0, e / total.clamp_min(1e-300),
                    torch.zeros_like(e))
    return p @ v, (m + torch.log(total))[..., 0]


def rel_error(x, ref):
    return ((x.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


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
