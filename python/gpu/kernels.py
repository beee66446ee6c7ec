"""Loads a flash-aot kernel directory and launches its kernels on torch tensors.

A small stand-in for the C runtime, for the GPU scripts in this folder: it
follows docs/kernel-abi.md (memref descriptors, grid, shared memory, the
block-sparse layout) and launches through CuPy on the current torch stream.
It checks nothing: the runtime (flash_mlir.attention) is the checked path.
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


def _as_version2(manifest):
    """The manifest in version 2's terms (docs/kernel-abi.md): a version 1
    manifest's block_sparse flag becomes a feature, its config.block_q and
    block_kv become cta_q and cta_kv, and its kernels are forward ones."""
    if manifest["version"] == 1:
        for entry in manifest["kernels"]:
            spec, cfg = entry["spec"], entry["config"]
            spec["kind"] = "forward"
            spec["features"] = (["block_sparse"] if spec.pop("block_sparse")
                                else [])
            cfg["cta_q"] = cfg.pop("block_q")
            cfg["cta_kv"] = cfg.pop("block_kv")
    elif manifest["version"] != 2:
        raise ValueError(f"manifest version {manifest['version']}: expected "
                         f"1 or 2")
    return manifest


class KernelLibrary:
    def __init__(self, directory, prefer_cubin=True):
        self.directory = directory
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = _as_version2(json.load(f))
        self.prefer_cubin = prefer_cubin
        self._loaded = {}

    def find(self, head_dim, dtype, mask, chip, block_sparse=False,
             kind="forward"):
        features = ["block_sparse"] if block_sparse else []
        for entry in self.manifest["kernels"]:
            spec = entry["spec"]
            if (spec["kind"], spec["head_dim"], spec["dtype"], spec["mask"],
                    spec["chip"], spec["features"]) == (
                        kind, head_dim, dtype, mask, chip, features):
                return entry
        raise KeyError(f"no kernel for head_dim={head_dim} dtype={dtype} "
                       f"mask={mask} chip={chip} block_sparse={block_sparse}")

    def function(self, entry, name=None):
        """The kernel `name` (default: the entry's own) of the entry's
        module."""
        name = name or entry["name"]
        if name not in self._loaded:
            loaded = None
            if self.prefer_cubin and entry.get("cubin"):
                # The driver refuses a cubin built for another chip (an sm_80
                # kernel on an H100); its PTX is then compiled for the
                # device, as the runtime does.
                try:
                    loaded = self._load_image(entry["cubin"], name)
                except cp.cuda.driver.CUDADriverError:
                    pass
            module, fn = loaded or self._load_image(entry["ptx"], name)
            smem = entry["smem_bytes"] if name == entry["name"] else 0
            if "block_sparse" in entry["spec"]["features"]:
                # A launch adds the staging of its layout, which depends on
                # the key length: opt in to all the device allows.
                smem = cp.cuda.runtime.deviceGetAttribute(
                    cp.cuda.runtime.cudaDevAttrMaxSharedMemoryPerBlockOptin,
                    cp.cuda.Device().id)
            fn.max_dynamic_shared_size_bytes = smem
            self._loaded[name] = (module, fn)
        return self._loaded[name][1]

    def _load_image(self, image, name):
        """The module of file `image` of the directory, and its kernel
        `name`."""
        module = cp.RawModule(path=os.path.join(self.directory, image))
        return module, module.get_function(name)

    def forward(self, q, k, v, *, mask="none", scale=None, window=(0, 0),
                chip="sm_90a", out=None, lse=None, layout=None):
        """Runs the kernel on [B, H, L, D] tensors (any strides with a
        contiguous last dim); returns (out, lse). `layout` = (kv_num_blocks,
        kv_indices, full_kv_num_blocks, full_kv_indices, block_q, block_kv),
        int32 tensors on the device, runs the block-sparse kernel."""
        B, Hq, Lq, D = q.shape
        dtype = {torch.float16: "f16", torch.bfloat16: "bf16"}[q.dtype]
        entry = self.find(D, dtype, mask, chip, layout is not None)
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
        smem = entry["smem_bytes"]
        if layout is not None:
            *tensors, block_q, block_kv = layout
            for t in tensors:
                args += _memref_args(t)
            args += [np.int64(block_q), np.int64(block_kv)]
            smem += sparse_shared_memory(k.shape[2], block_kv,
                                         cfg["cta_kv"])
        grid = (math.ceil(Lq / cfg["cta_q"]), Hq, B)
        fn = self.function(entry)
        stream = cp.cuda.Stream.from_external(torch.cuda.current_stream())
        with stream:
            fn(grid, (entry["threads"], 1, 1), tuple(args), shared_mem=smem)
        return out, lse


    def backward(self, dout, q, k, v, out, lse, *, mask="none", scale=None,
                 window=(0, 0), chip="sm_90a", dlse=None,
                 deterministic=False):
        """Runs the three backward kernels (docs/kernel-abi.md); returns
        (dq, dk, dv). `deterministic`: dQ added in key-tile order."""
        B, Hq, Lq, D = q.shape
        dtype = {torch.float16: "f16", torch.bfloat16: "bf16"}[q.dtype]
        entry = self.find(D, dtype, mask, chip, kind="backward")
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        f32 = dict(device=q.device, dtype=torch.float32)
        delta = torch.empty((B, Hq, Lq), **f32)
        accum = torch.empty((B, Hq, Lq, D), **f32)
        dq, dk, dv = (torch.empty_like(q), torch.empty_like(k),
                      torch.empty_like(v))
        no_dlse = torch.empty((B, Hq, Lq), **f32)
        args = []
        for t in (q, k, v, out, dout, lse):
            args += _memref_args(t)
        dlse_args = _memref_args(dlse if dlse is not None else no_dlse)
        if dlse is None:
            dlse_args[0] = dlse_args[1] = np.uint64(0)
        args += dlse_args
        for t in (delta, accum, dq, dk, dv):
            args += _memref_args(t)
        rows = entry["row_kernels"]
        semaphores = torch.empty(
            (B, Hq, math.ceil(Lq / rows["rows_per_cta"])), device=q.device,
            dtype=torch.int32) if deterministic else None
        args += [np.float32(scale * math.log2(math.e)), np.int64(window[0]),
                 np.int64(window[1]),
                 np.int64(semaphores.data_ptr() if deterministic else 0)]
        row_grid = (math.ceil(Lq / rows["rows_per_cta"]), Hq, B)
        grid = (math.ceil(k.shape[2] / entry["config"]["cta_kv"]),
                k.shape[1], B)
        name = entry["name"]
        stream = cp.cuda.Stream.from_external(torch.cuda.current_stream())
        with stream:
            if Lq:
                self.function(entry, name + "_preprocess")(
                    row_grid, (rows["threads"], 1, 1), tuple(args))
            self.function(entry)(grid, (entry["threads"], 1, 1), tuple(args),
                                 shared_mem=entry["smem_bytes"])
            if Lq:
                self.function(entry, name + "_dq")(
                    row_grid, (rows["threads"], 1, 1), tuple(args))
        return dq, dk, dv


def add_variant_arguments(parser):
    """The variant timers' BASE_DIR argument and --variant LABEL=DIR options;
    base_and_variants() loads what they name."""
    parser.add_argument("base")
    parser.add_argument("--variant", action="append", default=[],
                        help="LABEL=DIR: another kernel library")


def base_and_variants(args):
    """{"base": KernelLibrary, label: KernelLibrary, ...} of the options of
    add_variant_arguments()."""
    return {"base": KernelLibrary(args.base),
            **variant_libraries(args.variant)}


def variant_libraries(specs):
    """{label: KernelLibrary} of the scripts' --variant LABEL=DIR options."""
    libraries = {}
    for spec in specs:
        label, directory = spec.split("=", 1)
        libraries[label] = KernelLibrary(directory)
    return libraries


def sparse_shared_memory(key_len, block_kv, cta_kv):
    """The shared memory a block-sparse kernel adds to stage its row of the
    layout (docs/kernel-abi.md; the compiler's getLayoutStaging, KernelABI.h):
    the kernel tiles of NKV key blocks, an end marker and two bitmaps of the
    blocks, 4 bytes a word."""
    nkv = -(-key_len // block_kv)
    return 4 * (nkv * (block_kv // cta_kv) + 1 + 2 * -(-nkv // 32))
