#!/usr/bin/env python3
"""GPT-2 small training steps with each attention implementation, in one
run: transformers' GPT-2 from its config (random init, nothing
downloaded), B = 8, L = 1024, bf16 autocast, fused AdamW, attention
dropout 0 by default (--attn-dropout: GPT-2's default is 0.1); the other
dropouts stay at GPT-2's 0.1. With attention dropout 0 every
implementation draws the same random numbers; with it, each engine draws
its own attention masks, so the losses agree in distribution only: the
mean per-step difference is reported beside the maximum.

For each implementation: median ms per step, peak memory, and the loss of
every step from the same seed and data; the losses of "mlir_attention" are
compared with the spread between SDPA's FlashAttention-2 and cuDNN
backends on the same steps.

Usage: train_gpt2.py [--steps 30] [--impls eager,sdpa,sdpa_cudnn,mlir_attention]
"""

import argparse
import statistics
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import flash_mlir.transformers as fmt
from transformers import GPT2Config, GPT2LMHeadModel


def run(impl, steps, batch, length, seed, attn_dropout):
    torch.manual_seed(seed)
    config = GPT2Config(attn_pdrop=attn_dropout)
    attn = "sdpa" if impl.startswith("sdpa") else impl
    model = GPT2LMHeadModel._from_config(config,
                                         attn_implementation=attn).cuda()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
    gen = torch.Generator(device="cuda").manual_seed(seed)
    data = torch.randint(0, config.vocab_size, (steps, batch, length),
                         device="cuda", generator=gen)
    backend = {"sdpa": SDPBackend.FLASH_ATTENTION,
               "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION}.get(impl)
    losses, times = [], []
    torch.cuda.reset_peak_memory_stats()
    for step in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            if backend is not None:
                with sdpa_kernel(backend):
                    loss = model(data[step], labels=data[step]).loss
            else:
                loss = model(data[step], labels=data[step]).loss
        if backend is not None:
            with sdpa_kernel(backend):
                loss.backward()
        else:
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
        losses.append(loss.item())
    peak = torch.cuda.max_memory_allocated() / 2**30
    del model, opt
    torch.cuda.empty_cache()
    return statistics.median(times[3:]), peak, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attn-dropout", type=float, default=0.0)
    parser.add_argument("--impls",
                        default="eager,sdpa,sdpa_cudnn,mlir_attention")
    args = parser.parse_args()
    fmt.register()
    results = {}
    for impl in args.impls.split(","):
        results[impl] = run(impl, args.steps, args.batch, args.length,
                            args.seed, args.attn_dropout)
        ms, peak, losses = results[impl]
        print(f"{impl:15s} {ms:8.2f} ms/step  peak {peak:6.2f} GiB  "
              f"loss first {losses[0]:.4f} last {losses[-1]:.4f}",
              flush=True)
    if {"sdpa", "sdpa_cudnn", "mlir_attention"} <= results.keys():
        fa2, cudnn, ours = (results[i][2] for i in
                            ("sdpa", "sdpa_cudnn", "mlir_attention"))
        spread = max(abs(a - b) for a, b in zip(fa2, cudnn))
        ours_off = max(abs(o - a) for o, a in zip(ours, fa2))
        print(f"max per-step loss difference: FA2 vs cuDNN {spread:.4f}, "
              f"ours vs FA2 {ours_off:.4f}")
        tail = len(fa2) // 2
        print("mean loss of the last half: " + ", ".join(
            f"{name} {statistics.mean(results[name][2][tail:]):.4f}"
            for name in ("sdpa", "sdpa_cudnn", "mlir_attention")))


if __name__ == "__main__":
    main()
