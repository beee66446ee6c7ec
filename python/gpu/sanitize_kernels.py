#!/usr/bin/env python3
"""One small forward and backward through flash_mlir.attention per kernel
family, for compute-sanitizer: the four mask kinds (none, causal,
bottom-right causal, sliding window), GQA, dropout, and the block-sparse
forward, on shapes with a partial query tile and key tile. The MMA flavour
is the library's: run it once with an sm_90a library (warpgroup MMAs) and
once with an sm_80 one (mma.sync; its PTX is compiled by the driver):

    compute-sanitizer --tool memcheck python3 sanitize_kernels.py
    compute-sanitizer --tool racecheck python3 sanitize_kernels.py
    compute-sanitizer --tool synccheck python3 sanitize_kernels.py
"""

import argparse

import torch

import flash_mlir


def leaf(*shape, dtype):
    return torch.randn(*shape, device="cuda", dtype=dtype,
                       requires_grad=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--head-dims", default="64,128")
    args = parser.parse_args()
    torch.manual_seed(0)
    calls = [dict(), dict(is_causal=True), dict(window=(None, 0)),
             dict(window=(40, 9)), dict(is_causal=True, dropout_p=0.3)]
    for d in map(int, args.head_dims.split(",")):
        for dtype in (torch.float16, torch.bfloat16):
            for kwargs in calls:
                q = leaf(1, 4, 77, d, dtype=dtype)
                k, v = (leaf(1, 2, 133, d, dtype=dtype) for _ in range(2))
                out = flash_mlir.attention(q, k, v, enable_gqa=True, **kwargs)
                out.backward(torch.randn_like(out))
            # The block-sparse forward (it has no backward yet): half of
            # the 128 x 128 tiles of a 300 x 300 problem.
            mask = flash_mlir.create_block_mask(
                lambda b, h, i, j: (i // 128 + j // 128) % 2 == 0, 1, 2, 300,
                300, device="cuda")
            q, k, v = (torch.randn(1, 2, 300, d, device="cuda", dtype=dtype)
                       for _ in range(3))
            flash_mlir.attention(q, k, v, block_mask=mask)
    torch.cuda.synchronize()
    print("done")


if __name__ == "__main__":
    main()
