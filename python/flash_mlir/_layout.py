"""Block masks as the block-sparse kernels' layout: the checks of a call's
block_mask, and its descriptors for the runtime (docs/kernel-abi.md).

Both flash_mlir.BlockMask and FlexAttention's BlockMask are accepted: they
carry the same four int32 tensors (FlexAttention's full lists may be None).
"""

import ctypes
from collections import namedtuple

import torch

from . import _runtime
from ._errors import UnsupportedError

# The smallest tiles of the plan table (KernelPlan.cpp): every kernel's CTA
# takes 64 or 128 query rows and streams 32- or 64-key tiles, so a layout of
# 128 x 64 multiples fits every kernel.
MIN_BLOCK_Q = 64
MIN_BLOCK_KV = 32

# The layout operands of one call: int32 tensors [B|1, H|1, NQ] and
# [B|1, H|1, NQ, N] (the full pair None when absent), and the block sizes.
Layout = namedtuple("Layout", "kv_num_blocks kv_indices full_kv_num_blocks "
                              "full_kv_indices block_q block_kv")


def _block_size(mask):
    size = getattr(mask, "block_size", None)
    if size is None:
        size = getattr(mask, "BLOCK_SIZE", None)  # FlexAttention's
    try:
        block_q, block_kv = (int(s) for s in size)
    except (TypeError, ValueError):
        raise UnsupportedError(
            f"block_mask: no (block_q, block_kv) block size on "
            f"{type(mask).__name__}") from None
    return block_q, block_kv


def check_block_mask(mask, b, hq, lq, lk):
    """The Layout of `mask` for a call of batch b, hq query heads and
    lengths lq, lk, or UnsupportedError naming what does not fit."""
    if not all(hasattr(mask, name) for name in
               ("kv_num_blocks", "kv_indices", "seq_lengths")):
        raise UnsupportedError(
            f"block_mask must be a flash_mlir.BlockMask (from "
            f"flash_mlir.create_block_mask) or FlexAttention's BlockMask, got "
            f"{type(mask).__name__}")
    lengths = tuple(int(n) for n in mask.seq_lengths)
    if lengths != (lq, lk):
        raise UnsupportedError(
            f"block_mask: built for Lq={lengths[0]}, Lk={lengths[1]}; the "
            f"call has Lq={lq}, Lk={lk}")
    block_q, block_kv = _block_size(mask)
    if (block_q <= 0 or block_kv <= 0 or block_q % MIN_BLOCK_Q or
            block_kv % MIN_BLOCK_KV):
        raise UnsupportedError(
            f"block_mask: block size ({block_q}, {block_kv}) is not supported: "
            f"the GPU kernels need block_q a multiple of {MIN_BLOCK_Q} and "
            f"block_kv a multiple of {MIN_BLOCK_KV} (multiples of 128 x 64, "
            f"like FlexAttention's default 128 x 128, fit every kernel)")
    nq = -(-lq // block_q)
    full = (getattr(mask, "full_kv_num_blocks", None),
            getattr(mask, "full_kv_indices", None))
    if (full[0] is None) != (full[1] is None):
        raise UnsupportedError(
            "block_mask: full_kv_num_blocks and full_kv_indices must be given "
            "together (both None: no full list)")
    pairs = [("kv_num_blocks", mask.kv_num_blocks, "kv_indices",
              mask.kv_indices)]
    if full[0] is not None:
        pairs.append(("full_kv_num_blocks", full[0], "full_kv_indices",
                      full[1]))
    for count_name, counts, index_name, indices in pairs:
        _check_list(count_name, counts, index_name, indices, b, hq, nq)
    return Layout(mask.kv_num_blocks, mask.kv_indices, full[0], full[1],
                  block_q, block_kv)


def _check_list(count_name, counts, index_name, indices, b, hq, nq):
    for name, t in ((count_name, counts), (index_name, indices)):
        if not isinstance(t, torch.Tensor):
            raise UnsupportedError(
                f"block_mask: {name} must be a tensor, got "
                f"{type(t).__name__}")
        if t.dtype != torch.int32:
            raise UnsupportedError(
                f"block_mask: {name} must be int32, got {t.dtype}")
    if counts.dim() != 3 or indices.dim() != 4:
        raise UnsupportedError(
            f"block_mask: {count_name} and {index_name} must be 3-D and 4-D, "
            f"got shapes {tuple(counts.shape)} and {tuple(indices.shape)}")
    for dim, (name, extent) in enumerate((("batch", b), ("head", hq))):
        if counts.shape[dim] not in (1, extent):
            raise UnsupportedError(
                f"block_mask: {count_name} has {name} extent "
                f"{counts.shape[dim]}, expected 1 or the call's {extent}" +
                (" (layouts are per query head)" if name == "head" else ""))
    if counts.shape[2] != nq:
        raise UnsupportedError(
            f"block_mask: {count_name} has {counts.shape[2]} query tiles, "
            f"expected ceil(Lq / block_q) = {nq}")
    if tuple(indices.shape[:3]) != tuple(counts.shape) or indices.shape[3] < 1:
        raise UnsupportedError(
            f"block_mask: {index_name} has shape {tuple(indices.shape)}, "
            f"expected {tuple(counts.shape) + ('N >= 1',)}")


def on_device(layout, device):
    """`layout` with its tensors on `device` (copied when elsewhere: build
    the mask on the device to save a copy per call)."""
    moved = []
    for t in layout[:4]:
        if t is not None and t.device != device:
            if t.device.type == "cuda":
                raise UnsupportedError(
                    f"block_mask is on {t.device}, the call's tensors on "
                    f"{device}")
            t = t.to(device)
        moved.append(t)
    return Layout(*moved, layout.block_q, layout.block_kv)


def check_kernel_fits(info, layout):
    """UnsupportedError when `layout`'s blocks do not split into the tiles of
    kernel `info` (a KernelInfo)."""
    if layout.block_q % info.cta_q or layout.block_kv % info.cta_kv:
        raise UnsupportedError(
            f"block_mask: block size ({layout.block_q}, {layout.block_kv}) "
            f"does not fit kernel {info.name.decode()}, whose CTAs take "
            f"{info.cta_q} query rows (cta_q) and {info.cta_kv}-key tiles "
            f"(cta_kv): block_q must be a multiple of {info.cta_q} and "
            f"block_kv of {info.cta_kv}")


def descriptors(layout):
    """The flashrt_block_layout of a layout on the device; the returned
    tensors must outlive the call."""
    def describe(t):
        if t is None:
            return None
        return _runtime.make_tensor(t.data_ptr() or None, _runtime.DTYPE_I32,
                                    t.shape, t.stride())
    tensors = [describe(t) for t in layout[:4]]
    pointers = [ctypes.pointer(t) if t is not None else None
                for t in tensors]
    return _runtime.BlockLayout(*pointers, layout.block_q,
                                layout.block_kv), tensors
