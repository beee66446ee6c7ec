#!/usr/bin/env python3
"""Dense kernel variants timed beside a base library in one run.

For each head dim, sequence length and mask kind (bf16, B·L = 16k tokens,
H = 16), on the same inputs, interleaved round by round
(python/gpu/timing.py): the base library's dense kernel and each variant's.
A variant whose output differs from the base's by more than 0.05 fails the
run before anything is timed. Prints microseconds, and each variant's time
over the base's.

Usage: time_dense_variants.py BASE_DIR --variant LABEL=DIR [...]
       [--dims 64,96,128,192,256] [--lengths 2048,8192]
       [--masks none,causal,sliding_window] [--window 512] [--reps 15]
"""

import argparse
import sys

import torch

from kernels import add_variant_arguments, base_and_variants
from timing import time_interleaved


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_variant_arguments(p)
    p.add_argument("--dims", default="64,96,128,192,256")
    p.add_argument("--lengths", default="2048,8192")
    p.add_argument("--masks", default="none,causal,sliding_window")
    p.add_argument("--window", type=int, default=512,
                   help="keys before each query under sliding_window")
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--chip", default="sm_90a")
    args = p.parse_args()
    libs = base_and_variants(args)
    print("| D | L | mask | " + " | ".join(f"{label} us" for label in libs) +
          " | " + " | ".join(f"{label} / base" for label in libs
                             if label != "base") + " |")
    print("|---" * (3 + 2 * len(libs) - 1) + "|")
    for D in map(int, args.dims.split(",")):
        for L in map(int, args.lengths.split(",")):
            B = max(1, 16384 // L)
            q, k, v = (torch.randn(B, args.heads, L, D, device="cuda",
                                   dtype=torch.bfloat16) for _ in range(3))
            for mask in args.masks.split(","):
                window = (args.window, 0) if mask == "sliding_window" else (0, 0)
                impls = {
                    label: (lambda lib=lib: lib.forward(
                        q, k, v, mask=mask, window=window, chip=args.chip))
                    for label, lib in libs.items()}
                expected = impls["base"]()[0].float()
                for label, fn in impls.items():
                    diff = (fn()[0].float() - expected).abs().max().item()
                    if not diff <= 0.05:
                        print(f"D={D} L={L} {mask}: {label} differs from the "
                              f"base library by {diff:.1e}")
                        return 1
                times = time_interleaved(impls, args.reps)
                base = times["base"]
                print(f"| {D} | {L} | {mask} | " +
                      " | ".join(f"{ms * 1000:.1f}" for ms in times.values()) +
                      " | " + " | ".join(f"{ms / base:.3f}"
                                         for label, ms in times.items()
                                         if label != "base") + " |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
