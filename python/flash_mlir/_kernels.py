"""Kernels by spec and device: from a flash-aot directory or compiled on
demand by libFlashCAPI, loaded once through libFlashRuntime and cached.

Source order for a spec: the kernel directory (set_kernel_dir() or
$FLASH_MLIR_KERNELS) when it has the spec, then libFlashCAPI when it loads.
A directory is an explicit choice, with cubins built ahead of time, so it
comes first; the compiler fills its gaps.
"""

import ctypes
import os
import threading

from . import _capi, _paths, _runtime, _spec
from ._errors import KernelNotFoundError, RuntimeLibraryError

_DTYPE_CODES = {"f16": _runtime.DTYPE_F16, "bf16": _runtime.DTYPE_BF16}


class KernelLibrary:
    """A flash-aot directory opened by the runtime (manifest only; images
    are read when a kernel is loaded)."""

    def __init__(self, directory, runtime=None):
        self.rt = runtime or _runtime.get_runtime()
        self.directory = os.path.abspath(directory)
        handle = ctypes.c_void_p()
        self.rt.check(self.rt.library_open(_runtime.os_path(directory),
                                           ctypes.byref(handle)),
                      f"opening the kernel directory {directory}")
        self.handle = handle

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle:
            self.rt.library_destroy(handle)
            self.handle = None

    def __len__(self):
        return self.rt.library_size(self.handle)

    def info(self, index):
        info = _runtime.KernelInfo()
        self.rt.check(self.rt.library_info(self.handle, index,
                                           ctypes.byref(info)),
                      f"kernel {index} of {self.directory}")
        return info

    def names(self):
        return [self.info(i).name.decode() for i in range(len(self))]

    def select(self, spec, device_chip):
        """(KernelInfo, image kind) for `spec` on a device, or None when the
        library has no kernel for it."""
        selection = _runtime.Selection()
        status = self.rt.library_select(self.handle, ctypes.byref(spec),
                                        device_chip, ctypes.byref(selection))
        if status == 8:  # NO_KERNEL
            return None
        self.rt.check(status, f"selecting a kernel in {self.directory}")
        return self.info(selection.index), selection.image


class Kernel:
    """A kernel loaded in a device's context."""

    def __init__(self, rt, context, handle, source, keepalive=None):
        self.rt = rt
        self.context = context
        self.handle = handle
        self.source = source  # "directory DIR" or "compiled"
        self._keepalive = keepalive

    @property
    def info(self):
        return self.rt.kernel_get_info(self.handle).contents

    def __del__(self):
        if getattr(self, "handle", None):
            self.rt.kernel_destroy(self.handle)
            self.handle = None


_lock = threading.RLock()
_explicit_dir = None
_library = None  # (directory, KernelLibrary)
_contexts = {}
_kernels = {}


def set_kernel_dir(directory):
    """Uses the flash-aot directory `directory` (None: back to
    $FLASH_MLIR_KERNELS). Opens its manifest now, so a bad directory fails
    here; forgets the kernels loaded so far."""
    global _explicit_dir, _library
    with _lock:
        library = None
        if directory is not None:
            library = KernelLibrary(os.fspath(directory))
        _explicit_dir = None if directory is None else library.directory
        _library = (_explicit_dir, library) if library else None
        _kernels.clear()


def kernel_dir():
    """The kernel directory in use, or None."""
    with _lock:
        return _explicit_dir or os.environ.get(_paths.KERNELS_ENV) or None


def _current_library():
    global _library
    directory = kernel_dir()
    if directory is None:
        return None
    if _library is None or _library[0] != directory:
        _library = (directory, KernelLibrary(directory))
    return _library[1]


def context(rt, ordinal):
    with _lock:
        if ordinal not in _contexts:
            handle = ctypes.c_void_p()
            rt.check(rt.context_create(ordinal, ctypes.byref(handle)),
                     f"creating a context on CUDA device {ordinal}")
            _contexts[ordinal] = handle
        return _contexts[ordinal]


def make_spec(head_dim, dtype, mask, chip=_runtime.CHIP_ANY, features=(),
              kind="forward"):
    """A flashrt_spec; `features` and `kind` are named as in manifests, e.g.
    features=("block_sparse",)."""
    return _runtime.Spec(head_dim, _DTYPE_CODES[dtype], _runtime.MASKS[mask],
                         _runtime.feature_bits(features), chip,
                         _runtime.KINDS[kind])


def info_from_metadata(rt, metadata):
    """A KernelInfo from libFlashCAPI's JSON (one manifest entry). The name
    buffer is returned too: it must outlive the info."""
    spec = metadata["spec"]
    config = metadata["config"]
    name = ctypes.create_string_buffer(metadata["name"].encode())
    info = _runtime.KernelInfo()
    info.name = ctypes.cast(name, ctypes.c_char_p)
    info.spec = make_spec(spec["head_dim"], spec["dtype"], spec["mask"],
                          rt.chip_parse(spec["chip"]), spec["features"],
                          spec["kind"])
    info.cta_q = config["cta_q"]
    info.cta_kv = config["cta_kv"]
    info.warps = config["warps"]
    info.stages = config["stages"]
    info.threads = metadata["threads"]
    info.smem_bytes = metadata["smem_bytes"]
    rt.check(rt.kernel_info_check(ctypes.byref(info)),
             f"the metadata of {metadata['name']}")
    return info, name


def get_kernel(ordinal, head_dim, dtype, mask, features=(), kind="forward"):
    """The loaded kernel of `kind` ("forward", "backward") for a spec on CUDA
    device `ordinal`; `features` are names, e.g. ("block_sparse",)."""
    features = tuple(features)
    key = (ordinal, head_dim, dtype, mask, features, kind, kernel_dir())
    with _lock:
        kernel = _kernels.get(key)
        if kernel is None:
            kernel = _load(ordinal, head_dim, dtype, mask, features, kind)
            _kernels[key] = kernel
        return kernel


def _load(ordinal, head_dim, dtype, mask, features, kind):
    rt = _runtime.get_runtime()
    ctx = context(rt, ordinal)
    device_chip = rt.context_chip(ctx)
    spec = make_spec(head_dim, dtype, mask, features=features, kind=kind)
    library = _current_library()
    if library is not None and library.select(spec, device_chip):
        handle = ctypes.c_void_p()
        rt.check(rt.kernel_load(ctx, library.handle, ctypes.byref(spec),
                                ctypes.byref(handle)),
                 f"loading a kernel from {library.directory}")
        return Kernel(rt, ctx, handle, f"directory {library.directory}",
                      keepalive=library)
    compiler = _capi.get_compiler()
    if compiler is not None:
        chip = _spec.compile_chip(device_chip, rt.chip_runs)
        _, ptx, metadata = compiler.compile(head_dim, dtype, mask, chip,
                                            features, kind)
        info, name = info_from_metadata(rt, metadata)
        handle = ctypes.c_void_p()
        rt.check(rt.kernel_load_ptx(ctx, ctypes.byref(info), ptx, len(ptx),
                                    ctypes.byref(handle)),
                 f"loading the generated kernel {metadata['name']}")
        return Kernel(rt, ctx, handle, "compiled", keepalive=name)
    raise KernelNotFoundError(
        _missing_message(rt, library, head_dim, dtype, mask, features,
                         device_chip, kind))


def _missing_message(rt, library, head_dim, dtype, mask, features,
                     device_chip, kind="forward"):
    block_sparse = "block_sparse" in features
    named = f" features={','.join(features)}" if features else ""
    kernel = "kernel" if kind == "forward" else f"{kind} kernel"
    what = (f"no {kernel} for head_dim={head_dim} dtype={dtype} "
            f"mask={mask}{named} on {_spec.chip_label(device_chip)}")
    if library is not None:
        names = library.names()
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        where = f"the kernel directory {library.directory} lacks it (it has " \
                f"{shown or 'no kernels'})"
    else:
        where = (f"no kernel directory is set (${_paths.KERNELS_ENV} or "
                 f"flash_mlir.set_kernel_dir())")
    return (f"{what}: {where}, and libFlashCAPI.so, which would generate "
            f"it, is not available ({_capi.load_error()}). Generate one with "
            f"`{_paths.flash_aot_hint()} --head-dim={head_dim} "
            f"--dtype={dtype} --mask={mask} "
            f"--block-sparse={'yes' if block_sparse else 'no'} "
            f"--direction={'bwd' if kind == 'backward' else 'fwd'} -o DIR` on "
            f"a machine with flash-mlir's compiler, then set "
            f"{_paths.KERNELS_ENV}=DIR or call flash_mlir.set_kernel_dir(DIR); "
            f"or set {_paths.CAPI_ENV} to libFlashCAPI.so")


def reset_for_tests():
    global _explicit_dir, _library
    with _lock:
        _explicit_dir = None
        _library = None
        _kernels.clear()


__all__ = ["KernelLibrary", "Kernel", "RuntimeLibraryError", "get_kernel",
           "set_kernel_dir", "kernel_dir"]
