"""Shared test helpers. Every test module needs torch and skips without it
(importorskip in each module: a skip here would be an error).

Native libraries are found as the package finds them (FLASH_MLIR_RUNTIME,
FLASH_MLIR_CAPI, or the build tree's _build_paths.py); tests that need one
skip when it is absent.
"""

import os
import sys

import pytest

try:
    import torch
except ImportError:
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))


def _cuda_ok():
    return torch is not None and torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not _cuda_ok(), reason="needs a CUDA GPU")


def runtime_or_skip():
    from flash_mlir import _runtime
    try:
        return _runtime.get_runtime()
    except Exception as err:  # noqa: BLE001 - any failure means "absent"
        pytest.skip(f"libFlashRuntime.so not available: {err}")


def compiler_or_skip():
    from flash_mlir import _capi
    compiler = _capi.get_compiler()
    if compiler is None:
        pytest.skip(f"libFlashCAPI.so not available: {_capi.load_error()}")
    return compiler


def build_path(attribute):
    """A path from the build tree's _build_paths module, or None."""
    try:
        from flash_mlir import _build_paths
    except ImportError:
        return None
    return getattr(_build_paths, attribute, None)


@pytest.fixture
def python_env():
    """The environment for a subprocess that imports flash_mlir as this
    process does."""
    import flash_mlir
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(flash_mlir.__file__))
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent, HERE] + [p for p in sys.path if p])
    return env
