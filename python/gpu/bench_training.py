#!/usr/bin/env python3
"""A training step's attention, forward and backward, through each engine's
user path, timed in one run (timing.time_interleaved).

For each shape (B · L = 16k tokens, H · D = 2048 query heads · head dim
unless --q-heads says otherwise):
flash_mlir.attention(...) then backward, against torch SDPA's
FlashAttention-2 and cuDNN backends and compiled FlexAttention (with a
causal BlockMask where causal). TFLOP/s count 3.5x the forward's FLOPs
(4 · B · H · Lq · Lk · D, halved under a causal mask): the forward once and
the backward at 2.5x. `--kv-heads` gives grouped-query attention (the
others with enable_gqa=True). `--dropout P` passes dropout_p=P to every
engine that takes it (FlexAttention has no dropout: left out).

Usage: bench_training.py [--head-dims 64,128] [--lengths ...] [--dtypes ...]
"""

import argparse

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import flash_mlir
from timing import compiled_flex_attention, time_interleaved


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--head-dims", default="64,128")
    parser.add_argument("--lengths", default="2048,8192")
    parser.add_argument("--dtypes", default="bf16")
    parser.add_argument("--causal", default="no,yes")
    parser.add_argument("--q-heads", type=int, default=0,
                        help="query heads (0: 2048 / D)")
    parser.add_argument("--kv-heads", type=int, default=0,
                        help="KV heads (0: as many as query heads)")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="attention dropout probability")
    parser.add_argument("--deterministic", action="store_true",
                        help="under torch.use_deterministic_algorithms(True, "
                             "warn_only=True): our dQ in key-tile order")
    args = parser.parse_args()
    if args.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    flex = compiled_flex_attention()
    print("| D | L | Hq/Hkv | dtype | causal | ours TFLOP/s | FA2 | cuDNN | "
          "Flex | ours/FA2 | ours/cuDNN | ours/Flex |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for dtype_name in args.dtypes.split(","):
        dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
        for D in map(int, args.head_dims.split(",")):
            H = args.q_heads or 2048 // D
            Hkv = args.kv_heads or H
            for L in map(int, args.lengths.split(",")):
                B = max(1, 16384 // L)
                for causal in (c == "yes" for c in args.causal.split(",")):
                    row = bench_shape(flex, B, H, Hkv, L, D, dtype, causal,
                                      args.reps, args.dropout)
                    print(f"| {D} | {L} | {H}/{Hkv} | {dtype_name} | "
                          f"{causal} | " + row, flush=True)


def bench_shape(flex, B, H, Hkv, L, D, dtype, causal, reps, dropout=0.0):
    def leaf(heads):
        return torch.randn(B, heads, L, D, device="cuda", dtype=dtype,
                           requires_grad=True)

    q, k, v = leaf(H), leaf(Hkv), leaf(Hkv)
    dout = torch.randn(B, H, L, D, device="cuda", dtype=dtype)
    gqa = Hkv != H

    def step(attend):
        def run():
            for t in (q, k, v):
                t.grad = None
            attend().backward(dout)
        return run

    impls = {"ours": step(lambda: flash_mlir.attention(
        q, k, v, is_causal=causal, enable_gqa=gqa, dropout_p=dropout))}
    for name, backend in (("fa2", SDPBackend.FLASH_ATTENTION),
                          ("cudnn", SDPBackend.CUDNN_ATTENTION)):
        def sdpa(backend=backend):
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(
                    q, k, v, is_causal=causal, enable_gqa=gqa,
                    dropout_p=dropout)
        impls[name] = step(sdpa)
    block_mask = None
    if causal:
        from torch.nn.attention.flex_attention import create_block_mask
        block_mask = create_block_mask(lambda b, h, qi, ki: qi >= ki, None,
                                       None, L, L)
    if not dropout:
        impls["flex"] = step(lambda: flex(q, k, v, block_mask=block_mask,
                                          enable_gqa=gqa))
    # An engine that cannot run the shape (FA2 with GQA on old PyTorch, our
    # backward above D = 128) is left out of the row.
    runnable = {}
    for name, fn in impls.items():
        try:
            fn()
            runnable[name] = fn
        except Exception as e:  # noqa: BLE001 - reported in the row
            print(f"<!-- {name}: {type(e).__name__}: {e} -->")
    ms = time_interleaved(runnable, reps)
    flops = 3.5 * 4 * B * H * L * L * D / (2 if causal else 1)
    tf = {n: flops / (t * 1e-3) / 1e12 for n, t in ms.items()}

    def cell(name):
        return f"{tf[name]:.0f}" if name in tf else "-"

    def ratio(name):
        return (f"{tf['ours'] / tf[name]:.2f}"
                if "ours" in tf and name in tf else "-")

    return (" | ".join(cell(n) for n in ("ours", "fa2", "cudnn", "flex")) +
            " | " + " | ".join(ratio(n) for n in ("fa2", "cudnn", "flex")) +
            " |")


if __name__ == "__main__":
    main()
