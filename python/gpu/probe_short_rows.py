#!/usr/bin/env python3
"""One launch each of the dense kernel over 8192 and over 819 keys and of the
block-sparse kernel on a random layout of density 0.1 (128 x 128 tiles, all
full), B=2, H=16, Lq=8192, D=64, bf16: the kernels behind the "same work"
column of bench_sparse.py, for a profiler.

Usage: ncu --section SpeedOfLight --section Occupancy --section LaunchStats \\
           --section WarpStateStats -k regex:flash_fwd \\
           python3 probe_short_rows.py KERNEL_DIR
"""

import sys

import torch

from kernels import KernelLibrary
from reference import csr_lists

BLOCK = 128


def main():
    lib = KernelLibrary(sys.argv[1])
    B, H, L, D = 2, 16, 8192, 64
    q = torch.randn(B, H, L, D, device="cuda", dtype=torch.bfloat16)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, L, device="cuda")
    for keys in (L, L // 10):
        k = torch.randn(B, H, keys, D, device="cuda", dtype=torch.bfloat16)
        lib.forward(q, k, k, scale=D ** -0.5, out=out, lse=lse)
    k = torch.randn(B, H, L, D, device="cuda", dtype=torch.bfloat16)
    g = torch.Generator(device="cuda").manual_seed(0)
    live = torch.rand(B, H, L // BLOCK, L // BLOCK, device="cuda",
                      generator=g) < 0.1
    layout = (*csr_lists(torch.zeros_like(live), pad=-1),
              *csr_lists(live, pad=-1), BLOCK, BLOCK)
    lib.forward(q, k, k, scale=D ** -0.5, out=out, lse=lse, layout=layout)
    torch.cuda.synchronize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
