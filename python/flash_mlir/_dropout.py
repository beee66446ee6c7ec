"""Attention dropout as the kernels draw it (lib/Conversion/FlashToGPU/
Dropout.h): which elements a call with dropout keeps, computed here with
torch integer arithmetic, for tests and for callers that need the mask."""

import math

import torch

from ._errors import UnsupportedError

_MASK32 = 0xFFFFFFFF
# Philox4x32's multipliers and Weyl constants (Salmon et al., SC'11).
_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_WEYL = (0x9E3779B9, 0xBB67AE85)
_ROUNDS = 10


def check_p(dropout_p):
    """dropout_p as a float in [0, 1], or UnsupportedError."""
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)):
        raise UnsupportedError(
            f"dropout_p must be a float in [0, 1], got "
            f"{type(dropout_p).__name__}")
    p = float(dropout_p)
    if not 0.0 <= p <= 1.0:
        raise UnsupportedError(f"dropout_p must be in [0, 1], got {p}")
    return p


def keep_threshold(p):
    """The kernels' keep threshold: an element is kept when its 16 random
    bits are below it (flashrt_dropout)."""
    return math.floor((1.0 - p) * 65536.0 + 0.5)


def kept_scale(p):
    """The factor of the kept probabilities: 65536 / keep, 0 if none."""
    keep = keep_threshold(p)
    return 65536.0 / keep if keep else 0.0


def _mul_hi_lo(m, x):
    """The high and low 32 bits of m * x for a constant m and int64 x in
    [0, 2^32), without leaving int64."""
    lo16, hi16 = x & 0xFFFF, x >> 16
    t1, t2 = m * lo16, m * hi16
    high = (t2 + (t1 >> 16)) >> 16
    low = (((t2 & 0xFFFF) << 16) + t1) & _MASK32
    return high, low


def philox4x32(counter, key):
    """Philox4x32-10 of `counter` (four int64 tensors or ints of 32 bits)
    under `key` (two 32-bit ints): four int64 tensors of 32 bits."""
    c = [torch.as_tensor(w, dtype=torch.int64) for w in counter]
    k0, k1 = key
    for r in range(_ROUNDS):
        if r:
            k0 = (k0 + _WEYL[0]) & _MASK32
            k1 = (k1 + _WEYL[1]) & _MASK32
        hi0, lo0 = _mul_hi_lo(_MULTIPLIERS[0], c[0])
        hi1, lo1 = _mul_hi_lo(_MULTIPLIERS[1], c[2])
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return c


def dropout_mask(seed, offset, dropout_p, batch, query_heads, query_len,
                 key_len, device=None):
    """The elements a call with dropout (dropout_p, seed, offset) keeps, as a
    bool tensor [batch, query_heads, query_len, key_len] on `device`."""
    keep = keep_threshold(check_p(dropout_p))
    i = torch.arange(query_len, device=device, dtype=torch.int64)
    j = torch.arange(key_len, device=device, dtype=torch.int64)
    bh = torch.arange(batch * query_heads, device=device, dtype=torch.int64)
    query_group = ((i // 16) * 8 + i % 8).view(1, -1, 1)
    key_group = ((j // 16) * 4 + (j % 8) // 2).view(1, 1, -1)
    counter = (key_group, query_group, bh.view(-1, 1, 1),
               offset & _MASK32)
    words = philox4x32(counter, (seed & _MASK32, (seed >> 32) & _MASK32))
    word = (2 * ((i // 8) % 2)).view(1, -1, 1) + ((j // 8) % 2).view(1, 1, -1)
    picked = torch.where(word == 0, words[0],
                         torch.where(word == 1, words[1],
                                     torch.where(word == 2, words[2],
                                                 words[3])))
    bits = (picked >> (16 * (j % 2)).view(1, 1, -1)) & 0xFFFF
    return (bits < keep).view(batch, query_heads, query_len, key_len)


def draw_seed_offset(device):
    """A (seed, offset) pair for one call with dropout on CUDA `device`, from
    its default generator, which torch.manual_seed seeds: the generator's
    seed and its Philox offset, which the call advances as torch's own
    dropout does (no device synchronization)."""
    generator = torch.cuda.default_generators[
        device.index if device.index is not None
        else torch.cuda.current_device()]
    offset = generator.get_offset()
    generator.set_offset(offset + 4)
    # As signed 64-bit integers, which torch.library ops take; the kernels
    # see the same bits.
    return _signed64(generator.initial_seed()), _signed64(offset)


def _signed64(value):
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value
