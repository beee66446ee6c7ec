"""The float64 reference of flash.attention's forward semantics on torch
tensors, shared by the GPU scripts here and the Python package's GPU tests.
It is written independently of the kernels and of the package."""

import math

import torch


def visibility(mask, Lq, Lk, window, device):
    i = torch.arange(Lq, device=device)[:, None]
    j = torch.arange(Lk, device=device)[None, :]
    off = Lk - Lq
    if mask == "none":
        return torch.ones(Lq, Lk, dtype=torch.bool, device=device)
    if mask == "causal":
        return j <= i
    if mask == "causal_bottom_right":
        return j <= i + off
    left, right = window
    return (j >= i + off - left) & (j <= i + off + right)


def reference(q, k, v, vis, scale):
    G = q.shape[1] // k.shape[1]
    k64 = k.double().repeat_interleave(G, dim=1)
    v64 = v.double().repeat_interleave(G, dim=1)
    s = (q.double() @ k64.transpose(-1, -2)) * scale
    s = s.masked_fill(~vis, -math.inf)
    m = s.amax(-1, keepdim=True)
    msafe = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    e = torch.exp(s - msafe)
    l = e.sum(-1, keepdim=True)
    p = torch.where(l > 0, e / l.clamp_min(1e-300), torch.zeros_like(e))
    return p @ v64, (msafe + torch.log(l))[..., 0]
