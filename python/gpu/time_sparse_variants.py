#!/usr/bin/env python3
"""Block-sparse kernel variants timed beside a base library in one run.

For each head dim (bf16, B=2, H=16, L=8192 by default), on the same inputs,
interleaved round by round (python/gpu/timing.py): the base library's dense
kernel over all L keys and over round(d L) keys for the smallest density d,
and the block-sparse kernel of the base library and of each variant on a
random layout of 128 x 128 tiles, all full, at each density. A variant that
has no kernel for a head dim is left out there. Prints microseconds.

Usage: time_sparse_variants.py BASE_DIR [--variant LABEL=DIR ...]
       [--dims 64,128] [--densities 1,0.1] [--length 8192] [--reps 30]
"""

import argparse
import sys

import torch

from kernels import KernelLibrary
from reference import csr_lists
from timing import time_interleaved

BLOCK = 128


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("base")
    p.add_argument("--variant", action="append", default=[],
                   help="LABEL=DIR: another kernel library")
    p.add_argument("--dims", default="64,128")
    p.add_argument("--densities", default="1,0.1")
    p.add_argument("--length", type=int, default=8192)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--chip", default="sm_90a")
    args = p.parse_args()
    libs = {"base": KernelLibrary(args.base)}
    for spec in args.variant:
        label, directory = spec.split("=", 1)
        libs[label] = KernelLibrary(directory)
    B, H, L = args.batch, args.heads, args.length
    n = -(-L // BLOCK)
    densities = [float(d) for d in args.densities.split(",")]
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    layouts = {}
    for d in densities:
        live = torch.rand(B, H, n, n, device="cuda", generator=gen) < d
        empty = torch.zeros_like(live)
        layouts[d] = (*csr_lists(empty), *csr_lists(live), BLOCK, BLOCK)
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
                lib.find(D, "bf16", "none", args.chip, block_sparse=True)
            except KeyError:
                continue
            for d, layout in layouts.items():
                impls[f"sparse {label} d={d:g}"] = (
                    lambda lib=lib, layout=layout: lib.forward(
                        q, k, v, chip=args.chip, out=out, lse=lse,
                        layout=layout))
        for name, ms in time_interleaved(impls, args.reps).items():
            print(f"D={D} {name}: {ms * 1000:.1f} us", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
