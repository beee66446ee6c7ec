#!/usr/bin/env python3
"""Runs FlexAttention (torch.compile per shape, bf16) once per configuration
of bench_forward.py's sweep at one length, inside NVTX ranges named
D{D}c{causal}, for a profiler to report its kernels:

  ncu --nvtx --nvtx-include "D64c0/" --nvtx-include "D64c1/" \
      --nvtx-include "D128c0/" --nvtx-include "D128c1/" \
      --section LaunchStats --section Occupancy python3 probe_flex.py

Usage: probe_flex.py [--length 8192]
"""

import argparse
import sys

import torch
from torch.nn.attention.flex_attention import create_block_mask

from timing import compiled_flex_attention


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--length", type=int, default=8192)
    args = p.parse_args()
    flex = compiled_flex_attention()
    L = args.length
    B = max(1, 16384 // L)
    for D in (64, 128):
        q, k, v = (torch.randn(B, 2048 // D, L, D, device="cuda",
                               dtype=torch.bfloat16) for _ in range(3))
        for causal in (0, 1):
            bm = create_block_mask(lambda b, h, i, j: i >= j, None, None, L,
                                   L) if causal else None
            for _ in range(3):  # compilation, warm-up
                flex(q, k, v, block_mask=bm)
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_push(f"D{D}c{causal}")
            flex(q, k, v, block_mask=bm)
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_pop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
