#!/usr/bin/env python3
"""Forward attention speed: flash-mlir's kernels beside PyTorch's, same run.

For each configuration (B·L = 16k tokens, H·D = 2048, head dim, length,
element type, causal or not), times on the same inputs, interleaved round
by round: flash-mlir, torch SDPA with the flash (FlashAttention-2), cuDNN
and efficient backends, FlexAttention (optional) and naive PyTorch (up to
8k). CUDA events around each call (the GPU kept busy while the host
launches), warm-up first, median of --reps rounds.
FLOPs = 4·B·H·L²·D, halved for causal. Prints a markdown table with
TFLOP/s and flash-mlir's ratio to each baseline.

Usage: bench_forward.py KERNEL_DIR [--lengths 512,2048,...] [--dims 64,128]
       [--dtypes bf16,f16] [--causal 0,1] [--flex] [--reps 20]
"""

import argparse
import math
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from kernels import KernelLibrary, variant_libraries
from timing import compiled_flex_attention, time_interleaved


def naive(q, k, v, causal, scale):
    s = (q @ k.transpose(-1, -2)) * scale
    if causal:
        L = q.shape[2]
        s = s.masked_fill(torch.ones(L, L, dtype=torch.bool,
                                     device=q.device).triu(1), float("-inf"))
    return torch.softmax(s.float(), -1).to(q.dtype) @ v


def sdpa(backend):
    def run(q, k, v, causal, scale):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                  scale=scale)
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("kernels")
    p.add_argument("--lengths", default="512,1024,2048,4096,8192,16384")
    p.add_argument("--dims", default="64,128")
    p.add_argument("--dtypes", default="bf16,f16")
    p.add_argument("--causal", default="0,1")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--flex", action="store_true")
    p.add_argument("--chip", default="sm_90a")
    p.add_argument("--variant", action="append", default=[],
                   help="LABEL=DIR: also time another kernel library")
    args = p.parse_args()
    lib = KernelLibrary(args.kernels)
    variants = variant_libraries(args.variant)
    dev = "cuda"
    flex = None
    if args.flex:
        from torch.nn.attention.flex_attention import create_block_mask
        flex_compiled = compiled_flex_attention()

    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    header = ("| dtype | D | L | causal | flash-mlir | sdpa-flash (FA2) | "
              "sdpa-cudnn | sdpa-efficient | flex | naive | ×FA2 | ×cuDNN |")
    print(header)
    print("|" + "---|" * 12)
    for dtype_name in args.dtypes.split(","):
        dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
        for D in map(int, args.dims.split(",")):
            H = 2048 // D
            for L in map(int, args.lengths.split(",")):
                B = max(1, 16384 // L)
                for causal in map(int, args.causal.split(",")):
                    q = torch.randn(B, H, L, D, device=dev, dtype=dtype)
                    k = torch.randn(B, H, L, D, device=dev, dtype=dtype)
                    v = torch.randn(B, H, L, D, device=dev, dtype=dtype)
                    scale = 1.0 / math.sqrt(D)
                    mask = "causal" if causal else "none"
                    out = torch.empty_like(q)
                    lse = torch.empty(B, H, L, device=dev)
                    impls = {
                        "flash-mlir": lambda: lib.forward(
                            q, k, v, mask=mask, scale=scale, chip=args.chip,
                            out=out, lse=lse),
                        "sdpa-flash": lambda: sdpa(SDPBackend.FLASH_ATTENTION)(
                            q, k, v, bool(causal), scale),
                        "sdpa-cudnn": lambda: sdpa(SDPBackend.CUDNN_ATTENTION)(
                            q, k, v, bool(causal), scale),
                        "sdpa-efficient": lambda: sdpa(
                            SDPBackend.EFFICIENT_ATTENTION)(q, k, v,
                                                            bool(causal), scale),
                    }
                    for label, vlib in variants.items():
                        try:
                            vlib.find(D, dtype_name, mask, args.chip)
                        except KeyError:
                            continue
                        impls[f"flash-mlir[{label}]"] = (
                            lambda vlib=vlib: vlib.forward(
                                q, k, v, mask=mask, scale=scale,
                                chip=args.chip, out=out, lse=lse))
                    if args.flex:
                        bm = None
                        if causal:
                            bm = create_block_mask(
                                lambda b, h, qi, ki: qi >= ki, None, None, L, L,
                                device=dev)
                        impls["flex"] = lambda bm=bm: flex_compiled(
                            q, k, v, block_mask=bm, scale=scale)
                    if L <= 8192:
                        impls["naive"] = lambda: naive(q, k, v, bool(causal),
                                                       scale)
                    ms = time_interleaved(impls, args.reps)
                    flops = 4 * B * H * L * L * D / (2 if causal else 1)
                    tf = {n: flops / (t * 1e-3) / 1e12
                          for n, t in ms.items()}
                    cell = lambda n: f"{tf[n]:.0f}" if n in tf else "-"
                    print(f"| {dtype_name} | {D} | {L} | {causal} | "
                          f"{cell('flash-mlir')} | {cell('sdpa-flash')} | "
                          f"{cell('sdpa-cudnn')} | {cell('sdpa-efficient')} | "
                          f"{cell('flex')} | {cell('naive')} | "
                          f"{tf['flash-mlir'] / tf['sdpa-flash']:.2f} | "
                          f"{tf['flash-mlir'] / tf['sdpa-cudnn']:.2f} |" +
                          "".join(f" {n} {tf[n]:.0f} (×FA2 "
                                  f"{tf[n] / tf['sdpa-flash']:.2f}) |"
                                  for n in tf if n.startswith("flash-mlir[")),
                          flush=True)
                    del q, k, v, out, lse
    return 0


if __name__ == "__main__":
    sys.exit(main())
