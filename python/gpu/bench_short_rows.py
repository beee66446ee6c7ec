#!/usr/bin/env python3
"""How much of its long-row throughput each dense forward kernel keeps when
every query sees only a tenth of the keys: the "same work" of a
block-sparse layout at density 0.1 (bench_sparse.py), for flash-mlir and
for torch SDPA's FlashAttention-2 and cuDNN backends, in one run.

For each head dim and length L (B = 16384 / L, H = 16, no mask), times
each implementation, interleaved round by round (timing.time_interleaved),
over Lk = L keys and over Lk = round(L / 10) keys, with Lq = L. TFLOP/s =
4 B H Lq Lk D / time; "kept" is the short figure over the long one, which
bounds what a block-sparse kernel built the same way reaches at density
0.1 against that dense figure. Prints a markdown table.

Usage: bench_short_rows.py KERNEL_DIR [--dims 64,128] [--lengths 8192,16384]
       [--dtype bf16] [--fraction 0.1] [--reps 20] [--chip sm_90a]
"""

import argparse
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from kernels import DTYPES, KernelLibrary
from timing import time_interleaved


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kernel_dir")
    parser.add_argument("--dims", default="64,128")
    parser.add_argument("--lengths", default="8192,16384")
    parser.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--chip", default="sm_90a")
    args = parser.parse_args()
    lib = KernelLibrary(args.kernel_dir)
    dtype = DTYPES[args.dtype]
    backends = {"sdpa-flash": SDPBackend.FLASH_ATTENTION,
                "sdpa-cudnn": SDPBackend.CUDNN_ATTENTION}
    names = ["flash-mlir", *backends]

    print("| dtype | D | L | B | short keys | " +
          " | ".join(f"{n} TFLOP/s long | short | kept" for n in names) +
          " |")
    print("|---|---|---|---|---|" + "---|---|---|" * len(names))
    for D in (int(d) for d in args.dims.split(",")):
        for L in (int(x) for x in args.lengths.split(",")):
            B, H = max(1, 16384 // L), 16
            short = max(1, round(args.fraction * L))
            q = torch.randn(B, H, L, D, device="cuda", dtype=dtype)
            scale = D ** -0.5
            impls = {}
            for keys in (L, short):
                k = torch.randn(B, H, keys, D, device="cuda", dtype=dtype)
                v = torch.randn(B, H, keys, D, device="cuda", dtype=dtype)
                out = torch.empty_like(q)
                lse = torch.empty(B, H, L, device="cuda")

                def ours(k=k, v=v, out=out, lse=lse):
                    lib.forward(q, k, v, scale=scale, chip=args.chip, out=out,
                                lse=lse)

                impls[("flash-mlir", keys)] = ours
                for name, backend in backends.items():
                    def theirs(k=k, v=v, backend=backend):
                        with sdpa_kernel(backend):
                            torch.nn.functional.scaled_dot_product_attention(
                                q, k, v, scale=scale)
                    impls[(name, keys)] = theirs
            ms = time_interleaved(impls, args.reps)

            def tflops(name, keys):
                return 4 * B * H * L * keys * D / ms[(name, keys)] / 1e9

            cells = []
            for name in names:
                long_tf, short_tf = tflops(name, L), tflops(name, short)
                cells.append(f"{long_tf:.0f} | {short_tf:.0f} | "
                             f"{short_tf / long_tf:.2f}")
            print(f"| {args.dtype} | {D} | {L} | {B} | {short} | " +
                  " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
