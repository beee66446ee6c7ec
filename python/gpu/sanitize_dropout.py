#!/usr/bin/env python3
"""One forward and backward with attention dropout through
flash_mlir.attention on small odd shapes (a partial query tile and key tile,
GQA, causal and not), for compute-sanitizer:

    compute-sanitizer --tool memcheck python3 sanitize_dropout.py
    compute-sanitizer --tool racecheck python3 sanitize_dropout.py
"""

import torch

import flash_mlir


def main():
    torch.manual_seed(0)
    for d, causal in ((64, True), (128, False)):
        q = torch.randn(1, 4, 77, d, device="cuda", dtype=torch.bfloat16,
                        requires_grad=True)
        k, v = (torch.randn(1, 2, 133, d, device="cuda", dtype=torch.bfloat16,
                            requires_grad=True) for _ in range(2))
        out = flash_mlir.attention(q, k, v, dropout_p=0.3, is_causal=causal,
                                   enable_gqa=True)
        out.backward(torch.randn_like(out))
    torch.cuda.synchronize()
    print("done")


if __name__ == "__main__":
    main()
