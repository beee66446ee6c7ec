"""create_block_mask against a brute-force tiling of the dense mask."""

import random

import pytest

torch = pytest.importorskip("torch")

import flash_mlir  # noqa: E402
from flash_mlir.block_mask import DEAD, FULL, PARTIAL  # noqa: E402


def dense(mask_fn, b, h, lq, lk):
    """The mask, element by element, with Python ints."""
    out = torch.zeros(b, h, lq, lk, dtype=torch.bool)
    for bi in range(b):
        for hi in range(h):
            for i in range(lq):
                for j in range(lk):
                    out[bi, hi, i, j] = bool(mask_fn(
                        torch.tensor(bi), torch.tensor(hi), torch.tensor(i),
                        torch.tensor(j)))
    return out


def brute_states(visible, bq, bkv):
    b, h, lq, lk = visible.shape
    nq, nkv = -(-lq // bq), -(-lk // bkv)
    states = torch.zeros(b, h, nq, nkv, dtype=torch.int8)
    for t in range(nq):
        for s in range(nkv):
            tile = visible[:, :, t * bq:(t + 1) * bq, s * bkv:(s + 1) * bkv]
            for bi in range(b):
                for hi in range(h):
                    cell = tile[bi, hi]
                    if cell.all():
                        states[bi, hi, t, s] = FULL
                    elif cell.any():
                        states[bi, hi, t, s] = PARTIAL
    return states


def check_csr(num, idx, tiles):
    """num/idx list exactly the true tiles, in increasing order, 0-filled."""
    assert num.dtype == idx.dtype == torch.int32
    assert idx.shape[:-1] == num.shape and idx.shape[-1] >= 1
    for pos in torch.cartesian_prod(*(torch.arange(n) for n in num.shape)):
        pos = tuple(pos.tolist())
        n = int(num[pos])
        live = idx[pos][:n].tolist()
        assert live == torch.nonzero(tiles[pos]).flatten().tolist()
        assert idx[pos][n:].eq(0).all()


def causal(b, h, i, j):
    return j <= i


def sliding(b, h, i, j):
    return (j <= i) & (j > i - 5)


def documents(ends):
    """Block-diagonal: tokens see their own document (ends are boundaries)."""
    ends_t = torch.tensor(ends)

    def doc(pos):
        return torch.bucketize(pos, ends_t, right=True)

    def mask(b, h, i, j):
        return doc(i) == doc(j)
    return mask


def random_mask(b, h, lq, lk, seed):
    gen = torch.Generator().manual_seed(seed)
    table = torch.rand(b, h, lq, lk, generator=gen) < 0.3

    def mask(bi, hi, i, j):
        return table[bi, hi, i, j]
    return mask


def per_head(b, h, i, j):
    # Head h sees keys j with j % (h + 2) == 0 and the diagonal: depends on h.
    return (j % (h + 2) == 0) | (i == j)


CASES = [
    ("causal", causal, None, None, 37, 37, (8, 8)),
    ("causal, Lq < Lk", causal, None, None, 20, 45, (8, 16)),
    ("sliding", sliding, None, None, 50, 50, (8, 4)),
    ("documents", documents([5, 19, 40]), None, None, 44, 44, (8, 8)),
    ("random", random_mask(2, 3, 23, 29, 0), 2, 3, 23, 29, (4, 8)),
    ("per head", per_head, None, 3, 24, 24, (8, 8)),
    ("all visible", lambda b, h, i, j: torch.tensor(True), None, None, 10,
     33, (4, 4)),
    ("none visible", lambda b, h, i, j: i < 0, 2, None, 10, 10, (4, 4)),
]


@pytest.mark.parametrize("name,fn,b,h,lq,lk,block", CASES,
                         ids=[c[0] for c in CASES])
def test_against_brute_force(name, fn, b, h, lq, lk, block):
    mask = flash_mlir.create_block_mask(fn, b, h, lq, lk, block=block)
    visible = dense(fn, b or 1, h or 1, lq, lk)
    states = brute_states(visible, *block)
    assert mask.shape == (b or 1, h or 1, lq, lk)
    assert torch.equal(mask.tile_states(), states)
    check_csr(mask.kv_num_blocks, mask.kv_indices, states == PARTIAL)
    check_csr(mask.full_kv_num_blocks, mask.full_kv_indices, states == FULL)
    assert torch.equal(mask.to_dense(), states != DEAD)


def test_chunked_evaluation_matches(monkeypatch):
    from flash_mlir import block_mask
    fn = documents([7, 30, 31, 60])
    whole = flash_mlir.create_block_mask(fn, 2, None, 70, 65, block=(8, 8))
    monkeypatch.setattr(block_mask, "_CHUNK_ELEMENTS", 1)  # one tile a chunk
    chunked = flash_mlir.create_block_mask(fn, 2, None, 70, 65, block=(8, 8))
    assert torch.equal(whole.tile_states(), chunked.tile_states())


def test_random_against_brute_force():
    rng = random.Random(1)
    for seed in range(5):
        b, h = rng.choice([None, 1, 2]), rng.choice([None, 1, 3])
        lq, lk = rng.randint(1, 40), rng.randint(1, 40)
        block = (rng.choice([1, 4, 16]), rng.choice([2, 8, 64]))
        fn = random_mask(b or 1, h or 1, lq, lk, seed)
        mask = flash_mlir.create_block_mask(fn, b, h, lq, lk, block=block)
        states = brute_states(dense(fn, b or 1, h or 1, lq, lk), *block)
        assert torch.equal(mask.tile_states(), states), (b, h, lq, lk, block)


def test_default_block_and_sizes():
    mask = flash_mlir.create_block_mask(causal, None, None, 1000, 600)
    assert mask.block_size == (128, 128)
    assert mask.num_tiles == (8, 5)
    assert mask.kv_num_blocks.shape == (1, 1, 8)
    assert mask.kv_indices.shape[:3] == (1, 1, 8)
    # Causal, Lq > Lk: the diagonal tiles are partial, those below full.
    assert mask.full_kv_num_blocks.flatten().tolist() == [0, 1, 2, 3, 4, 5,
                                                          5, 5]
    assert "sparsity" in repr(mask)


def test_empty_lengths():
    mask = flash_mlir.create_block_mask(causal, None, None, 0, 5, block=(4, 4))
    assert mask.kv_num_blocks.shape == (1, 1, 0)
    mask = flash_mlir.create_block_mask(causal, None, None, 5, 0, block=(4, 4))
    assert mask.kv_num_blocks.tolist() == [[[0, 0]]]
    assert mask.kv_indices.shape == (1, 1, 2, 1)


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"B": 0}, ValueError, r"B must be a positive int or None"),
    ({"Lq": -1}, ValueError, r"Lq must be an int >= 0"),
    ({"block": (0, 8)}, ValueError, r"block_q must be a positive int"),
    ({"block": 8}, ValueError, r"block must be \(block_q, block_kv\)"),
    ({"mask_fn": lambda b, h, i, j: i - j}, TypeError,
     r"mask_fn must return booleans"),
])
def test_bad_arguments(kwargs, exc, match):
    args = dict(mask_fn=causal, B=None, H=None, Lq=8, Lk=8, block=(4, 4))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        flash_mlir.create_block_mask(**args)
