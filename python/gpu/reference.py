"""The float64 reference of flash.attention's forward semantics on torch
tensors, shared by the GPU scripts here and the Python package's GPU tests,
with the random inputs and the error measure they compare with. It is
written independently of the kernels and of the package."""

import math

import torch


def make(b, h, length, d, dtype, layout, scale=1.0, device="cuda"):
    """Random [B, H, L, D] inputs: `layout` "bhld" is contiguous, "blhd" is
    [B, L, H, D] storage seen as [B, H, L, D]."""
    if layout == "bhld":
        return torch.randn(b, h, length, d, device=device, dtype=dtype) * scale
    return (torch.randn(b, length, h, d, device=device, dtype=dtype) *
            scale).transpose(1, 2)


def call_kwargs(mask, window):
    """flash_mlir.attention's keyword arguments for a mask kind."""
    if mask == "causal":
        return {"is_causal": True}
    if mask == "causal_bottom_right":
        return {"window": (None, 0)}
    if mask == "sliding_window":
        return {"window": window}
    return {}


def rel_error(x, ref):
    """||x - ref|| / ||ref||, in float64."""
    return ((x.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


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
    # Distances from the diagonal: sides up to INT64_MAX do not overflow.
    left, right = window
    return (i + off - j <= left) & (j - (i + off) <= right)


def reference(q, k, v, vis, scale, drop=None):
    """(out, lse) in float64; `drop` (optional, [B, Hq, Lq, Lk]) multiplies
    the probabilities: attention dropout's 0 or 1 / keep."""
    G = q.shape[1] // k.shape[1]
    k64 = k.double().repeat_interleave(G, dim=1)
    v64 = v.double().repeat_interleave(G, dim=1)
    s = (q.double() @ k64.transpose(-1, -2)) * scale
    s = s.masked_fill(~vis, -math.inf)
    m = s.amax(-1, keepdim=True)
    msafe = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    e = torch.exp(s - msafe)
    l = e.sum(-1, keepdim=True)
    # A row that sees no key (l = 0) gives 0; NaN (an infinite or NaN
    # score) spreads to its row, as in the formula.
    p = torch.where(l == 0, torch.zeros_like(e), e / l.clamp_min(1e-300))
    if drop is not None:
        p = p * drop.double()
    return p @ v64, (msafe + torch.log(l))[..., 0]


def tile_states(counts, indices, full_counts, full_indices, nkv):
    """int8 [B|1, H|1, NQ, NKV] of a block-sparse layout's CSR lists: 0 dead,
    1 partial, 2 full. Each list's first `count` entries count (counts are
    clamped to the list's length); indices outside [0, nkv) and repeats add
    nothing; a tile in both lists is full. `full_*` may be None."""
    def decode(c, idx):
        n = idx.shape[-1]
        used = torch.arange(n, device=idx.device) < c[..., None].long()
        valid = used & (idx >= 0) & (idx < nkv)
        tiles = torch.zeros(idx.shape[:-1] + (nkv + 1,), dtype=torch.bool,
                            device=idx.device)
        target = torch.where(valid, idx.long(),
                             torch.full_like(idx, nkv, dtype=torch.long))
        tiles.scatter_(-1, target, True)
        return tiles[..., :nkv]
    states = decode(counts, indices).to(torch.int8)
    if full_counts is not None:
        states[decode(full_counts, full_indices)] = 2
    return states


def csr_lists(tiles, pad=0):
    """The CSR lists (int32 counts [..., NQ], indices [..., NQ, NKV],
    increasing, padded with `pad`) of a bool tile tensor [..., NQ, NKV]: the
    inverse of tile_states for one list. The lists take the full width, as
    FlexAttention's do, so that every layout of a shape has the same
    shapes."""
    nkv = tiles.shape[-1]
    counts = tiles.sum(-1, dtype=torch.int32)
    column = torch.arange(nkv, device=tiles.device, dtype=torch.int32)
    order = torch.where(tiles, column, column + nkv).sort(-1).values
    used = torch.arange(nkv, device=tiles.device) < counts[..., None]
    return counts, torch.where(used, order, torch.full_like(order, pad))


def layout_visibility(states, mask, Lq, Lk, window, block_q, block_kv):
    """bool [B|1, H|1, Lq, Lk]: the keys a query sees under a block-sparse
    layout of tile states (tile_states) and the structural `mask`, which
    applies inside partial tiles only (full tiles see every key)."""
    st = states.repeat_interleave(block_q, -2)[..., :Lq, :]
    st = st.repeat_interleave(block_kv, -1)[..., :Lk]
    structural = visibility(mask, Lq, Lk, window, states.device)
    return (st == 2) | ((st == 1) & structural)


def eager(q, k, v, vis, scale, drop=None):
    """Attention in the inputs' element type, as eager PyTorch code computes
    it (rows that see no key give 0), and its lse; `drop` as reference's."""
    G = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(G, dim=1)
    v = v.repeat_interleave(G, dim=1)
    s = (q @ k.transpose(-1, -2)) * scale
    s = s.float().masked_fill(~vis, -math.inf)
    lse = torch.logsumexp(s, -1)
    p = torch.exp(s - torch.where(torch.isneginf(lse), 0, lse)[..., None])
    if drop is not None:
        p = p * drop
    return (p.to(q.dtype) @ v), lse


def gradients(fn, inputs, dout, dlse):
    """The gradients of `inputs` for (out, lse) = fn(*inputs) and the loss
    sum(out · dout) + sum(lse · dlse) over the finite lse (dlse may be
    None), through torch.autograd."""
    leaves = [t.detach().requires_grad_() for t in inputs]
    out, lse = fn(*leaves)
    loss = (out.double() * dout.double()).sum()
    if dlse is not None:
        fin = ~torch.isneginf(lse)
        loss = loss + (lse.double()[fin] * dlse.double()[fin]).sum()
    return torch.autograd.grad(loss, leaves)


def gradient_errors(ours, ref, low, dout):
    """[(name, error, torch's error, finite)] of gradients `ours` (dq, dk,
    dv) against the float64 `ref`, beside `low`, the same gradients computed
    in the element type by eager PyTorch: ||x - ref|| / max(||ref||,
    0.01 ||dO||). (The floor is for gradients that cancel to about 0, as dQ
    and dK do when a row sees a single key.)"""
    floor = 1e-2 * dout.double().norm().item()
    errors = []
    for name, x, r, t in zip("qkv", ours, ref, low):
        norm = max(r.norm().item(), floor)
        err = (x.double() - r).norm().item() / norm
        err_torch = (t.double() - r).norm().nan_to_num(math.inf).item() / norm
        errors.append((name, err, err_torch, bool(torch.isfinite(x).all())))
    return errors
