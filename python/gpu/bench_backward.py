#!/usr/bin/env python3
"""The backward kernels against torch SDPA's FlashAttention-2 and cuDNN
backends and FlexAttention, timed in one run (timing.time_interleaved).

For each shape (B · L = 16k tokens), the gradient step alone: ours is the
three backward kernels (kernels.KernelLibrary.backward) from saved out and
lse; the others are autograd's backward through their forward, kept with
retain_graph. TFLOP/s count 2.5x the forward's FLOPs (4 · B · H · Lq · Lk
· D, halved under a causal mask).

Usage: bench_backward.py KERNEL_DIR [--head-dims 64,128] [--lengths ...]
"""

import argparse
import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from kernels import KernelLibrary, variant_libraries
from timing import compiled_flex_attention, time_interleaved


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kernels")
    parser.add_argument("--head-dims", default="64,128")
    parser.add_argument("--lengths", default="512,2048,8192")
    parser.add_argument("--dtypes", default="bf16")
    parser.add_argument("--causal", default="no,yes")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--chip", default="sm_90a")
    parser.add_argument("--variant", action="append", default=[],
                        help="LABEL=DIR: backward kernels to time beside "
                             "KERNEL_DIR's (their forward is KERNEL_DIR's)")
    args = parser.parse_args()
    lib = KernelLibrary(args.kernels)
    variants = variant_libraries(args.variant)
    flex = compiled_flex_attention()
    print("| D | L | dtype | causal | ours TFLOP/s | FA2 | cuDNN | Flex | "
          "ours/FA2 | ours/cuDNN | ours/Flex |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dtype_name in args.dtypes.split(","):
        dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
        for D in map(int, args.head_dims.split(",")):
            H = 2048 // D
            for L in map(int, args.lengths.split(",")):
                B = max(1, 16384 // L)
                for causal in (c == "yes" for c in args.causal.split(",")):
                    mask = "causal" if causal else "none"
                    q, k, v, dout = (torch.randn(B, H, L, D, device="cuda",
                                                 dtype=dtype)
                                     for _ in range(4))
                    out, lse = lib.forward(q, k, v, mask=mask,
                                           chip=args.chip)
                    impls = {"ours": lambda: lib.backward(
                        dout, q, k, v, out, lse, mask=mask, chip=args.chip)}
                    for label, var in variants.items():
                        impls[label] = (lambda var=var: var.backward(
                            dout, q, k, v, out, lse, mask=mask,
                            chip=args.chip))
                    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
                    for name, backend in (("fa2", SDPBackend.FLASH_ATTENTION),
                                          ("cudnn",
                                           SDPBackend.CUDNN_ATTENTION)):
                        with sdpa_kernel(backend):
                            o = F.scaled_dot_product_attention(
                                *leaves, is_causal=causal)
                        impls[name] = (lambda o=o: torch.autograd.grad(
                            o, leaves, dout, retain_graph=True))
                    block_mask = None
                    if causal:
                        from torch.nn.attention.flex_attention import \
                            create_block_mask
                        block_mask = create_block_mask(
                            lambda b, h, qi, ki: qi >= ki, None, None, L, L)
                    o = flex(*leaves, block_mask=block_mask)
                    impls["flex"] = lambda o=o: torch.autograd.grad(
                        o, leaves, dout, retain_graph=True)
                    ms = time_interleaved(impls, args.reps)
                    flops = 2.5 * 4 * B * H * L * L * D / (2 if causal else 1)
                    tf = {n: flops / (t * 1e-3) / 1e12 for n, t in ms.items()}
                    print(f"| {D} | {L} | {dtype_name} | {causal} | "
                          f"{tf['ours']:.0f} | {tf['fa2']:.0f} | "
                          f"{tf['cudnn']:.0f} | {tf['flex']:.0f} | "
                          f"{tf['ours'] / tf['fa2']:.2f} | "
                          f"{tf['ours'] / tf['cudnn']:.2f} | "
                          f"{tf['ours'] / tf['flex']:.2f} |" +
                          "".join(f" {label} {tf[label] / tf['fa2']:.2f}x FA2 |"
                                  for label in variants), flush=True)


if __name__ == "__main__":
    main()
