"""The check that a block mask's mask function is what the block-sparse
kernels compute.

Inside a block mask's partial tiles the kernels apply only the call's
structural mask (is_causal / window), never the mask function the mask was
built from (flash_mlir's mask_fn, FlexAttention's mask_mod). So the mask
function is evaluated once per mask and call on the in-bounds elements of
the partial tiles, for every batch and query head of the call, and a
disagreement is refused. The outcome is cached on the mask object.
"""

import weakref

import torch

from ._errors import UnsupportedError
from .block_mask import _decode

# Mask-function elements evaluated at once: bounds the index tensors and the
# mask function's own temporaries (B=8, H=32, L=16k causal takes 32 chunks).
CHUNK_ELEMENTS = 1 << 24
# Tiles of the (batch, head) rows' tile matrices listed at once.
CHUNK_TILES = 1 << 20

# Structural masks that may serve a mask function the call's does not match,
# in the order they are suggested: (kind, the advice when the mask function
# is that mask on every partial tile).
SUGGESTIONS = (
    ("causal", "The mask function is top-left causal (key j visible to "
               "query i iff j <= i) on every partial tile: pass "
               "is_causal=True."),
    ("causal_bottom_right", "The mask function is bottom-right causal (key "
                            "j visible to query i iff j <= i + Lk - Lq) on "
                            "every partial tile: pass window=(None, 0)."),
    ("none", "The mask function shows every key of the partial tiles: pass "
             "neither is_causal nor window."))

_CACHE_ATTRIBUTE = "_flash_mlir_mask_checks"
_CACHE_ENTRIES = 8  # outcomes kept per mask (one per distinct call)
# For masks that take no attribute.
_side_cache = weakref.WeakKeyDictionary()


def check_mask_function(mask, layout, mask_kind, window, B, Hq, Lq, Lk,
                        device):
    """UnsupportedError when the mask function of `mask` (its mask_fn or
    mask_mod; None: every key visible) disagrees, on an in-bounds element
    of a partial tile of `layout` (a _layout.Layout of `mask`), with the
    structural mask `mask_kind` / `window` (_spec.select_mask's) of a call
    of batch B, Hq query heads and lengths Lq, Lk. Evaluates on `device`,
    once per mask and call (the outcome is cached on `mask`)."""
    fn = mask_function(mask)
    key = _cache_key(fn, layout, mask_kind, window, B, Hq, Lq, Lk)
    entries = _cache_entries(mask) if key is not None else None
    message = _cached(entries, key)
    if message is _MISSING:
        try:
            message = _disagreement(fn, layout, mask_kind, window, B, Hq, Lq,
                                    Lk, device)
        except UnsupportedError as err:  # fn cannot be evaluated
            message = str(err)
        _store(entries, key, message)
    if message is not None:
        raise UnsupportedError(message)


def mask_function(mask):
    """The mask function a block mask was built from, or None."""
    fn = getattr(mask, "mask_fn", None)
    return fn if fn is not None else getattr(mask, "mask_mod", None)


# --- The cache ---------------------------------------------------------------

_MISSING = object()


def _tensor_signature(t):
    """What identifies a tensor's current contents: an in-place edit bumps
    _version."""
    if t is None:
        return None
    return (t.device, t.data_ptr(), tuple(t.shape), t.stride(), t._version)


def _cache_key(fn, layout, mask_kind, window, B, Hq, Lq, Lk):
    """The key of a check's outcome, or None when it cannot be cached: an
    inference tensor (made under torch.inference_mode) has no version
    counter, so an in-place edit of it would go unseen."""
    if any(t is not None and t.is_inference() for t in layout[:4]):
        return None
    return (fn, mask_kind, tuple(window), Lq, Lk, B, Hq,
            (layout.block_q, layout.block_kv),
            tuple(_tensor_signature(t) for t in layout[:4]))


def _cache_entries(mask):
    """The list of cached (key, message) outcomes of `mask`, created on
    first use; None when `mask` can hold none."""
    entries = getattr(mask, _CACHE_ATTRIBUTE, None)
    if isinstance(entries, list):
        return entries
    try:
        return _side_cache[mask]
    except (KeyError, TypeError):
        pass
    entries = []
    try:
        setattr(mask, _CACHE_ATTRIBUTE, entries)
        return entries
    except (AttributeError, TypeError):
        pass
    try:
        _side_cache[mask] = entries
        return entries
    except TypeError:  # neither hashable nor weakly referenceable
        return None


def _same_key(a, b):
    # The mask function by identity: a callable's == may be anything.
    return a[0] is b[0] and a[1:] == b[1:]


def _cached(entries, key):
    for entry_key, message in entries or ():
        if _same_key(entry_key, key):
            return message
    return _MISSING


def _store(entries, key, message):
    if entries is None:
        return
    entries.append((key, message))
    del entries[:-_CACHE_ENTRIES]


# --- The scan ----------------------------------------------------------------

def partial_tiles(layout, nkv, device):
    """bool [B|1, H|1, NQ, NKV]: the tiles the kernels mask structurally,
    partial and not full (a tile in both lists is full)."""
    def decode(counts, indices):
        return _decode(counts.to(device), indices.to(device), nkv)
    partial = decode(layout.kv_num_blocks, layout.kv_indices)
    if layout.full_kv_num_blocks is not None:
        partial = partial & ~decode(layout.full_kv_num_blocks,
                                    layout.full_kv_indices)
    return partial


def tile_chunks(partial, B, Hq, tiles_per_chunk):
    """The partial tiles of every batch b < B and query head h < Hq (each
    from its layout row: index 0 on a broadcast dimension) as int64
    [n, 4] (b, h, query tile, key tile) chunks of at most tiles_per_chunk,
    in increasing (b, h, query tile, key tile) order."""
    nq, nkv = partial.shape[2:]
    rows_per_group = max(1, CHUNK_TILES // max(1, nq * nkv))
    device = partial.device
    for r0 in range(0, B * Hq, rows_per_group):
        rows = torch.arange(r0, min(B * Hq, r0 + rows_per_group),
                            device=device)
        b, h = rows // Hq, rows % Hq
        lb = b if partial.shape[0] > 1 else torch.zeros_like(b)
        lh = h if partial.shape[1] > 1 else torch.zeros_like(h)
        found = partial[lb, lh].nonzero()  # (row, query tile, key tile)
        tiles = torch.stack([b[found[:, 0]], h[found[:, 0]], found[:, 1],
                             found[:, 2]], 1)
        if len(tiles):
            yield from tiles.split(tiles_per_chunk)


class _Elements:
    """The elements of a chunk of tiles as broadcasting index tensors:
    b, h [n, 1, 1], q [n, bq, 1], kv [n, 1, bkv].

    Indices past Lq or Lk (in a short last tile) are clamped to the last
    in-bounds one: a mask function may index tables of Lq or Lk entries, and
    such an element repeats one of the same tile, so it adds no mismatch and
    only in-bounds elements count."""

    def __init__(self, tiles, block_q, block_kv, Lq, Lk):
        device = tiles.device
        self.b = tiles[:, 0, None, None]
        self.h = tiles[:, 1, None, None]
        q = (tiles[:, 2, None, None] * block_q +
             torch.arange(block_q, device=device)[None, :, None])
        kv = (tiles[:, 3, None, None] * block_kv +
              torch.arange(block_kv, device=device)[None, None, :])
        self.q = q.clamp(max=Lq - 1)
        self.kv = kv.clamp(max=Lk - 1)
        self.shape = (len(tiles), block_q, block_kv)


def structural(mask_kind, window, q, kv, Lq, Lk):
    """What the kernels see inside a partial tile (_spec.select_mask's
    kinds), broadcast like q and kv."""
    offset = Lk - Lq
    if mask_kind == "none":
        return torch.ones((), dtype=torch.bool, device=q.device)
    if mask_kind == "causal":
        return kv <= q
    if mask_kind == "causal_bottom_right":
        return kv <= q + offset
    left, right = window
    return (kv >= q + offset - left) & (kv <= q + offset + right)


def _disagreement(fn, layout, mask_kind, window, B, Hq, Lq, Lk, device):
    """The error message of the first (b, h, q, kv) where fn disagrees with
    the structural mask inside a partial tile, or None."""
    bq, bkv = layout.block_q, layout.block_kv
    nkv = -(-Lk // bkv)
    # Other structural masks that fn may match everywhere, to suggest one.
    candidates = [kind for kind, _ in SUGGESTIONS if kind != mask_kind]
    first = None
    with torch.no_grad():
        partial = partial_tiles(layout, nkv, device)
        tiles_per_chunk = max(1, CHUNK_ELEMENTS // (bq * bkv))
        for tiles in tile_chunks(partial, B, Hq, tiles_per_chunk):
            if first is not None and not candidates and (
                    _lower_bound(tiles[0], Hq, Lq, Lk, bq) > first[0]):
                break  # nothing later can come first
            el = _Elements(tiles, bq, bkv, Lq, Lk)
            says = evaluate(fn, el, device)
            wrong = says != structural(mask_kind, window, el.q, el.kv, Lq,
                                       Lk)
            if wrong.any():
                found = _first_wrong(wrong, says, el, Hq, Lq, Lk)
                if first is None or found[0] < first[0]:
                    first = found
            candidates = [kind for kind in candidates
                          if not _differs(says, el, kind, Lq, Lk)]
    if first is None:
        return None
    return _message(first, candidates, mask_kind, window, Lq, Lk)


def _differs(says, el, kind, Lq, Lk):
    seen = structural(kind, (0, 0), el.q, el.kv, Lq, Lk)
    return bool((says != seen).any())


def _element_key(b, h, q, kv, Hq, Lq, Lk):
    """The position of (b, h, q, kv) in row-major [B, Hq, Lq, Lk] order."""
    return ((b * Hq + h) * Lq + q) * Lk + kv


def _lower_bound(tile, Hq, Lq, Lk, block_q):
    """The smallest element key a chunk starting with `tile` can hold."""
    b, h, t, _ = tile.tolist()
    return _element_key(b, h, t * block_q, 0, Hq, Lq, Lk)


def _first_wrong(wrong, says, el, Hq, Lq, Lk):
    """(key, b, h, q, kv, what fn says) of the first wrong element."""
    keys = _element_key(el.b, el.h, el.q, el.kv, Hq, Lq, Lk)
    keys = torch.where(wrong, keys, torch.full_like(
        keys, torch.iinfo(torch.int64).max))
    at = int(keys.flatten().argmin())
    key = int(keys.flatten()[at])
    kv = key % Lk
    q = key // Lk % Lq
    h = key // (Lk * Lq) % Hq
    b = key // (Lk * Lq * Hq)
    return key, b, h, q, kv, bool(says.flatten()[at])


# --- Evaluating the mask function ---------------------------------------------

def evaluate(fn, el, device):
    """bool [n, bq, bkv]: fn on the elements `el`, with broadcasting index
    tensors, else under vmap on 0-d ones (as FlexAttention evaluates
    mask_mod). fn None shows every key (FlexAttention's noop_mask)."""
    if fn is None:
        return torch.ones(el.shape, dtype=torch.bool, device=device)
    try:
        result = _broadcast_call(fn, el, device)
    except Exception as broadcast_err:  # noqa: BLE001 - any failure: vmap
        try:
            result = _vmap_call(fn, el)
        except Exception as vmap_err:  # noqa: BLE001
            raise UnsupportedError(
                f"block_mask: its mask function cannot be evaluated on "
                f"index tensors of {device}, neither broadcasting "
                f"({type(broadcast_err).__name__}: {broadcast_err}) nor "
                f"under vmap ({type(vmap_err).__name__}: {vmap_err}). It is "
                f"checked against what the GPU kernels compute, so it must "
                f"take tensors (b, h, q_idx, kv_idx) like FlexAttention's "
                f"mask_mod, and find any tensor it indexes on the call's "
                f"device") from None
    if result.dtype != torch.bool:
        raise UnsupportedError(
            f"block_mask: its mask function returned {result.dtype}, "
            f"expected booleans (True = attend)")
    return result


def _broadcast_call(fn, el, device):
    result = torch.as_tensor(fn(el.b, el.h, el.q, el.kv), device=device)
    if result.dtype != torch.bool:
        return result  # refused by the caller, not retried under vmap
    return torch.broadcast_to(result, el.shape)


def _vmap():
    vmap = getattr(torch, "vmap", None)
    if vmap is None:
        from functorch import vmap  # torch < 2.0
    return vmap


def _vmap_call(fn, el):
    flat = [t.expand(el.shape).reshape(-1)
            for t in (el.b, el.h, el.q, el.kv)]
    return _vmap()(fn)(*flat).reshape(el.shape)


# --- The message -------------------------------------------------------------

def describe(mask_kind, window, Lq, Lk):
    """The structural mask of a call, in words."""
    offset = Lk - Lq
    if mask_kind == "none":
        return "neither is_causal nor window: every key visible"
    if mask_kind == "causal":
        return "is_causal=True: key j visible to query i iff j <= i"
    if mask_kind == "causal_bottom_right":
        return (f"window=(None, 0): key j visible to query i iff "
                f"j <= i + {offset}")
    left, right = window
    return (f"window ({left}, {right}): key j visible to query i iff "
            f"i + {offset - left} <= j <= i + {offset + right}")


def _message(first, candidates, mask_kind, window, Lq, Lk):
    _, b, h, q, kv, says = first
    seen = "visible" if says else "hidden"
    computed = "hidden" if says else "visible"
    if candidates:
        advice = dict(SUGGESTIONS)[candidates[0]]
    else:
        advice = ("Mask functions are not compiled into the GPU kernels "
                  "yet: use a block mask whose partial tiles the structural "
                  "mask of is_causal or window cuts exactly as its mask "
                  "function does (see docs/python.md), or another "
                  "implementation (e.g. torch's flex_attention) for this "
                  "mask.")
    return (f"block_mask: its mask function disagrees with the GPU kernels "
            f"inside a partial tile, first at batch {b}, head {h}, query "
            f"{q}, key {kv}: the mask function says {seen}, the kernels "
            f"would compute {computed} (the structural mask of "
            f"{describe(mask_kind, window, Lq, Lk)}). Inside partial tiles "
            f"the kernels apply only the structural mask, not the mask "
            f"function. {advice}")
