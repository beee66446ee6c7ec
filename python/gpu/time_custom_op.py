#!/usr/bin/env python3
"""Host cost of flash_mlir.attention's two autograd paths: the
torch.library custom op (what torch.compile traces) and the
autograd.Function (what eager calls take), at GPT-2 small's attention
shape (B 8, H 12, L 1024, D 64, causal, [B, L, H, D] storage), and the
GPT-2 training step (train_gpt2.run) through each, beside SDPA's.

Usage: time_custom_op.py [--steps 20] [--calls 50]
"""

import argparse
import time

import torch

import flash_mlir
import flash_mlir._attention as attention_module
import flash_mlir.transformers as fmt
import train_gpt2


def time_calls(calls):
    """Host and wall microseconds per forward and backward."""
    B, H, L, D = 8, 12, 1024, 64
    q, k, v = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16)
               .transpose(1, 2).requires_grad_() for _ in range(3))
    dout = torch.randn(B, H, L, D, device="cuda", dtype=torch.bfloat16)

    def once():
        flash_mlir.attention(q, k, v, is_causal=True).backward(dout)

    for _ in range(5):
        once()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        once()
    issued = time.perf_counter()
    torch.cuda.synchronize()
    done = time.perf_counter()
    return ((issued - start) / calls * 1e6, (done - start) / calls * 1e6)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    fmt.register()
    eager_path = attention_module._trace_custom_op
    for label, custom in (("custom op", True), ("autograd.Function", False)):
        # Route eager calls as torch.compile's tracing does (custom op) or
        # as they go by default (Function).
        attention_module._trace_custom_op = lambda c=custom: c
        host, wall = time_calls(args.calls)
        ms, _, _ = train_gpt2.run("mlir_attention", args.steps, 8, 1024, 0)
        print(f"{label:18s} host {host:5.0f} us, wall {wall:5.0f} us per "
              f"forward and backward; GPT-2 step {ms:.2f} ms", flush=True)
    attention_module._trace_custom_op = eager_path
    for impl in ("sdpa", "sdpa_cudnn"):
        ms, _, _ = train_gpt2.run(impl, args.steps, 8, 1024, 0)
        print(f"{impl:18s} GPT-2 step {ms:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
