"""ctypes bindings of libFlashCAPI's kernel compiler
(include/flash-c/Compiler.h): a kernel spec in, PTX and launch metadata out.

The library needs libMLIR.so, so it exists only where flash-mlir's compiler
is installed. `get_compiler()` returns None where it cannot be loaded.
"""

import ctypes
import json
import threading

from . import _paths
from ._errors import CompileError


class KernelSpec(ctypes.Structure):
    """FlashKernelSpec"""
    _fields_ = [("headDim", ctypes.c_int64),
                ("dtype", ctypes.c_char_p),
                ("mask", ctypes.c_char_p),
                ("features", ctypes.c_char_p),
                ("chip", ctypes.c_char_p),
                ("kind", ctypes.c_char_p)]


class CompiledKernel(ctypes.Structure):
    """FlashCompiledKernel; its strings are malloc'ed by the library."""
    _fields_ = [("name", ctypes.c_void_p),
                ("ptx", ctypes.c_void_p),
                ("metadata", ctypes.c_void_p)]


class Compiler:
    """libFlashCAPI, loaded."""

    def __init__(self, path):
        self.path = path
        lib = ctypes.CDLL(path)
        lib.flashCompileForwardKernelWithOptions.restype = ctypes.c_bool
        lib.flashCompileForwardKernelWithOptions.argtypes = [
            ctypes.POINTER(KernelSpec), ctypes.c_char_p,
            ctypes.POINTER(CompiledKernel), ctypes.POINTER(ctypes.c_void_p)]
        lib.flashCompiledKernelDestroy.restype = None
        lib.flashCompiledKernelDestroy.argtypes = [
            ctypes.POINTER(CompiledKernel)]
        lib.flashFreeString.restype = None
        lib.flashFreeString.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self._lock = threading.Lock()

    def compile(self, head_dim, dtype, mask, chip, features=(),
                kind="forward", options=None):
        """Generates a kernel; returns (name, ptx, metadata dict).
        `features` are feature names as manifests spell them (e.g.
        ("block_sparse",)); `options` overrides the plan table's plan with
        convert-flash-to-gpu options, e.g. "cta-kv=32 stages=3"
        (docs/integration.md)."""
        spec = KernelSpec(head_dim, dtype.encode(), mask.encode(),
                          ",".join(features).encode(), chip.encode(),
                          kind.encode())
        kernel = CompiledKernel()
        error = ctypes.c_void_p()
        with self._lock:
            ok = self.lib.flashCompileForwardKernelWithOptions(
                ctypes.byref(spec), options.encode() if options else None,
                ctypes.byref(kernel), ctypes.byref(error))
        if not ok:
            message = "unknown error"
            if error.value:
                message = ctypes.string_at(error.value).decode(
                    errors="replace")
                self.lib.flashFreeString(error)
            raise CompileError(
                f"generating the kernel d{head_dim} {dtype} {mask} {chip} "
                f"failed: {message}")
        try:
            name = ctypes.string_at(kernel.name).decode()
            ptx = ctypes.string_at(kernel.ptx)
            metadata = json.loads(ctypes.string_at(kernel.metadata))
        finally:
            self.lib.flashCompiledKernelDestroy(ctypes.byref(kernel))
        return name, ptx, metadata


_lock = threading.Lock()
_compiler = None
_load_error = None


def get_compiler():
    """The process's Compiler, or None when libFlashCAPI cannot be loaded
    (`load_error()` says why)."""
    global _compiler, _load_error
    with _lock:
        if _compiler is None and _load_error is None:
            _compiler, _load_error = _load()
        return _compiler


def load_error():
    return _load_error


def _load():
    tried = []
    for path, origin in _paths.capi_candidates():
        try:
            return Compiler(path), None
        except (OSError, AttributeError) as err:
            tried.append(f"{path} (from {origin}): {err}")
    return None, "; ".join(tried)


def reset_for_tests():
    global _compiler, _load_error
    with _lock:
        _compiler = None
        _load_error = None
