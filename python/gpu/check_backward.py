#!/usr/bin/env python3
"""Correctness of the generated backward kernels on a GPU.

For N random combinations of shape (B, heads, GQA group, Lq, Lk, head dim),
mask kind, window, element type and layout ([B, H, L, D] or [B, L, H, D]
strides), runs the forward kernel, then the backward kernels on a random
dO (and, in half the cases, a random gradient of the lse), and compares dQ,
dK and dV with the gradients of a float64 reference of the dialect's
semantics (torch.autograd through reference.reference): each
||grad - ref|| / max(||ref||, 0.01 ||dO||) must be within 2x the error of
the same computation in the element type (eager attention in PyTorch, same
inputs and mask), plus 1e-4. (The floor is for gradients that cancel to
about 0, as dQ and dK do when a row sees a single key.)

Usage: check_backward.py KERNEL_DIR [--cases 200] [--seed S] [--chip sm_90a]
"""

import argparse
import math
import random
import sys

import torch

from kernels import KernelLibrary
from reference import (gradient_errors, gradients, eager, make, reference,
                       visibility)

MASKS = ["none", "causal", "causal_bottom_right", "sliding_window"]
LENGTHS = [1, 7, 17, 63, 64, 65, 127, 128, 200, 333, 513, 1000]


def random_case(rng, head_dims):
    G = rng.choice([1, 1, 2, 4])
    Hkv = rng.choice([1, 2, 3])
    mask = rng.choice(MASKS)
    window = (rng.choice([0, 5, 64, 300, 2**63 - 1]),
              rng.choice([0, 0, 9, 100, 2**63 - 1]))
    return dict(B=rng.choice([1, 2]), Hkv=Hkv, Hq=Hkv * G,
                Lq=rng.choice(LENGTHS), Lk=rng.choice(LENGTHS),
                D=rng.choice(head_dims), mask=mask,
                window=window if mask == "sliding_window" else (0, 0),
                dtype=rng.choice(["f16", "bf16"]),
                layout=rng.choice(["bhld", "blhd"]),
                dlse=rng.random() < 0.5)


def run_case(lib, c, chip, device="cuda", deterministic=False):
    dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[c["dtype"]]
    q = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"], 1.5, device)
    k = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"], 1.5, device)
    v = make(c["B"], c["Hkv"], c["Lk"], c["D"], dtype, c["layout"],
             device=device)
    dout = make(c["B"], c["Hq"], c["Lq"], c["D"], dtype, c["layout"],
                device=device)
    dlse = (torch.randn(c["B"], c["Hq"], c["Lq"], device=device)
            if c["dlse"] else None)
    scale = 1.0 / math.sqrt(c["D"])
    vis = visibility(c["mask"], c["Lq"], c["Lk"], c["window"], device)
    out, lse = lib.forward(q, k, v, mask=c["mask"], scale=scale,
                           window=c["window"], chip=chip)
    def grads():
        return lib.backward(dout, q, k, v, out, lse, mask=c["mask"],
                            scale=scale, window=c["window"], chip=chip,
                            dlse=dlse, deterministic=deterministic)

    dq, dk, dv = grads()
    # Deterministic mode: a second pass gives the same bits.
    same = not deterministic or all(
        torch.equal(a, b) for a, b in zip((dq, dk, dv), grads()))
    torch.cuda.synchronize()
    ref = gradients(lambda *t: reference(*t, vis, scale), (q, k, v), dout,
                    dlse)
    low = gradients(lambda *t: eager(*t, vis, scale), (q, k, v), dout, dlse)
    errors = gradient_errors((dq, dk, dv), ref, low, dout)
    ok = same and all(finite and err <= 2 * err_torch + 1e-4
                      for _, err, err_torch, finite in errors)
    if not same:
        print(f"NOT REPRODUCIBLE {c}")
    return ok, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kernels")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--chip", default="sm_90a")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic mode, each case run twice and "
                             "compared bit for bit")
    args = parser.parse_args()
    lib = KernelLibrary(args.kernels)
    head_dims = sorted({e["spec"]["head_dim"] for e in lib.manifest["kernels"]
                        if e["spec"].get("kind") == "backward"})
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    print(f"seed {seed}, head dims {head_dims}")
    failures = 0
    for i in range(args.cases):
        c = random_case(rng, head_dims)
        ok, errors = run_case(lib, c, args.chip,
                              deterministic=args.deterministic)
        failures += not ok
        if not ok or i < 10:
            shown = " ".join(f"d{n} {e:.2e} (torch {t:.2e}{'' if f else ', NOT FINITE'})"
                             for n, e, t, f in errors)
            print(f"{'ok  ' if ok else 'FAIL'} {c}: {shown}")
    print(f"backward: {args.cases - failures}/{args.cases} cases within "
          f"bounds (seed {seed})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
