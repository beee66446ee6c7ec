#!/usr/bin/env python3
"""Numerics sweep of flash_mlir.attention over random held-out shapes
(issue 25): for N cases drawn from a seed, shapes with tails (L = 1, Lk = 1,
lengths off every tile size up to 2k), head dims of every multiple of 8 up
to 256, GQA, both layouts, f16 and bf16, the four mask kinds with windows
that leave rows with no visible key, scales that push the logits up to
about ±1e4, and, in a tenth of the cases, NaN or ±inf written into q or k.

The reference is reference.reference: PyTorch's math formula in float64,
softmax(mask(Q Kᵀ · scale)) V, where a row that sees no key gives 0 (the
dialect's rule; SDPA gives NaN there). A case passes when
- NaN appears in exactly the output rows where the reference has NaN (an
  infinite or NaN score spreads to its row, as the formula does), and
- on the other rows, ||out - ref|| / ||ref|| is within 2x (+ 1e-6) of the
  larger error of PyTorch's own attention in the element type: SDPA with
  the mask as a boolean attn_mask (its default backend), and the math
  formula in the element type (reference.eager; near one-hot rows, whose
  probabilities round to exactly 1 there, make it almost exact), and the
  rows that see no key are exactly 0.
(NaN or inf in v is not drawn: the formula multiplies it by the 0 of
masked keys, which the kernels, like FlashAttention, never visit.)

Usage: sweep_numerics.py [--cases 1000] [--seed S]
"""

import argparse
import math
import random
import sys

import torch
import torch.nn.functional as F

import flash_mlir
from reference import call_kwargs, eager, make, reference, visibility

MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]


def random_length(rng):
    return rng.choice([1, 1, 2, 7, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128,
                       129, 191, 255, 256, 257, 333, 511, 513, 777, 1000,
                       1023, 1025, 2047])


def random_case(rng):
    hkv = rng.choice([1, 2, 3])
    mask = rng.choice(MASKS)
    return dict(B=rng.choice([1, 2]), Hkv=hkv,
                Hq=hkv * rng.choice([1, 1, 2, 4]),
                Lq=random_length(rng), Lk=random_length(rng),
                D=8 * rng.randint(1, 32), mask=mask,
                window=(rng.choice([0, 3, 64, 500]),
                        rng.choice([0, 0, 5, 100])),
                dtype=rng.choice(["f16", "bf16"]),
                layout=rng.choice(["bhld", "blhd"]),
                # Logits of about scale_mult x amp^2: up to ~1e4.
                scale_mult=rng.choice([1.0, 1.0, 30.0, 300.0]),
                amp=rng.choice([1.0, 1.0, 6.0]),
                poison=rng.choice([None] * 9 + ["q", "k"]),
                poison_value=rng.choice([math.nan, math.inf, -math.inf]))


def run_case(c, rng):
    dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[c["dtype"]]
    q = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"], c["amp"])
    k = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"], c["amp"])
    v = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"])
    if c["poison"]:
        t = q if c["poison"] == "q" else k
        index = tuple(rng.randrange(n) for n in t.shape)
        t[index] = c["poison_value"]
    scale = c["scale_mult"] / math.sqrt(c["D"])
    vis = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], "cuda")
    out = flash_mlir.attention(q, k, v, scale=scale,
                               enable_gqa=c["Hq"] != c["Hkv"],
                               **call_kwargs(c["mask"], c["window"]))
    ref, _ = reference(q, k, v, vis, scale)
    low, _ = eager(q, k, v, vis, scale)
    ref_nan = torch.isnan(ref).any(-1)
    out_nan = torch.isnan(out).any(-1)
    if not torch.equal(out_nan, ref_nan):
        extra = (out_nan & ~ref_nan).nonzero()[:2].tolist()
        missing = (ref_nan & ~out_nan).nonzero()[:2].tolist()
        return False, (f"NaN rows differ: {int((out_nan & ~ref_nan).sum())} "
                       f"only ours (e.g. {extra}), "
                       f"{int((ref_nan & ~out_nan).sum())} only the "
                       f"reference's (e.g. {missing}); inf in ours "
                       f"{bool(torch.isinf(out).any())}")
    rows = ~ref_nan
    empty = ~vis.any(-1).expand_as(rows)
    if not torch.equal(out[rows & empty], torch.zeros_like(out[rows & empty])):
        return False, "a row that sees no key is not 0"
    if not rows.any() or ref[rows].norm() == 0:
        return True, "no finite row"
    norm = ref[rows].norm()
    err = ((out[rows].double() - ref[rows]).norm() / norm).item()
    live = rows & ~empty
    sdpa = F.scaled_dot_product_attention(
        q, k, v, attn_mask=vis, scale=scale, enable_gqa=c["Hq"] != c["Hkv"])
    err_torch = max(
        ((t[live].double() - ref[live]).norm() / norm).nan_to_num(
            math.inf).item() for t in (low, sdpa))
    if not err <= 2 * err_torch + 1e-6:
        return False, f"error {err:.3g} > 2 x torch's {err_torch:.3g}"
    return True, f"error {err:.3g}, torch's {err_torch:.3g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    print(f"seed {seed}")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    failures = 0
    for i in range(args.cases):
        c = random_case(rng)
        ok, why = run_case(c, rng)
        if not ok:
            failures += 1
            print(f"FAIL {i}: {why}: {c}", flush=True)
    print(f"{args.cases - failures}/{args.cases} cases passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
