"""Loads a flash-aot kernel directory and launches its kernels on torch tensors.

A small stand-in for the C runtime, for the GPU scripts in this folder: it
follows docs/kernel-abi.md (memref descriptors, grid, shared memory) and
launches through CuPy on the current torch stream.
"""

import json
import math
import os

import cupy as cp
import numpy as np
import torch

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def _memref_args(t):
    """The expanded memref descriptor of a tensor: ptr, ptr, offset, sizes,
    strides (elements)."""
    ptr = np.uint64(t.data_ptr())
    return ([ptr, ptr, np.int64(0)] + [np.int64(s) for s in t.shape] +
            [np.int64(s) for s in t.stride()])


class KernelLibrary:
    def __init__(self, directory, prefer_cubin=True):
        self.directory = directory
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.prefer_cubin = prefer_cubin
        self._loaded = {}

    def find(self, head_dim, dtype, mask, chip):
        for entry in self.manifest["kernels"]:
            spec = entry["spec"]
            if (spec["head_dim"], spec["dtype"], spec["mask"], spec["chip"],
                    spec["block_sparse"]) == (head_dim, dtype, mask, chip,
                                              False):
                return entry
        raise KeyError(f"no kernel for head_dim={head_dim} dtype={dtype} "
                       f"mask={mask} chip={chip}")

    def function(self, entry):
        name = entry["name"]
        if name not in self._loaded:
            image = entry.get("cubin") if self.prefer_cubin else None
            path = os.path.join(self.directory, image or entry["ptx"])
            module = cp.RawModule(path=path)
            fn = module.get_function(name)
            fn.max_dynamic_shared_size_bytes = entry["smem_bytes"]
            self._loaded[name] = (module, fn)
        return self._loaded[name][1]

    def forward(self, q, k, v, *, mask="none", scale=None, window=(0, 0),
                chip="sm_90a", out=None, lse=None):
        """Runs the kernel on [B, H, L, D] tensors (any strides with a
        contiguous last dim); returns (out, lse)."""
        B, Hq, Lq, D = q.shape
        dtype = {torch.float16: "f16", torch.bfloat16: "bf16"}[q.dtype]
        entry = self.find(D, dtype, mask, chip)
        if out is None:
            out = torch.empty_like(q)
        if lse is None:
            lse = torch.empty((B, Hq, Lq), device=q.device,
                              dtype=torch.float32)
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        args = (_memref_args(q) + _memref_args(k) + _memref_args(v) +
                _memref_args(out) + _memref_args(lse) +
                [np.float32(scale * math.log2(math.e)),
                 np.int64(window[0]), np.int64(window[1])])
        cfg = entry["config"]
        grid = (math.ceil(Lq / cfg["block_q"]), Hq, B)
        fn = self.function(entry)
        stream = cp.cuda.Stream.from_external(torch.cuda.current_stream())
        with stream:
            fn(grid, (entry["threads"], 1, 1), tuple(args),
               shared_mem=entry["smem_bytes"])
        return out, lse
