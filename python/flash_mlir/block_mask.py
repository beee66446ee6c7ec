"""Block-sparse layouts from mask functions, like FlexAttention's
create_block_mask.

The layout is flash.attention's (include/flash/Dialect/Flash/IR/FlashOps.td):
the score matrix splits into NQ x NKV tiles of block_q x block_kv; per query
tile, `kv_num_blocks` / `kv_indices` list the *partial* key tiles (some
element visible, some hidden: the kernel applies the element mask there) and
`full_kv_num_blocks` / `full_kv_indices` the *full* ones (every in-bounds
element visible: no element mask). A tile in neither list is dead. Lists are
CSR rows: the first num_blocks[b, h, t] entries of indices[b, h, t], in
increasing order, the rest 0.
"""

import torch

# Elements of the dense mask evaluated at once.
_CHUNK_ELEMENTS = 1 << 24

DEAD, PARTIAL, FULL = 0, 1, 2


class BlockMask:
    """A block-sparse attention layout; see the module docstring.

    kv_num_blocks, full_kv_num_blocks: int32 [B|1, H|1, NQ];
    kv_indices, full_kv_indices: int32 [B|1, H|1, NQ, N] (N >= 1);
    block_size: (block_q, block_kv); seq_lengths: (Lq, Lk); mask_fn: the
    element mask the layout was built from (the GPU kernels apply the call's
    structural mask in partial tiles instead; flash_mlir.attention refuses a
    mask_fn that disagrees with it there).
    """

    def __init__(self, kv_num_blocks, kv_indices, full_kv_num_blocks,
                 full_kv_indices, block_size, seq_lengths, mask_fn=None):
        self.kv_num_blocks = kv_num_blocks
        self.kv_indices = kv_indices
        self.full_kv_num_blocks = full_kv_num_blocks
        self.full_kv_indices = full_kv_indices
        self.block_size = tuple(block_size)
        self.seq_lengths = tuple(seq_lengths)
        self.mask_fn = mask_fn

    @property
    def shape(self):
        """(B|1, H|1, Lq, Lk)"""
        return tuple(self.kv_num_blocks.shape[:2]) + self.seq_lengths

    @property
    def num_tiles(self):
        """(NQ, NKV)"""
        (lq, lk), (bq, bkv) = self.seq_lengths, self.block_size
        return -(-lq // bq), -(-lk // bkv)

    def tile_states(self):
        """int8 [B|1, H|1, NQ, NKV]: DEAD (0), PARTIAL (1) or FULL (2)."""
        nkv = self.num_tiles[1]
        states = _decode(self.kv_num_blocks, self.kv_indices, nkv) * PARTIAL
        full = _decode(self.full_kv_num_blocks, self.full_kv_indices, nkv)
        return torch.where(full, torch.full_like(states, FULL), states)

    def to_dense(self):
        """bool [B|1, H|1, NQ, NKV]: whether each tile is live (partial or
        full), like FlexAttention's BlockMask.to_dense()."""
        return self.tile_states() != DEAD

    def sparsity(self):
        """The fraction of dead tiles."""
        return 1.0 - self.to_dense().float().mean().item()

    def __repr__(self):
        return (f"BlockMask(shape={self.shape}, block_size={self.block_size}, "
                f"sparsity={self.sparsity():.2%})")


def _decode(num_blocks, indices, nkv):
    """A CSR pair as a bool tile matrix [B, H, NQ, NKV]."""
    n = indices.shape[-1]
    used = torch.arange(n, device=indices.device) < num_blocks[..., None]
    tiles = torch.zeros(indices.shape[:-1] + (nkv + 1,), dtype=torch.bool,
                        device=indices.device)
    # Unused entries (and out-of-range indices) land in the extra column.
    target = torch.where(used & (indices >= 0) & (indices < nkv),
                         indices.long(), torch.full_like(indices.long(), nkv))
    tiles.scatter_(-1, target, True)
    return tiles[..., :nkv]


def _encode(tiles):
    """A bool tile matrix [B, H, NQ, NKV] as a CSR pair (int32)."""
    nkv = tiles.shape[-1]
    counts = tiles.sum(-1, dtype=torch.int32)
    n = max(1, int(counts.max().item()) if counts.numel() else 1)
    column = torch.arange(nkv, device=tiles.device, dtype=torch.int32)
    # Live tiles sort first, in increasing order.
    order = torch.where(tiles, column, column + nkv).sort(-1).values[..., :n]
    if order.shape[-1] < n:  # NKV < 1
        order = torch.zeros(tiles.shape[:-1] + (n,), dtype=torch.int32,
                            device=tiles.device)
    used = torch.arange(n, device=tiles.device) < counts[..., None]
    indices = torch.where(used, order, torch.zeros_like(order))
    return counts, indices.to(torch.int32)


def _check_length(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def _check_extent(name, value):
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int or None "
                         f"(broadcast), got {value!r}")
    return value


def evaluate_mask(mask_fn, b, h, q_idx, kv_idx, device):
    """mask_fn on broadcasting index tensors, as bool [B, H, len(q_idx),
    len(kv_idx)]."""
    bi = torch.arange(b, device=device)[:, None, None, None]
    hi = torch.arange(h, device=device)[None, :, None, None]
    qi = q_idx[None, None, :, None]
    ki = kv_idx[None, None, None, :]
    shape = (b, h, q_idx.numel(), kv_idx.numel())
    result = mask_fn(bi, hi, qi, ki)
    result = torch.as_tensor(result, device=device)
    if result.dtype != torch.bool:
        raise TypeError(f"mask_fn must return booleans (True = attend), got "
                        f"{result.dtype}")
    try:
        return torch.broadcast_to(result, shape)
    except RuntimeError:
        raise ValueError(f"mask_fn returned shape {tuple(result.shape)}, "
                         f"which does not broadcast to {shape}") from None


def create_block_mask(mask_fn, B, H, Lq, Lk, block=(128, 128), device=None):
    """Evaluates mask_fn(b, h, q_idx, kv_idx) (True = attend) on broadcasting
    index tensors and returns the BlockMask of its tiles. B or H None: the
    mask does not depend on it and the layout has extent 1 there."""
    b, h = _check_extent("B", B), _check_extent("H", H)
    _check_length("Lq", Lq)
    _check_length("Lk", Lk)
    try:
        bq, bkv = block
    except (TypeError, ValueError):
        raise ValueError(f"block must be (block_q, block_kv), got "
                         f"{block!r}") from None
    for name, value in (("block_q", bq), ("block_kv", bkv)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    device = torch.device(device if device is not None else "cpu")
    nq, nkv = -(-Lq // bq), -(-Lk // bkv)
    kv_idx = torch.arange(Lk, device=device)
    # In-bounds elements per key tile (the last one may be short).
    kv_extent = torch.clamp(Lk - torch.arange(nkv, device=device) * bkv,
                            max=bkv)
    tiles_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, b * h * bq * Lk))
    partial, full = [], []
    # Without keys every tile is dead (and there is nothing to evaluate).
    for t0 in range(0, nq if nkv else 0, tiles_per_chunk):
        t1 = min(nq, t0 + tiles_per_chunk)
        rows = torch.arange(t0 * bq, min(Lq, t1 * bq), device=device)
        visible = evaluate_mask(mask_fn, b, h, rows, kv_idx, device)
        pad_q = (t1 - t0) * bq - rows.numel()
        padded = torch.nn.functional.pad(visible.to(torch.int32),
                                         (0, nkv * bkv - Lk, 0, pad_q))
        counts = padded.reshape(b, h, t1 - t0, bq, nkv, bkv).sum((3, 5))
        q_extent = torch.clamp(Lq - torch.arange(t0, t1, device=device) * bq,
                               max=bq)
        extent = q_extent[:, None] * kv_extent[None, :]
        is_full = counts == extent
        full.append(is_full)
        partial.append((counts > 0) & ~is_full)
    shape = (b, h, nq, nkv)
    partial = torch.cat(partial, 2) if partial else torch.zeros(
        shape, dtype=torch.bool, device=device)
    full = torch.cat(full, 2) if full else torch.zeros(
        shape, dtype=torch.bool, device=device)
    kv_num, kv_ind = _encode(partial)
    full_num, full_ind = _encode(full)
    return BlockMask(kv_num, kv_ind, full_num, full_ind, (bq, bkv), (Lq, Lk),
                     mask_fn)
