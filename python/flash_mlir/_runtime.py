"""ctypes bindings of libFlashRuntime (include/flash/Runtime/Runtime.h).

The structures mirror the C header field by field; tests/test_runtime.py
checks their sizes and offsets against a C compiler's and round-trips them
through the library's own functions. They are those of ABI_VERSION, which
the loaded library must report (flashrt_abi_version; docs/runtime.md,
"Compatibility").
"""

import ctypes
import os
import threading

from . import _paths
from ._errors import RuntimeLibraryError

# FLASHRT_ABI_VERSION of the header these bindings mirror.
ABI_VERSION = 4

# flashrt_kernel_kind, by manifest name
KINDS = {"forward": 0, "backward": 1, "decode": 2, "combine": 3}

# FLASHRT_FEATURE_*, by manifest name
FEATURES = {"block_sparse": 1 << 0, "dropout": 1 << 1}

# flashrt_dtype
DTYPE_F16 = 0
DTYPE_BF16 = 1
DTYPE_F32 = 2
DTYPE_I32 = 3

# flashrt_mask
MASKS = {"none": 0, "causal": 1, "causal_bottom_right": 2,
         "sliding_window": 3}

CHIP_ANY = 0

# flashrt_image_kind
IMAGE_PTX = 0
IMAGE_CUBIN = 1


class Spec(ctypes.Structure):
    """flashrt_spec"""
    _fields_ = [("head_dim", ctypes.c_int),
                ("dtype", ctypes.c_int),
                ("mask", ctypes.c_int),
                ("features", ctypes.c_uint),
                ("chip", ctypes.c_int),
                ("kind", ctypes.c_int)]


class KernelInfo(ctypes.Structure):
    """flashrt_kernel_info"""
    _fields_ = [("name", ctypes.c_char_p),
                ("spec", Spec),
                ("cta_q", ctypes.c_int),
                ("cta_kv", ctypes.c_int),
                ("warps", ctypes.c_int),
                ("stages", ctypes.c_int),
                ("threads", ctypes.c_int),
                ("smem_bytes", ctypes.c_int)]


class Selection(ctypes.Structure):
    """flashrt_selection"""
    _fields_ = [("index", ctypes.c_size_t),
                ("image", ctypes.c_int)]


class Tensor(ctypes.Structure):
    """flashrt_tensor"""
    _fields_ = [("data", ctypes.c_void_p),
                ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int),
                ("sizes", ctypes.c_int64 * 4),
                ("strides", ctypes.c_int64 * 4)]


class BlockLayout(ctypes.Structure):
    """flashrt_block_layout"""
    _fields_ = [("kv_num_blocks", ctypes.POINTER(Tensor)),
                ("kv_indices", ctypes.POINTER(Tensor)),
                ("full_kv_num_blocks", ctypes.POINTER(Tensor)),
                ("full_kv_indices", ctypes.POINTER(Tensor)),
                ("block_q", ctypes.c_int64),
                ("block_kv", ctypes.c_int64)]


class Dropout(ctypes.Structure):
    """flashrt_dropout; the seed and offset may be given as signed 64-bit
    integers (their bits are taken)."""
    _fields_ = [("p", ctypes.c_double),
                ("seed", ctypes.c_uint64),
                ("offset", ctypes.c_uint64)]

    def __init__(self, p, seed, offset):
        mask = (1 << 64) - 1
        super().__init__(p, seed & mask, offset & mask)


class BackwardTensors(ctypes.Structure):
    """flashrt_backward_tensors"""
    _fields_ = [(name, ctypes.POINTER(Tensor)) for name in
                ("q", "k", "v", "o", "lse", "dout", "dlse", "dq", "dk",
                 "dv")] + [("deterministic", ctypes.c_int),
                           ("dropout", ctypes.POINTER(Dropout))]


def feature_bits(names):
    """FLASHRT_FEATURE_* bits of feature names ("block_sparse", ...)."""
    bits = 0
    for name in names:
        if name not in FEATURES:
            raise ValueError(f"unknown kernel feature {name!r}; the features "
                             f"are {', '.join(FEATURES)}")
        bits |= FEATURES[name]
    return bits


def make_tensor(data, dtype, sizes, strides):
    """A flashrt_tensor of a device pointer (an int), sizes and strides."""
    t = Tensor()
    t.data = data
    t.dtype = dtype
    t.rank = len(sizes)
    for i, (size, stride) in enumerate(zip(sizes, strides)):
        t.sizes[i] = size
        t.strides[i] = stride
    return t


_P = ctypes.POINTER
_c_status = ctypes.c_int
_handle = ctypes.c_void_p

# name: (restype, argtypes)
_SIGNATURES = {
    "flashrt_abi_version": (ctypes.c_int, []),
    "flashrt_status_name": (ctypes.c_char_p, [_c_status]),
    "flashrt_last_error": (ctypes.c_char_p, []),
    "flashrt_chip_parse": (_c_status, [ctypes.c_char_p, _P(ctypes.c_int)]),
    "flashrt_chip_name": (_c_status, [ctypes.c_int, ctypes.c_char_p,
                                      ctypes.c_size_t]),
    "flashrt_chip_runs": (ctypes.c_int, [ctypes.c_int, ctypes.c_int,
                                         ctypes.c_int]),
    "flashrt_spec_symbol": (_c_status, [_P(Spec), ctypes.c_char_p,
                                        ctypes.c_size_t]),
    "flashrt_kernel_info_check": (_c_status, [_P(KernelInfo)]),
    "flashrt_library_open": (_c_status, [ctypes.c_char_p, _P(_handle)]),
    "flashrt_library_parse": (_c_status, [ctypes.c_char_p, ctypes.c_size_t,
                                          ctypes.c_char_p, _P(_handle)]),
    "flashrt_library_destroy": (None, [_handle]),
    "flashrt_library_size": (ctypes.c_size_t, [_handle]),
    "flashrt_library_info": (_c_status, [_handle, ctypes.c_size_t,
                                         _P(KernelInfo)]),
    "flashrt_library_has_ptx": (ctypes.c_int, [_handle, ctypes.c_size_t]),
    "flashrt_library_has_cubin": (ctypes.c_int, [_handle, ctypes.c_size_t]),
    "flashrt_library_select": (_c_status, [_handle, _P(Spec), ctypes.c_int,
                                           _P(Selection)]),
    "flashrt_validate_forward": (_c_status, [
        _P(KernelInfo), _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
        _P(Tensor), ctypes.c_float, ctypes.c_int64, ctypes.c_int64]),
    "flashrt_validate_forward_sparse": (_c_status, [
        _P(KernelInfo), _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
        _P(Tensor), ctypes.c_float, ctypes.c_int64, ctypes.c_int64,
        _P(BlockLayout)]),
    "flashrt_sparse_shared_memory": (_c_status, [
        _P(KernelInfo), ctypes.c_int64, ctypes.c_int64,
        _P(ctypes.c_int64)]),
    "flashrt_context_create": (_c_status, [ctypes.c_int, _P(_handle)]),
    "flashrt_context_destroy": (None, [_handle]),
    "flashrt_context_chip": (ctypes.c_int, [_handle]),
    "flashrt_kernel_load": (_c_status, [_handle, _handle, _P(Spec),
                                        _P(_handle)]),
    "flashrt_kernel_load_ptx": (_c_status, [_handle, _P(KernelInfo),
                                            ctypes.c_char_p, ctypes.c_size_t,
                                            _P(_handle)]),
    "flashrt_kernel_destroy": (None, [_handle]),
    "flashrt_kernel_get_info": (_P(KernelInfo), [_handle]),
    "flashrt_attention_forward": (_c_status, [
        _handle, _handle, _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
        _P(Tensor), ctypes.c_float, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_void_p]),
    "flashrt_attention_forward_dropout": (_c_status, [
        _handle, _handle, _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
        _P(Tensor), ctypes.c_float, ctypes.c_int64, ctypes.c_int64,
        _P(Dropout), ctypes.c_void_p]),
    "flashrt_attention_forward_sparse": (_c_status, [
        _handle, _handle, _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
        _P(Tensor), ctypes.c_float, ctypes.c_int64, ctypes.c_int64,
        _P(BlockLayout), ctypes.c_void_p]),
    "flashrt_backward_workspace_size": (_c_status, [
        _P(KernelInfo), ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
        _P(ctypes.c_size_t)]),
    "flashrt_validate_backward": (_c_status, [
        _P(KernelInfo), _P(BackwardTensors), ctypes.c_float, ctypes.c_int64,
        ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t]),
    "flashrt_attention_backward": (_c_status, [
        _handle, _handle, _P(BackwardTensors), ctypes.c_float,
        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t,
        ctypes.c_void_p]),
}


class Runtime:
    """libFlashRuntime, loaded, with its functions typed."""

    def __init__(self, path):
        self.path = path
        self.lib = ctypes.CDLL(path)
        _check_abi_version(self.lib, path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(self.lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
            short = name[len("flashrt_"):]
            if not hasattr(type(self), short):  # else a typed wrapper below
                setattr(self, short, fn)

    def check(self, status, what):
        """Raises RuntimeLibraryError for a failed status."""
        if status != 0:
            name = self.status_name(status).decode()
            message = self.last_error().decode(errors="replace")
            raise RuntimeLibraryError(what, name, message)

    def chip_parse(self, name):
        chip = ctypes.c_int()
        self.check(self.lib.flashrt_chip_parse(name.encode(),
                                               ctypes.byref(chip)),
                   f"chip {name!r}")
        return chip.value

    def chip_name(self, chip):
        buf = ctypes.create_string_buffer(32)
        self.check(self.lib.flashrt_chip_name(chip, buf, len(buf)),
                   f"chip {chip}")
        return buf.value.decode()

    def spec_symbol(self, spec):
        buf = ctypes.create_string_buffer(128)
        self.check(self.lib.flashrt_spec_symbol(ctypes.byref(spec), buf,
                                                len(buf)), "spec")
        return buf.value.decode()


class AbiVersionError(OSError):
    """A libFlashRuntime of another ABI version than these bindings'."""


def _check_abi_version(lib, path):
    """AbiVersionError unless `lib` reports ABI_VERSION. Version 1 had no
    flashrt_abi_version."""
    try:
        fn = lib.flashrt_abi_version
    except AttributeError:
        version = 1
    else:
        fn.restype = ctypes.c_int
        fn.argtypes = []
        version = fn()
    if version != ABI_VERSION:
        raise AbiVersionError(
            f"{path} has ABI version {version}, but this flash_mlir needs "
            f"version {ABI_VERSION}: use the libFlashRuntime.so of the same "
            f"flash-mlir build as the package")


_lock = threading.Lock()
_runtime = None


def get_runtime():
    """The process's Runtime, loaded on first use (see _paths)."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = _load()
        return _runtime


def _load():
    tried = []
    status = "NOT_FOUND"
    for path, origin in _paths.runtime_candidates():
        try:
            return Runtime(path)
        except AbiVersionError as err:
            status = "ABI_VERSION"
            tried.append(f"{path} (from {origin}): {err}")
        except OSError as err:
            tried.append(f"{path} (from {origin}): {err}")
        if origin == f"${_paths.RUNTIME_ENV}":
            break  # An explicit choice is not second-guessed.
    raise RuntimeLibraryError(
        "loading libFlashRuntime.so", status,
        "tried " + "; ".join(tried) + f". Set {_paths.RUNTIME_ENV} to the "
        f"library of ABI version {ABI_VERSION} (build/lib/libFlashRuntime.so "
        "after `ninja FlashRuntime`)")


def reset_for_tests():
    """Forgets the loaded runtime (tests that change FLASH_MLIR_RUNTIME)."""
    global _runtime
    with _lock:
        _runtime = None


def os_path(path):
    return os.fsencode(os.path.abspath(path))
