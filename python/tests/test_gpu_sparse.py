"""flash_mlir.attention with a block_mask on a GPU, against the float64
reference of the same dense-masked problem: a key is visible when its tile
is full, or partial and inside the structural mask (is_causal / window).
Fresh random inputs and layouts: densities from 1 to 0.1, partial and full
lists (unsorted, overlapping, with repeats and out-of-range indices), shared
or per-batch/head layouts, GQA, odd lengths. The bounds are those of
test_gpu_attention.py: error within 2x of SDPA's own in the same dtype (SDPA
given the dense boolean mask), every output written (outputs poisoned with
NaN), lse within 1e-3 and -inf exactly on rows that see no key. The
random layouts carry the structural mask as their mask function, as the
package checks that mask functions are what the kernels compute; masks of
FlexAttention's create_block_mask that the kernels would get wrong
(documents, prefix-LM, causal without is_causal) are refused.

Run with FLASH_MLIR_KERNELS=<flash-aot dir with block-sparse kernels>
FLASH_MLIR_RUNTIME=<libFlashRuntime.so>; FLASH_MLIR_GPU_SPARSE_CASES sets
the number of random cases (default 40), FLASH_MLIR_GPU_SEED the seed.
"""

import math
import os
import random

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from gpu_util import (call_kwargs, check_against_reference,  # noqa: E402,F401
                      have, kernel_specs, layout_visibility, make, poisoned,
                      reference, rel_error, tile_states, visibility)

import flash_mlir  # noqa: E402
import torch.nn.functional as F  # noqa: E402

pytestmark = requires_cuda

MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]
LENGTHS = [1, 7, 64, 65, 127, 128, 129, 200, 333, 513, 1000]
# Blocks of 128 x 64 multiples fit every kernel's tiles.
BLOCKS = [(128, 128), (128, 64), (256, 128), (128, 256)]
DENSITIES = [1.0, 0.5, 0.25, 0.1]
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def pack(rows, shape, device):
    """CSR lists (int32 counts [*shape], indices [*shape, N]) of per-row
    entry lists, padded with 0."""
    n = max(1, max((len(r) for r in rows), default=1))
    counts = torch.tensor([len(r) for r in rows], dtype=torch.int32)
    indices = torch.tensor([r + [0] * (n - len(r)) for r in rows],
                           dtype=torch.int32)
    return (counts.reshape(shape).to(device),
            indices.reshape(shape + (n,)).to(device))


def structural_mask_fn(mask, window, lq, lk):
    """The mask function of a structural mask (None for "none": every key
    visible), so that a random layout's partial tiles are what the kernel
    computes there."""
    if mask == "none":
        return None
    visible = visibility(mask, lq, lk, window, "cuda")
    return lambda b, h, i, j: visible[i, j]


def random_layout(rng, lb, lh, lq, lk, block, density, full_fraction,
                  oddities, device="cuda", mask_fn=None):
    """A flash_mlir.BlockMask of random tiles: each live with probability
    `density`, full with `full_fraction`. With `oddities`, lists come
    unsorted, with repeats, tiles listed in both lists (full wins) and
    indices outside [0, NKV)."""
    bq, bkv = block
    nq, nkv = -(-lq // bq), -(-lk // bkv)
    partial_rows, full_rows = [], []
    for _ in range(lb * lh * nq):
        partial, full = [], []
        for j in range(nkv):
            if rng.random() < density:
                (full if rng.random() < full_fraction else partial).append(j)
        if oddities:
            if partial and rng.random() < 0.5:
                partial.append(rng.choice(partial))  # a repeat
            if full and rng.random() < 0.5:
                partial.append(rng.choice(full))  # in both lists: full
            if rng.random() < 0.5:
                partial.append(rng.choice([-1, nkv, nkv + 7]))
            rng.shuffle(partial)
            rng.shuffle(full)
        partial_rows.append(partial)
        full_rows.append(full)
    shape = (lb, lh, nq)
    counts, indices = pack(partial_rows, shape, device)
    full_counts, full_indices = pack(full_rows, shape, device)
    return flash_mlir.BlockMask(counts, indices, full_counts, full_indices,
                                block, (lq, lk), mask_fn)


def check_case(c, block_mask=None, rng=None):
    dtype = DTYPES[c["dtype"]]
    q = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"], 1.5)
    k = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"], 1.5)
    v = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"])
    if block_mask is None:
        block_mask = random_layout(
            rng, c["B"] if c["per_batch"] else 1,
            c["Hq"] if c["per_head"] else 1, c["Lq"], c["Lk"], c["block"],
            c["density"], c["full"], c["oddities"],
            mask_fn=structural_mask_fn(c["mask"], c["window"], c["Lq"],
                                       c["Lk"]))
    scale = 1 / math.sqrt(c["D"])
    gqa = c["Hq"] != c["Hkv"]
    out, lse = flash_mlir.attention(
        q, k, v, enable_gqa=gqa, block_mask=block_mask, return_lse=True,
        **call_kwargs(c["mask"], c["window"]))
    torch.cuda.synchronize()
    assert out.shape == q.shape and out.dtype == dtype
    assert lse.shape == q.shape[:3] and lse.dtype == torch.float32

    nkv = -(-c["Lk"] // block_mask.block_size[1])
    states = tile_states(block_mask.kv_num_blocks, block_mask.kv_indices,
                         block_mask.full_kv_num_blocks,
                         block_mask.full_kv_indices, nkv)
    visible = layout_visibility(states.cuda(), c["mask"], c["Lq"], c["Lk"],
                                c["window"], *block_mask.block_size)
    check_against_reference(q, k, v, out, lse, visible, scale, c)
    return out


def random_cases(n, seed, specs):
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        hkv, g = rng.choice([1, 2]), rng.choice([1, 1, 2, 4])
        mask = rng.choice(MASKS)
        c = dict(B=rng.choice([1, 2, 3]), Hkv=hkv, Hq=hkv * g,
                 Lq=rng.choice(LENGTHS), Lk=rng.choice(LENGTHS),
                 D=rng.choice([32, 64, 64, 80, 96, 128, 128, 192, 256]),
                 mask=mask, dtype=rng.choice(["f16", "bf16"]),
                 layout=rng.choice(["bhld", "blhd"]),
                 window=(rng.choice([0, 5, 64, 300]),
                         rng.choice([0, 0, 9, 100])),
                 block=rng.choice(BLOCKS), density=rng.choice(DENSITIES),
                 full=rng.choice([0.0, 0.5, 1.0]),
                 oddities=rng.random() < 0.5,
                 per_batch=rng.random() < 0.5, per_head=rng.random() < 0.5)
        if have(specs, c["D"], c["dtype"], mask):
            cases.append(c)
    return cases


SEED = int(os.environ.get("FLASH_MLIR_GPU_SEED", "1234"))
COUNT = int(os.environ.get("FLASH_MLIR_GPU_SPARSE_CASES", "40"))


def sparse_specs():
    return kernel_specs(block_sparse=True)


@pytest.mark.parametrize("index", range(COUNT))
def test_random_case(index, poisoned):  # noqa: F811
    specs = sparse_specs()
    case = random_cases(COUNT, SEED, specs)[index]
    check_case(case, rng=random.Random(SEED * 1000 + index))


def needs(dtype, mask, d=64):
    if not have(sparse_specs(), d, dtype, mask):
        pytest.skip(f"no block-sparse kernel d{d} {dtype} {mask}")


def base_case(**changes):
    c = dict(B=2, Hq=8, Hkv=2, Lq=1000, Lk=777, D=64, mask="causal",
             dtype="f16", layout="bhld", window=(100, 0), block=(128, 128),
             density=0.5, full=0.5, oddities=True, per_batch=True,
             per_head=True)
    c.update(changes)
    return c


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("density", DENSITIES)
def test_densities_gqa(mask, density, poisoned):  # noqa: F811
    needs("f16", mask)
    check_case(base_case(mask=mask, density=density),
               rng=random.Random(int(density * 100)))


@pytest.mark.parametrize("d", [64, 128])
def test_all_full_layout_is_the_dense_kernel(d, poisoned):  # noqa: F811
    needs("bf16", "none", d)
    needs_dense = kernel_specs()
    if not have(needs_dense, d, "bf16", "none"):
        pytest.skip("no dense kernel to compare with")
    c = base_case(D=d, mask="none", dtype="bf16", density=1.0, full=1.0,
                  oddities=False, per_batch=False, per_head=False)
    torch.manual_seed(0)
    sparse = check_case(c, rng=random.Random(0))
    torch.manual_seed(0)
    q = make(c["B"], c["Hq"], c["Lq"], d, torch.bfloat16, "bhld", 1.5)
    k = make(c["B"], c["Hkv"], c["Lk"], d, torch.bfloat16, "bhld", 1.5)
    v = make(c["B"], c["Hkv"], c["Lk"], d, torch.bfloat16, "bhld")
    dense = flash_mlir.attention(q, k, v, enable_gqa=True)
    # The same tiles, visited in another order: rounding apart, equal.
    assert rel_error(sparse, dense.double()) < 1e-2


def test_causal_block_mask_is_causal_attention(poisoned):  # noqa: F811
    needs("f16", "causal")
    # The layout of the causal mask with is_causal: SDPA's causal attention.
    q, k, v = (torch.randn(2, 4, 700, 64, device="cuda", dtype=torch.float16)
               for _ in range(3))
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: j <= i, None, None,
                                        700, 700, device="cuda")
    ours = flash_mlir.attention(q, k, v, is_causal=True, block_mask=mask)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (ours - theirs).abs().max().item() < 2e-2


def test_no_live_tile(poisoned):  # noqa: F811
    needs("f16", "none")
    check_case(base_case(mask="none", density=0.0), rng=random.Random(0))


def test_mask_built_on_the_cpu():
    needs("f16", "none")
    q, k, v = (torch.randn(1, 2, 300, 64, device="cuda", dtype=torch.float16)
               for _ in range(3))
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: (i // 128) == (
        j // 128), None, None, 300, 300)
    assert mask.kv_num_blocks.device.type == "cpu"
    out = flash_mlir.attention(q, k, v, block_mask=mask)
    visible = mask.mask_fn(None, None, torch.arange(300)[:, None],
                           torch.arange(300)[None, :]).cuda()
    ref, _ = reference(q, k, v, visible, 1 / 8)
    assert rel_error(out, ref) < 1e-2


def test_layout_must_fit_the_kernel():
    needs("f16", "none")
    from flash_mlir import _kernels
    kernel = _kernels.get_kernel(torch.cuda.current_device(), 64, "f16",
                                 "none", ("block_sparse",))
    cta_q, cta_kv = kernel.info.cta_q, kernel.info.cta_kv
    # 64 x 32 blocks pass the package's own check; they split into the
    # kernel's tiles only if it takes 64 query rows and 32-key tiles.
    if cta_q == 64 and cta_kv == 32:
        pytest.skip("the d64 kernel takes 64 x 32 layouts")
    q = torch.randn(1, 2, 256, 64, device="cuda", dtype=torch.float16)
    # Block-diagonal on 64-token blocks: full or dead tiles only, so that the
    # mask function is what the kernel computes.
    mask = flash_mlir.create_block_mask(lambda b, h, i, j: i // 64 == j // 64,
                                        None, None, 256, 256, block=(64, 32),
                                        device="cuda")
    with pytest.raises(flash_mlir.UnsupportedError,
                       match=rf"block size \(64, 32\) does not fit kernel "
                             rf"flash_fwd_d64_f16_none_sparse_.*: block_q must "
                             rf"be a multiple of {cta_q} and block_kv of "
                             rf"{cta_kv}"):
        flash_mlir.attention(q, q, q, block_mask=mask)


def test_flex_attention_block_mask():
    needs("bf16", "causal")
    flex = pytest.importorskip("torch.nn.attention.flex_attention")
    q, k, v = (torch.randn(2, 4, 1000, 64, device="cuda",
                           dtype=torch.bfloat16) for _ in range(3))
    mask = flex.create_block_mask(lambda b, h, i, j: j <= i, None, None,
                                  1000, 1000, device="cuda")
    ours = flash_mlir.attention(q, k, v, is_causal=True, block_mask=mask)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    # bf16: an ulp is 2^-7 of the value.
    torch.testing.assert_close(ours.float(), theirs.float(), atol=2e-2,
                               rtol=2e-2)


# --- FlexAttention's block masks: the mask function is checked -----------------

FLEX_L = 2048


def flex_mask_mod(name):
    """A FlexAttention mask_mod over FLEX_L tokens, on the GPU."""
    position = torch.arange(FLEX_L, device="cuda")
    document = position // 300  # documents of 300 tokens
    aligned = position // 256  # of 256: boundaries on the 128 blocks
    return {
        "causal": lambda b, h, q, kv: kv <= q,
        "documents": lambda b, h, q, kv: document[q] == document[kv],
        "documents_causal": lambda b, h, q, kv: (
            (document[q] == document[kv]) & (kv <= q)),
        "aligned_documents_causal": lambda b, h, q, kv: (
            (aligned[q] == aligned[kv]) & (kv <= q)),
        # The first 500 keys visible to every query, causal after them.
        "prefix_lm": lambda b, h, q, kv: (kv < 500) | (kv <= q),
    }[name]


def flex_case(name, is_causal, run=True):
    """q, k, v [1, 4, FLEX_L, 64] bf16, the named mask_mod and its
    FlexAttention BlockMask (128 x 128 blocks). `run`: the case launches a
    kernel (a refused one needs none)."""
    flex = pytest.importorskip("torch.nn.attention.flex_attention")
    if run:
        needs("bf16", "causal" if is_causal else "none")
    torch.manual_seed(0)
    q, k, v = (make(1, 4, FLEX_L, 64, torch.bfloat16, "bhld")
               for _ in range(3))
    mask_mod = flex_mask_mod(name)
    block_mask = flex.create_block_mask(mask_mod, None, None, FLEX_L, FLEX_L,
                                        device="cuda")
    return q, k, v, mask_mod, block_mask


def dense_mask(mask_mod):
    i = torch.arange(FLEX_L, device="cuda")
    return mask_mod(None, None, i[:, None], i[None, :])


@pytest.mark.parametrize("name,is_causal,advice", [
    ("documents", False, "not compiled into the GPU kernels yet"),
    ("documents_causal", True, "not compiled into the GPU kernels yet"),
    ("prefix_lm", True, "not compiled into the GPU kernels yet"),
    ("causal", False, "pass is_causal=True"),
])
def test_flex_mask_the_kernels_would_get_wrong_is_refused(name, is_causal,
                                                          advice):
    q, k, v, mask_mod, block_mask = flex_case(name, is_causal, run=False)
    # The first element where the kernel's view (the structural mask in
    # partial tiles, everything in full ones) differs from mask_mod. Its
    # layout is shared by the 4 heads: batch 0, head 0.
    nkv = FLEX_L // 128
    states = tile_states(block_mask.kv_num_blocks, block_mask.kv_indices,
                         block_mask.full_kv_num_blocks,
                         block_mask.full_kv_indices, nkv)
    kernel = layout_visibility(states, "causal" if is_causal else "none",
                               FLEX_L, FLEX_L, None, 128, 128)[0, 0]
    wrong = (kernel != dense_mask(mask_mod)).nonzero()
    assert len(wrong), "the case must have a mismatch"
    i, j = wrong[0].tolist()
    says = "visible" if bool(dense_mask(mask_mod)[i, j]) else "hidden"
    with pytest.raises(flash_mlir.UnsupportedError,
                       match=rf"block_mask: .* first at batch 0, head 0, "
                             rf"query {i}, key {j}: the mask function says "
                             rf"{says}") as info:
        flash_mlir.attention(q, k, v, is_causal=is_causal,
                             block_mask=block_mask)
    assert advice in str(info.value)


@pytest.mark.parametrize("name", ["causal", "aligned_documents_causal"])
def test_flex_mask_the_kernels_compute_runs(name, poisoned):  # noqa: F811
    # Causal, and causal documents of 256 tokens (boundaries on the 128
    # blocks): with is_causal=True the partial tiles are the diagonal ones,
    # where the structural mask is mask_mod.
    q, k, v, mask_mod, block_mask = flex_case(name, True)
    out, lse = flash_mlir.attention(q, k, v, is_causal=True,
                                    block_mask=block_mask, return_lse=True)
    torch.cuda.synchronize()
    visible = dense_mask(mask_mod)[None, None]
    check_against_reference(q, k, v, out, lse, visible, 1 / 8,
                            {"flex": name})
