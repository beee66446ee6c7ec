#!/usr/bin/env python3
"""Block-sparse kernel variants timed beside a base library in one run.

For each head dim (bf16, B=2, H=16, L=8192 by default), on the same inputs,
interleaved round by round (python/gpu/timing.py): the base library's dense
kernel over all L keys and over round(d L) keys for the smallest density d,
and the block-sparse kernel of the base library and of each variant on a
random layout of 128 x 128 tiles at each density: all full ("full"), or the
diagonal tiles partial under the causal mask and the tiles below it kept at
random ("causal", bench_sparse.py's layouts). A variant that has no kernel
for a head dim is left out there. Prints microseconds.

Usage: time_sparse_variants.py BASE_DIR [--variant LABEL=DIR ...]
       [--dims 64,128] [--densities 1,0.1] [--layout full|causal]
       [--length 8192] [--reps 30]
"""

import argparse
import math
import sys

import torch

from bench_sparse import layout_tensors, random_layouts
from kernels import add_variant_arguments, base_and_variants
from timing import time_interleaved

BLOCK = 128


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_variant_arguments(p)
    p.add_argument("--dims", default="64,128")
    p.add_argument("--densities", default="1,0.1")
    p.add_argument("--layout", choices=("full", "causal"), default="full")
    p.add_argument("--length", type=int, default=8192)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--chip", default="sm_90a")
    args = p.parse_args()
    libs = base_and_variants(args)
    B, H, L = args.batch, args.heads, args.length
    n = -(-L // BLOCK)
    densities = [float(d) for d in args.densities.split(",")]
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    layouts = {}
    for d in densities:
        partial, full = random_layouts(B, H, n, d, "cuda", gen)[args.layout]
        layouts[d] = (*layout_tensors(partial, full), BLOCK, BLOCK)
    mask = "causal" if args.layout == "causal" else "none"
    for D in map(int, args.dims.split(",")):
        q, k, v = (torch.randn(B, H, L, D, device="cuda",
                               dtype=torch.bfloat16) for _ in range(3))
        out = torch.empty_like(q)
        lse = torch.empty(B, H, L, device="cuda")
        impls = {}
        for keys in (L, max(1, round(min(densities) * L))):
            impls[f"dense base Lk={keys}"] = (
                lambda keys=keys: libs["base"].forward(
                    q, k[:, :, :keys], v[:, :, :keys], chip=args.chip,
                    out=out, lse=lse))
        for label, lib in libs.items():
            try:
                lib.find(D, "bf16", mask, args.chip, block_sparse=True)
            except KeyError:
                continue
            for d, layout in layouts.items():
                impls[f"sparse {label} d={d:g}"] = (
                    lambda lib=lib, layout=layout: lib.forward(
                        q, k, v, mask=mask, chip=args.chip, out=out,
                        lse=lse, layout=layout))
        # Each variant's output against the base library's on the same
        # layout, before any timing: a variant that computes something else
        # fails the run.
        worst = 0.0
        for name, fn in impls.items():
            label, _, density = name.removeprefix("sparse ").partition(" ")
            if not name.startswith("sparse ") or label == "base":
                continue
            impls[f"sparse base {density}"]()
            expected = out.float().clone()
            fn()
            diff = (out.float() - expected).abs().nan_to_num(nan=math.inf)
            worst = max(worst, diff.max().item())
            print(f"D={D} {name}: max |out - base| = {diff.max().item():.1e}")
        if worst > 0.05:
            print(f"D={D}: a variant differs from the base library")
            return 1
        for name, ms in time_interleaved(impls, args.reps).items():
            print(f"D={D} {name}: {ms * 1000:.1f} us", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
