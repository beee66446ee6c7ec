#!/usr/bin/env python3
"""Block-sparse forward attention speed: flash-mlir's block-sparse kernels
beside FlexAttention on the same tiles, and the dense kernels, in one run.

For each element type and head dim (B=2, H=16, L=8192 by default), on the
same inputs, times interleaved round by round (CUDA events around each
call, the GPU kept busy while the host launches, warm-up and compilation
first, median of --reps rounds):

- dense: flash-mlir's dense kernel (no mask), FlexAttention without a block
  mask, both over every tile;
- per density d (fraction of live 128 x 128 tiles of the L x L score
  matrix), two layouts, one per (batch, head), drawn afresh:
  - "full": d of all tiles, at random, every live tile full (no element
    mask; d = 1 is the dense problem through the sparse kernel);
  - "causal": the diagonal tiles partial (is_causal masks inside them) and
    lower-triangle tiles full, kept at random so that d of all tiles live;
    d above the causal triangle's share takes the whole triangle;
  each through flash-mlir's sparse kernel and FlexAttention
  (torch.compile(flex_attention), BlockMask.from_kv_blocks of the same
  lists; mask_mod q >= kv for the causal layouts).

Effective TFLOP/s = 4 B H L^2 D d / time (d the actual fraction of live
tiles); "x dense" divides it by the same library's dense figure. "same
work" times flash-mlir's dense kernel over the first round(d L) keys (each
query sees as many keys as under the layout), and "x same work" is its time
over the sparse kernel's: how much of the gap to the dense figure is the
block-sparse path's, and how much is short rows'. "max|d|"
is the largest difference between flash-mlir's and FlexAttention's output
(inf where either has a NaN). Prints a markdown table.

Usage: bench_sparse.py KERNEL_DIR [--dims 64,128] [--dtypes bf16,f16]
       [--densities 1,0.5,0.25,0.1] [--length 8192] [--batch 2]
       [--heads 16] [--reps 20] [--chip sm_90a] [--no-flex]
"""

import argparse
import math
import sys

import torch

from kernels import KernelLibrary
from reference import csr_lists
from timing import compiled_flex_attention, time_interleaved

BLOCK = 128


def max_difference(ours, theirs):
    """The largest |ours - theirs|, inf where either is NaN."""
    diff = (ours.float() - theirs.float()).abs()
    return f"{diff.nan_to_num(nan=math.inf).max().item():.1e}"


def random_layouts(b, h, n, density, device, generator):
    """(partial, full) bool tile tensors [B, H, n, n] of the two layouts of
    `density`: "full" and "causal" (see the module docstring)."""
    shape = (b, h, n, n)
    full = torch.rand(shape, device=device, generator=generator) < density
    diagonal = torch.eye(n, dtype=torch.bool, device=device).expand(shape)
    below = torch.ones(n, n, dtype=torch.bool, device=device).tril(-1)
    # Live tiles: the n diagonal ones and a fraction p of the n(n-1)/2 below.
    p = min(1.0, max(0.0, (density * n * n - n) / (n * (n - 1) / 2)))
    lower = (torch.rand(shape, device=device, generator=generator) < p) & below
    return {"full": (torch.zeros_like(full), full),
            "causal": (diagonal.clone(), lower)}


def layout_tensors(partial, full):
    counts, indices = csr_lists(partial)
    full_counts, full_indices = csr_lists(full)
    return counts, indices, full_counts, full_indices


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("kernels")
    p.add_argument("--dims", default="64,128")
    p.add_argument("--dtypes", default="bf16,f16")
    p.add_argument("--densities", default="1,0.5,0.25,0.1")
    p.add_argument("--length", type=int, default=8192)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--chip", default="sm_90a")
    p.add_argument("--no-flex", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    lib = KernelLibrary(args.kernels)
    dev = "cuda"
    flex = None
    if not args.no_flex:
        from torch.nn.attention.flex_attention import BlockMask
        flex = compiled_flex_attention()
    B, H, L = args.batch, args.heads, args.length
    n = -(-L // BLOCK)
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)

    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"B={B} H={H} L={L}, {BLOCK} x {BLOCK} tiles")
    print("| dtype | D | layout | density | flash-mlir ms | TFLOP/s eff | "
          "x dense | same work ms | x same work | flex ms | TFLOP/s eff | "
          "x dense | flash-mlir / flex | max\\|d\\| |")
    print("|" + "---|" * 14)
    for dtype_name in args.dtypes.split(","):
        dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
        for D in map(int, args.dims.split(",")):
            q, k, v = (torch.randn(B, H, L, D, device=dev, dtype=dtype)
                       for _ in range(3))
            scale = 1.0 / math.sqrt(D)
            flops = 4 * B * H * L * L * D
            out = torch.empty_like(q)
            lse = torch.empty(B, H, L, device=dev)
            impls, cases = {}, {}
            impls["dense/flash-mlir"] = lambda: lib.forward(
                q, k, v, scale=scale, chip=args.chip, out=out, lse=lse)
            if flex:
                impls["dense/flex"] = lambda: flex(q, k, v, scale=scale)
            for density in map(float, args.densities.split(",")):
                layouts = random_layouts(B, H, n, density, dev, gen)
                for name, (partial, full) in layouts.items():
                    live = (partial | full).float().mean().item()
                    tensors = layout_tensors(partial, full)
                    mask = "causal" if name == "causal" else "none"
                    key = f"{name}/{density:g}"
                    cases[key] = (name, live, tensors, mask)
                    layout = (*tensors, BLOCK, BLOCK)
                    impls[key + "/flash-mlir"] = (
                        lambda layout=layout, mask=mask: lib.forward(
                            q, k, v, mask=mask, scale=scale, chip=args.chip,
                            out=out, lse=lse, layout=layout))
                    keys = max(1, round(live * L))
                    impls[key + "/same-work"] = (
                        lambda keys=keys: lib.forward(
                            q, k[:, :, :keys], v[:, :, :keys], scale=scale,
                            chip=args.chip, out=out, lse=lse))
                    if flex:
                        causal = name == "causal"
                        bm = BlockMask.from_kv_blocks(
                            *tensors, BLOCK_SIZE=BLOCK,
                            mask_mod=(lambda b, h, i, j: i >= j) if causal
                            else None, seq_lengths=(L, L))
                        impls[key + "/flex"] = (
                            lambda bm=bm: flex(q, k, v, block_mask=bm,
                                               scale=scale))
            ms = time_interleaved(impls, args.reps)

            def row(label, density, ours, same, theirs, diff):
                tf = lambda t: flops * density / (t * 1e-3) / 1e12
                dense_ours = tf_dense["flash-mlir"]
                cells = [f"{ms[ours]:.3f}", f"{tf(ms[ours]):.0f}",
                         f"{tf(ms[ours]) / dense_ours:.2f}"]
                cells += ([f"{ms[same]:.3f}", f"{ms[same] / ms[ours]:.2f}"]
                          if same else ["-"] * 2)
                if theirs:
                    cells += [f"{ms[theirs]:.3f}", f"{tf(ms[theirs]):.0f}",
                              f"{tf(ms[theirs]) / tf_dense['flex']:.2f}",
                              f"{ms[theirs] / ms[ours]:.2f}"]
                else:
                    cells += ["-"] * 4
                cells.append(diff)
                print(f"| {dtype_name} | {D} | {label} | {density:.3f} | " +
                      " | ".join(cells) + " |", flush=True)

            tf_dense = {
                lib_name: flops / (ms[f"dense/{lib_name}"] * 1e-3) / 1e12
                for lib_name in ("flash-mlir", "flex")
                if f"dense/{lib_name}" in ms}
            diff = "-"
            if flex:
                ours, _ = lib.forward(q, k, v, scale=scale, chip=args.chip)
                diff = max_difference(ours, flex(q, k, v, scale=scale))
            row("dense", 1.0, "dense/flash-mlir", None,
                "dense/flex" if flex else None, diff)
            for key, (name, live, tensors, mask) in cases.items():
                diff = "-"
                if flex:
                    ours = impls[key + "/flash-mlir"]()[0].clone()
                    diff = max_difference(ours, impls[key + "/flex"]())
                row(name, live, key + "/flash-mlir", key + "/same-work",
                    key + "/flex" if flex else None, diff)
            del q, k, v, out, lse, impls, cases
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
