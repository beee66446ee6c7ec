"""flash_mlir.dropout_mask, the host's copy of the kernels' dropout mask
(lib/Conversion/FlashToGPU/Dropout.h): Philox4x32-10 against Random123's
known-answer vectors, the mask against a scalar reimplementation of the
layout on random shapes, seeds and offsets, and its keep rate."""

import math
import random

import pytest

torch = pytest.importorskip("torch")

import flash_mlir  # noqa: E402
from flash_mlir import _dropout  # noqa: E402
from flash_mlir import UnsupportedError  # noqa: E402

M32 = 0xFFFFFFFF


def scalar_philox(counter, key):
    """Philox4x32-10 on Python ints (Salmon et al., SC'11)."""
    c, (k0, k1) = list(counter), key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & M32, (p0 >> 32) ^ c[3] ^ k1,
             p0 & M32]
    return c


# Random123's kat_vectors for philox4x32_10: counter, key, result.
KAT = [
    ((0, 0, 0, 0), (0, 0),
     (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((M32, M32, M32, M32), (M32, M32),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344),
     (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in _dropout.philox4x32(counter, key)) == \
        expected
    assert tuple(scalar_philox(counter, key)) == expected


def scalar_kept(seed, offset, p, b, h, hq, i, j):
    """Element (b, h, i, j) as Dropout.h describes it, one draw each."""
    words = scalar_philox(
        ((j // 16) * 4 + (j % 8) // 2, (i // 16) * 8 + i % 8, b * hq + h,
         offset & M32), (seed & M32, (seed >> 32) & M32))
    word = words[2 * ((i // 8) % 2) + (j // 8) % 2]
    bits = (word >> (16 * (j % 2))) & 0xFFFF
    return bits < math.floor((1 - p) * 65536 + 0.5)


@pytest.mark.parametrize("trial", range(6))
def test_mask_matches_the_scalar_layout(trial):
    rng = random.Random(trial)
    b, hq = rng.randint(1, 2), rng.randint(1, 3)
    lq, lk = rng.randint(1, 40), rng.randint(1, 40)
    seed, offset = rng.getrandbits(64), rng.getrandbits(64)
    p = rng.choice([0.0, 0.1, 0.5, 0.97, 1.0])
    mask = flash_mlir.dropout_mask(seed, offset, p, b, hq, lq, lk)
    assert mask.shape == (b, hq, lq, lk) and mask.dtype == torch.bool
    for _ in range(300):
        e = (rng.randrange(b), rng.randrange(hq), rng.randrange(lq),
             rng.randrange(lk))
        assert bool(mask[e]) == scalar_kept(seed, offset, p, e[0], e[1], hq,
                                            e[2], e[3]), (e, seed, offset, p)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate(p):
    mask = flash_mlir.dropout_mask(12345, 8, p, 2, 3, 256, 256)
    n = mask.numel()
    keep = _dropout.keep_threshold(p) / 65536
    sigma = math.sqrt(keep * (1 - keep) / n)
    assert abs(mask.double().mean().item() - keep) < 5 * sigma
    # Neighbouring offsets and seeds draw other masks.
    for other in (flash_mlir.dropout_mask(12345, 12, p, 2, 3, 256, 256),
                  flash_mlir.dropout_mask(12346, 8, p, 2, 3, 256, 256)):
        agree = (other == mask).double().mean().item()
        assert abs(agree - (keep ** 2 + (1 - keep) ** 2)) < 10 * sigma


def test_threshold_and_scale():
    assert _dropout.keep_threshold(0.0) == 65536
    assert _dropout.keep_threshold(1.0) == 0
    assert _dropout.keep_threshold(0.1) == 58982
    assert _dropout.kept_scale(1.0) == 0.0
    assert _dropout.kept_scale(0.1) == 65536 / 58982
    assert flash_mlir.dropout_mask(1, 2, 0.0, 1, 1, 33, 33).all()
    assert not flash_mlir.dropout_mask(1, 2, 1.0, 1, 1, 33, 33).any()


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.1", True])
def test_bad_probabilities_are_refused(bad):
    with pytest.raises(UnsupportedError, match="dropout_p must be"):
        _dropout.check_p(bad)
