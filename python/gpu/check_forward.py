#!/usr/bin/env python3
"""Correctness of the generated forward kernels on a GPU.

For N random combinations of shape (B, heads, GQA group, Lq, Lk, head dim),
mask kind, element type and layout ([B, H, L, D] or [B, L, H, D] strides),
runs the kernel on fresh random inputs with its outputs poisoned (NaN), and
compares output and log-sum-exp with a float64 reference of the dialect's
semantics:
  - output: ||out - ref|| / ||ref|| must be within 2x PyTorch's own error
    (torch SDPA in the same element type, same inputs and mask) and every
    element must have been written;
  - lse: max |lse - ref| / max(1, |ref|) <= 1e-3, -inf exactly where the
    reference row sees no key.

Usage: check_forward.py KERNEL_DIR [--cases 200] [--seed S] [--chip sm_90a]
       check_forward.py KERNEL_DIR --sanitize   (one small launch per kind,
                                                 dense and block-sparse, for
                                                 compute-sanitizer)
"""

import argparse
import math
import random
import sys

import torch
import torch.nn.functional as F

from kernels import KernelLibrary
from reference import (csr_lists, layout_visibility, make, reference,
                       rel_error, tile_states, visibility)

MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]
LENGTHS = [1, 7, 17, 63, 64, 65, 127, 128, 200, 333, 513, 1000, 1024, 1500]


def random_case(rng, head_dims):
    G = rng.choice([1, 1, 2, 4])
    Hkv = rng.choice([1, 2, 3])
    mask = rng.choice(MASKS)
    # Sides near the int64 limit too: the kernels must clamp, not overflow.
    window = (rng.choice([0, 5, 64, 300, 2**62, 2**63 - 1]),
              rng.choice([0, 0, 9, 100, 2**63 - 1]))
    return dict(B=rng.choice([1, 2, 3]), Hkv=Hkv, Hq=Hkv * G,
                Lq=rng.choice(LENGTHS), Lk=rng.choice(LENGTHS),
                D=rng.choice(head_dims), mask=mask,
                window=window if mask == "sliding_window" else (0, 0),
                dtype=rng.choice(["f16", "bf16"]),
                layout=rng.choice(["bhld", "blhd"]))


def random_layout(B, H, Lq, Lk, block, device):
    """A block-sparse layout of `block` x `block` tiles drawn at random: per
    (batch, head, query block), some key blocks full, some partial, some
    dead. The lists are padded with -1, an index out of range that the
    counts exclude."""
    nq, nkv = -(-Lq // block), -(-Lk // block)
    state = torch.randint(0, 3, (B, H, nq, nkv), device=device)
    return (*csr_lists(state == 1, pad=-1), *csr_lists(state == 2, pad=-1),
            block, block)


def run_case(lib, c, chip, device="cuda", compare_torch=True):
    dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[c["dtype"]]
    # Logits of a few units: a peaky softmax.
    q = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"], 1.5, device)
    k = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"], 1.5, device)
    v = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"],
             device=device)
    scale = 1.0 / math.sqrt(c["D"])
    vis = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], device)
    layout = None
    if c.get("block"):
        layout = random_layout(c["B"], c["Hq"], c["Lq"], c["Lk"], c["block"],
                               device)
        states = tile_states(*layout[:4], -(-c["Lk"] // c["block"]))
        vis = layout_visibility(states, c["mask"], c["Lq"], c["Lk"],
                                c["window"], c["block"], c["block"])
    out = torch.full_like(q, float("nan"))
    lse = torch.full((c["B"], c["Hq"], c["Lq"]), float("nan"), device=device)
    lib.forward(q, k, v, mask=c["mask"], scale=scale, window=c["window"],
                chip=chip, out=out, lse=lse, layout=layout)
    torch.cuda.synchronize()
    ref_out, ref_lse = reference(q, k, v, vis, scale)

    # PyTorch's own error in the same dtype, over rows that see a key (SDPA
    # gives NaN for the others).
    live = vis.any(-1)
    err_torch = float("inf")
    if compare_torch and live.any():
        torch_out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=vis, scale=scale,
            enable_gqa=c["Hq"] != c["Hkv"])
        err_torch = rel_error(torch_out[:, :, live], ref_out[:, :, live])
    elif compare_torch:
        err_torch = 0.0
    written = not torch.isnan(out).any().item() and \
        not torch.isnan(lse).any().item()
    err = rel_error(out, ref_out)
    inf_ok = torch.equal(torch.isneginf(lse), torch.isneginf(ref_lse))
    fin = ~torch.isneginf(ref_lse)
    lse_err = ((lse.double()[fin] - ref_lse[fin]).abs() /
               ref_lse[fin].abs().clamp_min(1.0)).max().item() \
        if fin.any() else 0.0
    ok = written and inf_ok and err <= 2 * err_torch and lse_err <= 1e-3
    return ok, err, err_torch, lse_err, written, inf_ok


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kernels")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--chip", default="sm_90a")
    parser.add_argument("--sanitize", action="store_true")
    args = parser.parse_args()
    lib = KernelLibrary(args.kernels)
    head_dims = sorted({e["spec"]["head_dim"] for e in
                        lib.manifest["kernels"]})
    if args.sanitize:
        # Several key tiles per CTA, so that every K/V stage is reused.
        cases = [dict(B=1, Hq=2, Hkv=1, Lq=70, Lk=460, D=64, mask=mask,
                      window=(20, 3), dtype="f16", layout="bhld")
                 for mask in MASKS]
        # Block-sparse (where the library has such kernels): 128 x 128
        # tiles, a partial last block of keys.
        has_sparse = any("block_sparse" in e["spec"]["features"]
                         for e in lib.manifest["kernels"])
        cases += [dict(B=1, Hq=2, Hkv=1, Lq=300, Lk=460, D=64, mask=mask,
                       window=(100, 30), dtype="bf16", layout="bhld",
                       block=128)
                  for mask in MASKS if has_sparse]
        failures = 0
        for c in cases:
            mask = c["mask"] + (" block-sparse" if c.get("block") else "")
            # No torch kernels here: the sanitizer reports on ours alone.
            ok, err, _, lse_err, written, _ = run_case(lib, c, args.chip,
                                                       compare_torch=False)
            ok = ok and err < 1e-2
            failures += not ok
            print(f"sanitize {mask}: {'ok' if ok else 'FAIL'} "
                  f"(err {err:.1e}, lse {lse_err:.1e}, written {written})")
        return 1 if failures else 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"seed {seed}")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    failures = 0
    worst = 0.0
    for n in range(args.cases):
        c = random_case(rng, head_dims)
        ok, err, err_torch, lse_err, written, inf_ok = run_case(lib, c, args.chip)
        worst = max(worst, err / max(err_torch, 1e-30))
        if not ok:
            failures += 1
            print(f"FAIL {c}: err {err:.2e} torch {err_torch:.2e} lse "
                  f"{lse_err:.2e} written {written} -inf rows {inf_ok}")
    print(f"{args.cases - failures} passed, {failures} failed "
          f"(worst error / torch's error: {worst:.2f})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
