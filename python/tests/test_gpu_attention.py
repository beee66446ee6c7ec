"""flash_mlir.attention on a GPU against a float64 reference: the error must
be within 2x of torch SDPA's own error in the same dtype, every output
element written (outputs are poisoned with NaN), lse within 1e-3 and -inf
exactly on rows that see no key.

Run with FLASH_MLIR_KERNELS=<flash-aot dir> FLASH_MLIR_RUNTIME=<path to
libFlashRuntime.so>; FLASH_MLIR_GPU_CASES sets the number of random cases.
"""

import math
import os
import random

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from gpu_util import (call_kwargs, check_against_reference,  # noqa: E402,F401
                      have, kernel_specs, make, poisoned, reference,
                      rel_error, visibility)

import flash_mlir  # noqa: E402
import torch.nn.functional as F  # noqa: E402

pytestmark = requires_cuda

MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]
LENGTHS = [1, 7, 17, 64, 65, 127, 128, 200, 333, 513, 1000]
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def check_case(c):
    dtype = DTYPES[c["dtype"]]
    q = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"], 1.5)
    k = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"], 1.5)
    v = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"])
    scale = c.get("scale") or 1 / math.sqrt(c["D"])
    gqa = c["Hq"] != c["Hkv"]
    out, lse = flash_mlir.attention(
        q, k, v, scale=c.get("scale"), enable_gqa=gqa, return_lse=True,
        **call_kwargs(c["mask"], c["window"]))
    torch.cuda.synchronize()
    assert out.shape == q.shape and out.dtype == dtype
    # The output keeps q's memory layout (strides of unit dimensions are
    # arbitrary).
    assert [s for s, n in zip(out.stride(), out.shape) if n > 1] == \
        [s for s, n in zip(q.stride(), q.shape) if n > 1]
    assert lse.shape == q.shape[:3] and lse.dtype == torch.float32
    visible = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], "cuda")
    check_against_reference(q, k, v, out, lse, visible, scale, c)


def random_cases(n, seed, specs):
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        hkv, g = rng.choice([1, 2, 3]), rng.choice([1, 1, 2, 4])
        mask = rng.choice(MASKS)
        c = dict(B=rng.choice([1, 2, 3]), Hkv=hkv, Hq=hkv * g,
                 Lq=rng.choice(LENGTHS), Lk=rng.choice(LENGTHS),
                 D=rng.choice([32, 40, 64, 80, 96, 128, 192, 256]),
                 mask=mask, dtype=rng.choice(["f16", "bf16"]),
                 layout=rng.choice(["bhld", "blhd"]),
                 window=(rng.choice([0, 5, 64, 300]),
                         rng.choice([0, 0, 9, 100])))
        if have(specs, c["D"], c["dtype"], mask):
            cases.append(c)
    return cases


SEED = int(os.environ.get("FLASH_MLIR_GPU_SEED", "1234"))
COUNT = int(os.environ.get("FLASH_MLIR_GPU_CASES", "60"))


@pytest.mark.parametrize("index", range(COUNT))
def test_random_case(index, poisoned):  # noqa: F811
    specs = kernel_specs()
    case = random_cases(COUNT, SEED, specs)[index]
    check_case(case)


def needs(dtype, mask, d=64):
    specs = kernel_specs()
    if not have(specs, d, dtype, mask):
        pytest.skip(f"no kernel d{d} {dtype} {mask}")


@pytest.mark.parametrize("mask", MASKS)
def test_gqa(mask, poisoned):  # noqa: F811
    needs("f16", mask)
    check_case(dict(B=2, Hq=8, Hkv=2, Lq=150, Lk=150, D=64, mask=mask,
                    dtype="f16", layout="blhd", window=(31, 3)))


def test_top_left_causal_with_more_keys(poisoned):  # noqa: F811
    needs("bf16", "causal")
    check_case(dict(B=1, Hq=2, Hkv=2, Lq=70, Lk=300, D=64, mask="causal",
                    dtype="bf16", layout="bhld", window=(0, 0)))


def test_empty_rows_from_a_window(poisoned):  # noqa: F811
    needs("f16", "sliding_window")
    # Lq > Lk, left = 0: the first Lq - Lk rows see nothing.
    check_case(dict(B=1, Hq=2, Hkv=2, Lq=300, Lk=100, D=64,
                    mask="sliding_window", dtype="f16", layout="bhld",
                    window=(0, 0)))


def test_explicit_scale(poisoned):  # noqa: F811
    needs("f16", "none", 128)
    check_case(dict(B=2, Hq=3, Hkv=3, Lq=129, Lk=257, D=128, mask="none",
                    dtype="f16", layout="bhld", window=(0, 0), scale=0.05))


def test_matches_sdpa_defaults():
    needs("f16", "causal")
    q, k, v = (torch.randn(2, 4, 256, 64, device="cuda", dtype=torch.float16)
               for _ in range(3))
    ours = flash_mlir.attention(q, k, v, is_causal=True)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (ours - theirs).abs().max().item() < 2e-2


def test_no_keys():
    needs("f16", "none")
    q = torch.randn(1, 2, 5, 64, device="cuda", dtype=torch.float16)
    k = torch.randn(1, 2, 0, 64, device="cuda", dtype=torch.float16)
    out, lse = flash_mlir.attention(q, k, k, return_lse=True)
    assert torch.equal(out, torch.zeros_like(out))
    assert torch.isneginf(lse).all()


def test_empty_batch():
    needs("f16", "none")
    q = torch.randn(0, 2, 5, 64, device="cuda", dtype=torch.float16)
    assert flash_mlir.attention(q, q, q).shape == q.shape


def test_misaligned_and_packed_inputs(poisoned):  # noqa: F811
    needs("f16", "none")
    # A packed [B, L, 3, H, D] projection, and a view 8 bytes off alignment.
    qkv = torch.randn(2, 100, 3, 4, 64, device="cuda", dtype=torch.float16)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    flat = torch.randn(2 * 4 * 100 * 64 + 4, device="cuda",
                       dtype=torch.float16)
    k_off = flat[4:].view(2, 4, 100, 64)
    for kk in (k, k_off):
        out = flash_mlir.attention(q, kk, v)
        ref, _ = reference(q, kk, v, torch.ones(100, 100, dtype=torch.bool,
                                                device="cuda"), 1 / 8)
        assert rel_error(out, ref) < 1e-2


def test_side_stream():
    needs("f16", "none")
    q, k, v = (torch.randn(2, 4, 512, 64, device="cuda", dtype=torch.float16)
               for _ in range(3))
    expected = flash_mlir.attention(q, k, v)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        out = flash_mlir.attention(q, k, v)
    stream.synchronize()
    assert torch.equal(out, expected)


def test_no_grad_is_fine():
    needs("f16", "none")
    q = torch.randn(1, 2, 64, 64, device="cuda", dtype=torch.float16,
                    requires_grad=True)
    with torch.no_grad():
        out = flash_mlir.attention(q, q, q)
    assert not out.requires_grad



def test_no_queries():
    needs("f16", "none")
    q = torch.randn(2, 4, 0, 64, device="cuda", dtype=torch.float16)
    k = torch.randn(2, 4, 37, 64, device="cuda", dtype=torch.float16)
    out, lse = flash_mlir.attention(q, k, k, return_lse=True)
    assert out.shape == q.shape and lse.shape == (2, 4, 0)
