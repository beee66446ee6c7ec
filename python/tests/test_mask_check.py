"""The check of a block mask's mask function against what the block-sparse
kernels compute (flash_mlir._mask_check), on CPU tensors.

The expected outcome is computed independently here: the mask function on
the whole [B, Hq, Lq, Lk] grid, the tiles decoded from the CSR lists with
plain Python, the structural mask from the call's arguments; the first
mismatch is the first (b, h, q, k) in row-major order inside a partial
tile.
"""

import random
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

import flash_mlir  # noqa: E402
from flash_mlir import UnsupportedError, _mask_check  # noqa: E402
from flash_mlir._layout import Layout  # noqa: E402
from flash_mlir._spec import select_mask  # noqa: E402

CPU = torch.device("cpu")


# --- The independent expectation ---------------------------------------------

def block_of(mask):
    size = getattr(mask, "block_size", None)
    return tuple(size if size is not None else mask.BLOCK_SIZE)


def layout_of(mask):
    return Layout(mask.kv_num_blocks, mask.kv_indices,
                  getattr(mask, "full_kv_num_blocks", None),
                  getattr(mask, "full_kv_indices", None), *block_of(mask))


def listed(counts, indices, nkv, pos):
    """The tiles a CSR row lists: its first min(count, N) entries inside
    [0, nkv)."""
    if counts is None:
        return set()
    row = indices[pos].tolist()
    n = max(0, min(int(counts[pos]), len(row)))
    return {j for j in row[:n] if 0 <= j < nkv}


def partial_elements(mask, b, hq, lq, lk):
    """bool [B, Hq, Lq, Lk]: the in-bounds elements of partial tiles, each
    (b, h) from its layout row (0 on a broadcast dimension)."""
    bq, bkv = block_of(mask)
    nkv = -(-lk // bkv)
    out = torch.zeros(b, hq, lq, lk, dtype=torch.bool)
    full_counts = getattr(mask, "full_kv_num_blocks", None)
    full_indices = getattr(mask, "full_kv_indices", None)
    for bi in range(b):
        for hi in range(hq):
            for t in range(-(-lq // bq)):
                def row(counts):
                    return (bi if counts.shape[0] > 1 else 0,
                            hi if counts.shape[1] > 1 else 0, t)
                tiles = listed(mask.kv_num_blocks, mask.kv_indices, nkv,
                               row(mask.kv_num_blocks))
                if full_counts is not None:
                    tiles -= listed(full_counts, full_indices, nkv,
                                    row(full_counts))
                for j in tiles:
                    out[bi, hi, t * bq:(t + 1) * bq,
                        j * bkv:(j + 1) * bkv] = True
    return out


def dense(fn, b, hq, lq, lk):
    """fn on the whole grid, bool [B, Hq, Lq, Lk] (None: all visible)."""
    shape = (b, hq, lq, lk)
    if fn is None:
        return torch.ones(shape, dtype=torch.bool)
    result = fn(torch.arange(b)[:, None, None, None],
                torch.arange(hq)[None, :, None, None],
                torch.arange(lq)[None, None, :, None],
                torch.arange(lk)[None, None, None, :])
    return torch.as_tensor(result).expand(shape)


def kernel_visible(lq, lk, is_causal=False, window=None):
    """The structural mask of SDPA's is_causal / flash_mlir's window."""
    i = torch.arange(lq)[:, None]
    j = torch.arange(lk)[None, :]
    if is_causal:
        return j <= i
    if window is None:
        return torch.ones(lq, lk, dtype=torch.bool)
    left, right = window
    visible = torch.ones(lq, lk, dtype=torch.bool)
    if left is not None:
        visible &= j >= i + lk - lq - left
    if right is not None:
        visible &= j <= i + lk - lq + right
    return visible


def expected_first(mask, fn, b, hq, lq, lk, is_causal=False, window=None):
    """(b, h, q, k, what fn says) of the first mismatch, or None."""
    says = dense(fn, b, hq, lq, lk)
    wrong = partial_elements(mask, b, hq, lq, lk) & (
        says != kernel_visible(lq, lk, is_causal, window))
    found = wrong.nonzero()
    if not len(found):
        return None
    first = tuple(found[0].tolist())
    return first + (bool(says[first]),)


# --- Running the check ---------------------------------------------------------

def check(mask, b, hq, is_causal=False, window=None, lengths=None):
    lq, lk = lengths or mask.seq_lengths
    kind, win = select_mask(is_causal, window, lq, lk)
    _mask_check.check_mask_function(mask, layout_of(mask), kind, win, b, hq,
                                    lq, lk, CPU)


def first_named(first):
    b, h, q, k, says = first
    seen, other = ("visible", "hidden") if says else ("hidden", "visible")
    return (rf"block_mask: .* first at batch {b}, head {h}, query {q}, key "
            rf"{k}: the mask function says {seen}, the kernels would compute "
            rf"{other} ")


def expect_refused(mask, fn, b, hq, is_causal=False, window=None,
                   advice=None):
    """Checks that the call is refused naming the independently found first
    mismatch (and `advice` when given); returns the message."""
    lq, lk = mask.seq_lengths
    first = expected_first(mask, fn, b, hq, lq, lk, is_causal, window)
    assert first is not None, "the case must have a mismatch"
    with pytest.raises(UnsupportedError, match=first_named(first)) as info:
        check(mask, b, hq, is_causal, window)
    if advice is not None:
        assert advice in str(info.value), str(info.value)
    return str(info.value)


def expect_accepted(mask, fn, b, hq, is_causal=False, window=None):
    lq, lk = mask.seq_lengths
    assert expected_first(mask, fn, b, hq, lq, lk, is_causal,
                          window) is None, "the case must have no mismatch"
    check(mask, b, hq, is_causal, window)


NOT_COMPILED = "Mask functions are not compiled into the GPU kernels yet"
PASS_CAUSAL = "pass is_causal=True"

BLOCKS = [(8, 8), (8, 16), (16, 8), (4, 4)]


def documents(ends, causal=False):
    """Tokens see their own document (ends: where documents end)."""
    ends_t = torch.tensor(ends)

    def fn(b, h, i, j):
        same = (torch.bucketize(i, ends_t, right=True) ==
                torch.bucketize(j, ends_t, right=True))
        return same & (j <= i) if causal else same
    return fn


def causal(b, h, i, j):
    return j <= i


# --- Masks from create_block_mask ---------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_documents_are_refused(seed):
    rng = random.Random(seed)
    length = rng.randint(30, 90)
    block = rng.choice(BLOCKS)
    # A boundary inside a tile makes that tile partial.
    ends = sorted({5, *rng.sample(range(6, length), 2)})
    is_causal = seed % 2 == 1
    fn = documents(ends, causal=is_causal)
    b, hq = rng.randint(1, 3), rng.randint(1, 3)
    mask = flash_mlir.create_block_mask(fn, None, None, length, length,
                                        block=block)
    expect_refused(mask, fn, b, hq, is_causal=is_causal, advice=NOT_COMPILED)


@pytest.mark.parametrize("seed", range(4))
def test_causal_documents_on_tile_boundaries_are_accepted(seed):
    rng = random.Random(seed)
    block = rng.choice(BLOCKS)
    step = max(block)
    length = step * rng.randint(3, 8)
    ends = sorted(set(rng.sample(range(step, length, step), 2)))
    fn = documents(ends, causal=True)
    mask = flash_mlir.create_block_mask(fn, None, None, length, length,
                                        block=block)
    expect_accepted(mask, fn, rng.randint(1, 3), rng.randint(1, 3),
                    is_causal=True)


@pytest.mark.parametrize("is_causal", [False, True])
def test_prefix_lm_is_refused(is_causal):
    rng = random.Random(7 + is_causal)
    block = rng.choice(BLOCKS)
    length = rng.randint(40, 80)
    prefix = block[1] * 2 + 3  # not on a tile boundary

    def prefix_lm(b, h, i, j):
        return (j < prefix) | (j <= i)
    mask = flash_mlir.create_block_mask(prefix_lm, None, None, length, length,
                                        block=block)
    expect_refused(mask, prefix_lm, 2, 2, is_causal=is_causal,
                   advice=NOT_COMPILED)


@pytest.mark.parametrize("seed", range(4))
def test_causal_without_is_causal_is_refused(seed):
    rng = random.Random(seed)
    lq, lk = rng.randint(20, 70), rng.randint(20, 70)
    mask = flash_mlir.create_block_mask(causal, None, None, lq, lk,
                                        block=rng.choice(BLOCKS))
    message = expect_refused(mask, causal, rng.randint(1, 3),
                             rng.randint(1, 3), advice=PASS_CAUSAL)
    assert "first at batch 0, head 0, query 0, key 1:" in message


@pytest.mark.parametrize("seed", range(4))
def test_causal_with_is_causal_is_accepted(seed):
    rng = random.Random(100 + seed)
    lq, lk = rng.randint(1, 70), rng.randint(1, 70)
    b, h = rng.choice([None, 2]), rng.choice([None, 3])
    mask = flash_mlir.create_block_mask(causal, b, h, lq, lk,
                                        block=rng.choice(BLOCKS))
    expect_accepted(mask, causal, b or 2, h or 3, is_causal=True)


def test_bottom_right_causal_suggests_the_window():
    lq, lk = 30, 53

    def bottom_right(b, h, i, j):
        return j <= i + lk - lq
    mask = flash_mlir.create_block_mask(bottom_right, None, None, lq, lk,
                                        block=(8, 8))
    expect_refused(mask, bottom_right, 1, 2, is_causal=True,
                   advice="pass window=(None, 0)")
    expect_accepted(mask, bottom_right, 1, 2, window=(None, 0))


def test_all_visible_partial_tiles_suggest_no_mask():
    # A mask function that shows every key of its partial tiles: a layout
    # whose partial tiles are listed by hand (no element is hidden there).
    mask = hand_built([(2, [0, 1]), (1, [1])], lengths=(16, 16))
    expect_refused(mask, None, 1, 1, is_causal=True,
                   advice="pass neither is_causal nor window")


@pytest.mark.parametrize("seed", range(5))
def test_sliding_windows(seed):
    rng = random.Random(seed)
    lq, lk = rng.randint(20, 70), rng.randint(20, 70)
    left = rng.choice([None, 0, 3, 17])
    right = rng.choice([None, 0, 5]) if left is not None else rng.choice(
        [0, 5])
    window = (left, right)

    def fn(b, h, i, j):
        return kernel_visible(lq, lk, window=window)[i, j]
    mask = flash_mlir.create_block_mask(fn, None, None, lq, lk,
                                        block=rng.choice(BLOCKS))
    expect_accepted(mask, fn, 2, 2, window=window)
    # The same mask function under another window: refused where the two
    # differ inside a partial tile.
    other = (left + 7 if left is not None else 7,
             right + 7 if right is not None else None)
    if expected_first(mask, fn, 2, 2, lq, lk, window=other) is not None:
        expect_refused(mask, fn, 2, 2, window=other)
    # And under no structural mask at all, unless the window hides nothing
    # inside the partial tiles.
    if expected_first(mask, fn, 2, 2, lq, lk) is not None:
        expect_refused(mask, fn, 2, 2)


def test_wider_window_is_refused():
    lq = lk = 64

    def fn(b, h, i, j):
        return (j <= i) & (j >= i - 10)
    mask = flash_mlir.create_block_mask(fn, None, None, lq, lk, block=(8, 8))
    expect_accepted(mask, fn, 1, 1, window=(10, 0))
    expect_refused(mask, fn, 1, 1, window=(11, 0), advice=NOT_COMPILED)
    expect_refused(mask, fn, 1, 1, window=(10, 1), advice=NOT_COMPILED)


def test_mask_function_sees_the_real_batch_and_head():
    # Causal, plus key i + 1 for batch 1, head 2: a layout built for b = h = 0
    # and broadcast hides that from the tiles, not from the check.
    def fn(b, h, i, j):
        return (j <= i) | ((b == 1) & (h == 2) & (j == i + 1))
    mask = flash_mlir.create_block_mask(fn, None, None, 40, 40, block=(8, 8))
    assert mask.kv_num_blocks.shape[:2] == (1, 1)
    expect_accepted(mask, fn, 1, 3, is_causal=True)  # no batch 1
    expect_accepted(mask, fn, 2, 2, is_causal=True)  # no head 2
    message = expect_refused(mask, fn, 2, 3, is_causal=True)
    assert "first at batch 1, head 2, query 0, key 1:" in message


def test_layout_per_batch_and_head():
    # Causal, without the first b + h query tiles: each (b, h) needs its own
    # layout row.
    def fn(b, h, i, j):
        return (j <= i) & (i // 8 >= b + h)
    mask = flash_mlir.create_block_mask(fn, 2, 3, 40, 40, block=(8, 8))
    expect_accepted(mask, fn, 2, 3, is_causal=True)
    shared = flash_mlir.create_block_mask(fn, None, None, 40, 40,
                                          block=(8, 8))
    message = expect_refused(shared, fn, 2, 3, is_causal=True)
    assert "first at batch 0, head 1, query 0, key 0:" in message
    per_batch = flash_mlir.create_block_mask(fn, 2, None, 40, 40,
                                             block=(8, 8))
    message = expect_refused(per_batch, fn, 2, 3, is_causal=True)
    assert "first at batch 0, head 1, query 0, key 0:" in message
    per_head = flash_mlir.create_block_mask(fn, None, 3, 40, 40,
                                            block=(8, 8))
    message = expect_refused(per_head, fn, 2, 3, is_causal=True)
    assert "first at batch 1, head 0, query 0, key 0:" in message


# --- Lengths that are not multiples of the block --------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_short_last_tiles(seed):
    rng = random.Random(seed)
    bq, bkv = rng.choice([(8, 8), (8, 16), (16, 8)])
    lq = bq * rng.randint(2, 5) + rng.randint(1, bq - 1)
    lk = bkv * rng.randint(2, 5) + rng.randint(1, bkv - 1)
    # Tables of exactly Lq and Lk entries: indexing past them would fail.
    q_doc = torch.arange(lq) // 13
    k_doc = torch.arange(lk) // 13
    seen = []

    def fn(b, h, i, j):
        seen.append((int(i.max()), int(j.max())))
        return (q_doc[i] == k_doc[j]) & (j <= i)
    mask = flash_mlir.create_block_mask(fn, None, None, lq, lk,
                                        block=(bq, bkv))
    seen.clear()
    # Document boundaries at multiples of 13 cut tiles: refused, naming the
    # first element; only in-bounds indices are evaluated.
    expect_refused(mask, fn, 1, 2, is_causal=True)
    assert seen and max(s[0] for s in seen) < lq
    assert max(s[1] for s in seen) < lk


def test_mismatch_in_the_short_corner_tile():
    lq, lk = 45, 37

    def fn(b, h, i, j):
        return (j <= i) & ~((i == lq - 1) & (j == lk - 2))
    mask = flash_mlir.create_block_mask(fn, None, None, lq, lk, block=(8, 8))
    message = expect_refused(mask, fn, 2, 1, is_causal=True)
    assert f"first at batch 0, head 0, query {lq - 1}, key {lk - 2}:" in \
        message


# --- Masks without a mask function, hand-built layouts --------------------------

def csr(rows, n=None):
    """int32 counts [1, 1, NQ] and indices [1, 1, NQ, N] of per-query-tile
    (count, entries) pairs."""
    n = n or max(len(entries) for _, entries in rows)
    counts = torch.tensor([[[c for c, _ in rows]]], dtype=torch.int32)
    indices = torch.tensor([[[e + [0] * (n - len(e)) for _, e in rows]]],
                           dtype=torch.int32)
    return counts, indices


def hand_built(partial_rows, full_rows=None, fn=None, lengths=(24, 30),
               block=(8, 8)):
    counts, indices = csr(partial_rows)
    full = csr(full_rows) if full_rows is not None else (None, None)
    return flash_mlir.BlockMask(counts, indices, *full, block, lengths,
                                mask_fn=fn)


def test_no_mask_function_is_all_visible():
    mask = hand_built([(2, [0, 3]), (1, [2]), (0, [])])
    expect_accepted(mask, None, 2, 2)
    expect_refused(mask, None, 2, 2, is_causal=True)
    # FlexAttention's form: BLOCK_SIZE, mask_mod None, no full lists.
    flex = SimpleNamespace(kv_num_blocks=mask.kv_num_blocks,
                           kv_indices=mask.kv_indices,
                           full_kv_num_blocks=None, full_kv_indices=None,
                           BLOCK_SIZE=(8, 8), seq_lengths=(24, 30),
                           mask_mod=None)
    expect_accepted(flex, None, 2, 2)
    expect_refused(flex, None, 2, 2, window=(None, 0))


def test_flex_attention_mask_mod_is_evaluated():
    flex = SimpleNamespace(
        kv_num_blocks=torch.tensor([[[1, 1, 1]]], dtype=torch.int32),
        kv_indices=torch.tensor([[[[0], [1], [2]]]], dtype=torch.int32),
        full_kv_num_blocks=None, full_kv_indices=None, BLOCK_SIZE=(8, 8),
        seq_lengths=(24, 24), mask_mod=causal)
    expect_accepted(flex, causal, 1, 1, is_causal=True)
    expect_refused(flex, causal, 1, 1, advice=PASS_CAUSAL)


def anti_causal(b, h, i, j):
    # Disagrees with is_causal everywhere off the diagonal.
    return j >= i


def test_only_listed_entries_count():
    nkv = 4  # lengths (24, 30), block 8: 3 query tiles, 4 key tiles
    # Tile (0, 2) is listed past the count: not checked.
    expect_accepted(hand_built([(0, [2]), (0, []), (0, [])], fn=anti_causal),
                    anti_causal, 1, 1, is_causal=True)
    # A count past the list's length takes the whole list.
    expect_refused(hand_built([(5, [2]), (0, []), (0, [])], fn=anti_causal),
                   anti_causal, 1, 1, is_causal=True)
    # Negative counts list nothing.
    expect_accepted(hand_built([(-1, [2]), (0, []), (0, [])],
                               fn=anti_causal), anti_causal, 1, 1,
                    is_causal=True)
    # Indices outside [0, NKV) are ignored (-1 is not the last tile).
    expect_accepted(hand_built([(3, [-1, nkv, nkv + 9]), (0, []), (0, [])],
                               fn=anti_causal), anti_causal, 1, 1,
                    is_causal=True)


def test_full_wins_and_repeats_count_once():
    # Tile (1, 2) is in both lists: full, so not checked.
    both = hand_built([(2, [2, 2]), (2, [2, 2]), (0, [])],
                      [(0, [0]), (1, [2]), (0, [])], fn=anti_causal)
    expect_refused(both, anti_causal, 1, 1, is_causal=True)
    lq, lk = both.seq_lengths
    first = expected_first(both, anti_causal, 1, 1, lq, lk, is_causal=True)
    assert first[2] < 8  # in query tile 0, the only partial (0, 2) tile
    only_full = hand_built([(2, [1, 1]), (3, [2, 1, 2]), (0, [])],
                           [(1, [1]), (2, [1, 2]), (0, [])], fn=anti_causal)
    expect_accepted(only_full, anti_causal, 1, 1, is_causal=True)


@pytest.mark.parametrize("seed", range(6))
def test_random_hand_built_layouts(seed):
    rng = random.Random(seed)
    bq, bkv = rng.choice(BLOCKS)
    lq, lk = rng.randint(1, 50), rng.randint(1, 50)
    nq, nkv = -(-lq // bq), -(-lk // bkv)
    lb, lh = rng.choice([1, 2]), rng.choice([1, 3])

    def random_rows():
        rows = []
        for _ in range(lb * lh * nq):
            entries = [rng.randrange(-2, nkv + 2) for _ in range(
                rng.randint(1, nkv + 2))]
            rows.append((rng.randint(-1, len(entries) + 1), entries))
        return rows

    def pack(rows):
        n = max(len(e) for _, e in rows)
        counts = torch.tensor([c for c, _ in rows], dtype=torch.int32)
        indices = torch.tensor([e + [0] * (n - len(e)) for _, e in rows],
                               dtype=torch.int32)
        return (counts.reshape(lb, lh, nq), indices.reshape(lb, lh, nq, n))

    table = torch.rand(2, 3, lq, lk, generator=torch.Generator().manual_seed(
        seed)) < 0.5

    def fn(b, h, i, j):
        return table[b, h, i, j] | (j <= i)
    full = pack(random_rows()) if rng.random() < 0.7 else (None, None)
    mask = flash_mlir.BlockMask(*pack(random_rows()), *full, (bq, bkv),
                                (lq, lk), mask_fn=fn)
    is_causal = rng.random() < 0.5
    if expected_first(mask, fn, 2, 3, lq, lk, is_causal) is None:
        expect_accepted(mask, fn, 2, 3, is_causal=is_causal)
    else:
        expect_refused(mask, fn, 2, 3, is_causal=is_causal)


# --- Evaluation ------------------------------------------------------------------

def test_scalar_only_mask_function_falls_back_to_vmap():
    # torch.stack needs equal shapes: it works on 0-d indices only.
    def scalar_causal(b, h, i, j):
        return torch.stack([i, j]).max() == i
    mask = flash_mlir.create_block_mask(causal, None, None, 40, 33,
                                        block=(8, 8))
    mask.mask_fn = scalar_causal
    expect_accepted(mask, causal, 2, 1, is_causal=True)
    expect_refused(mask, causal, 2, 1, advice=PASS_CAUSAL)


def test_mask_function_that_cannot_be_evaluated():
    def branchy(b, h, i, j):
        return torch.tensor(True) if i >= j else torch.tensor(False)
    mask = flash_mlir.create_block_mask(causal, None, None, 16, 16,
                                        block=(8, 8))
    mask.mask_fn = branchy
    with pytest.raises(UnsupportedError,
                       match=r"block_mask: its mask function cannot be "
                             r"evaluated .* neither broadcasting .* nor "
                             r"under vmap"):
        check(mask, 1, 1, is_causal=True)


@pytest.mark.parametrize("result", [
    lambda b, h, i, j: (j <= i).int(),
    lambda b, h, i, j: (i - j).float(),
])
def test_non_boolean_result(result):
    mask = flash_mlir.create_block_mask(causal, None, None, 16, 16,
                                        block=(8, 8))
    mask.mask_fn = result
    with pytest.raises(UnsupportedError,
                       match=r"block_mask: its mask function returned "
                             r"torch\.(int32|float32), expected booleans"):
        check(mask, 1, 1, is_causal=True)


def test_lexicographic_first_across_chunks(monkeypatch):
    # Query tile 0 disagrees at (5, 1) in key tile 0 and at (2, 9) in key
    # tile 1: the first in (query, key) order is the later tile's.
    def fn(b, h, i, j):
        return ~(((i == 5) & (j == 1)) | ((i == 2) & (j == 9)))
    mask = hand_built([(2, [0, 1]), (0, []), (0, [])], fn=fn)
    monkeypatch.setattr(_mask_check, "CHUNK_ELEMENTS", 64)  # a tile a chunk
    monkeypatch.setattr(_mask_check, "CHUNK_TILES", 1)
    message = expect_refused(mask, fn, 1, 1)
    assert "query 2, key 9:" in message


def recording(fn, sizes):
    """fn, appending the element count of each evaluation to `sizes`."""
    def recorded(b, h, i, j):
        sizes.append(torch.broadcast_shapes(b.shape, h.shape, i.shape,
                                            j.shape).numel())
        return fn(b, h, i, j)
    return recorded


@pytest.mark.parametrize("seed", range(4))
def test_chunking_changes_nothing(seed, monkeypatch):
    rng = random.Random(seed)
    lq, lk = rng.randint(30, 60), rng.randint(30, 60)
    same_document = documents(sorted({5, *rng.sample(range(6, min(lq, lk)),
                                                     2)}))

    # A mismatch late in the scan: batch 1, head 2 alone keeps to its
    # documents (the boundary at 5 cuts a diagonal tile).
    def fn(b, h, i, j):
        return (j <= i) & (same_document(b, h, i, j) | (b != 1) | (h != 2))
    mask = flash_mlir.create_block_mask(causal, None, None, lq, lk,
                                        block=(8, 8))
    mask.mask_fn = fn
    whole = expect_refused(mask, fn, 2, 3, is_causal=True)
    assert "first at batch 1, head 2," in whole
    sizes = []
    mask = flash_mlir.create_block_mask(causal, None, None, lq, lk,
                                        block=(8, 8))
    mask.mask_fn = recording(fn, sizes)
    limit = 64 * rng.randint(1, 3)
    monkeypatch.setattr(_mask_check, "CHUNK_ELEMENTS", limit)
    monkeypatch.setattr(_mask_check, "CHUNK_TILES", rng.randint(1, 20))
    with pytest.raises(UnsupportedError) as parts:
        check(mask, 2, 3, is_causal=True)
    assert str(parts.value) == whole
    assert len(sizes) > 1 and max(sizes) <= limit
    # Accepted: every partial element is evaluated, a chunk at a time.
    sizes.clear()
    accepted = flash_mlir.create_block_mask(causal, None, None, lq, lk,
                                            block=(8, 8))
    accepted.mask_fn = recording(causal, sizes)
    check(accepted, 2, 3, is_causal=True)
    partial_tiles = int((accepted.tile_states() == 1).sum())
    assert sum(sizes) == 2 * 3 * partial_tiles * 64
    assert max(sizes) <= limit


def test_memory_stays_bounded():
    # 256 (batch, head) rows of 16 diagonal 128 x 128 tiles: 2^26 elements,
    # evaluated in chunks of at most CHUNK_ELEMENTS.
    sizes = []
    mask = flash_mlir.create_block_mask(causal, None, None, 2048, 2048)
    mask.mask_fn = recording(causal, sizes)
    check(mask, 8, 32, is_causal=True)
    assert sum(sizes) == 8 * 32 * 16 * 128 * 128
    assert len(sizes) == 4 and max(sizes) <= _mask_check.CHUNK_ELEMENTS


# --- The cache -----------------------------------------------------------------

def counting(fn):
    def counted(b, h, i, j):
        counted.calls += 1
        return fn(b, h, i, j)
    counted.calls = 0
    return counted


def test_outcome_is_cached_until_the_layout_changes():
    documents_causal = documents([16], causal=True)
    fn = counting(documents_causal)
    mask = flash_mlir.create_block_mask(documents_causal, None, None, 40, 40,
                                        block=(8, 8))
    mask.mask_fn = fn
    check(mask, 2, 2, is_causal=True)
    calls = fn.calls
    assert calls > 0
    check(mask, 2, 2, is_causal=True)
    assert fn.calls == calls
    # Another call shape, another check.
    check(mask, 3, 2, is_causal=True)
    assert fn.calls > calls
    calls = fn.calls
    # An in-place edit of the layout: checked again, and refused: query
    # tile 2 lists key tile 0 (the first document's keys) as partial.
    assert mask.kv_num_blocks[0, 0, 2] == 1
    mask.kv_indices[0, 0, 2, 0] = 0
    with pytest.raises(UnsupportedError,
                       match="first at batch 0, head 0, query 16, key 0:"):
        check(mask, 2, 2, is_causal=True)
    assert fn.calls > calls


def test_cached_failure_raises_the_same_error():
    fn = counting(causal)
    mask = flash_mlir.create_block_mask(causal, None, None, 40, 40,
                                        block=(8, 8))
    mask.mask_fn = fn
    with pytest.raises(UnsupportedError) as first:
        check(mask, 2, 2)
    calls = fn.calls
    with pytest.raises(UnsupportedError) as again:
        check(mask, 2, 2)
    assert fn.calls == calls
    assert str(again.value) == str(first.value)
    # A new mask function is a new check.
    mask.mask_fn = counting(causal)
    with pytest.raises(UnsupportedError):
        check(mask, 2, 2)
    assert mask.mask_fn.calls > 0


def test_inference_tensors_are_checked_each_time():
    # No version counter: an in-place edit would go unseen, so no cache.
    with torch.inference_mode():
        mask = flash_mlir.create_block_mask(causal, None, None, 40, 40,
                                            block=(8, 8))
    fn = counting(causal)
    mask.mask_fn = fn
    check(mask, 1, 1, is_causal=True)
    calls = fn.calls
    check(mask, 1, 1, is_causal=True)
    assert calls > 0 and fn.calls == 2 * calls


class Slotted:
    """A mask that takes no new attribute."""
    __slots__ = ("kv_num_blocks", "kv_indices", "full_kv_num_blocks",
                 "full_kv_indices", "block_size", "seq_lengths", "mask_fn",
                 "__weakref__")

    def __init__(self, mask, fn):
        for name in Slotted.__slots__[:-2]:
            setattr(self, name, getattr(mask, name))
        self.mask_fn = fn


class Unreferenceable(Slotted):
    __slots__ = ()

    def __hash__(self):
        raise TypeError("unhashable")


def test_cache_without_attributes():
    base = flash_mlir.create_block_mask(causal, None, None, 40, 40,
                                        block=(8, 8))
    fn = counting(causal)
    slotted = Slotted(base, fn)
    check(slotted, 1, 1, is_causal=True)
    calls = fn.calls
    check(slotted, 1, 1, is_causal=True)
    assert fn.calls == calls  # cached beside the mask
    assert slotted in _mask_check._side_cache
    # No cache at all: checked each time, and still right.
    fn = counting(causal)
    bare = Unreferenceable(base, fn)
    check(bare, 1, 1, is_causal=True)
    calls = fn.calls
    check(bare, 1, 1, is_causal=True)
    assert fn.calls == 2 * calls
    with pytest.raises(UnsupportedError, match=PASS_CAUSAL):
        check(bare, 1, 1)


def test_the_cpu_errors_come_first():
    # The mask function is checked after the device: on the CPU the error is
    # the device's, as on any machine.
    q = torch.randn(1, 2, 40, 64, dtype=torch.float16)
    mask = flash_mlir.create_block_mask(causal, None, None, 40, 40)
    mask.mask_fn = counting(causal)
    with pytest.raises(UnsupportedError, match=r"q is on cpu"):
        flash_mlir.attention(q, q, q, block_mask=mask)
    assert mask.mask_fn.calls == 0
