"""Where the native libraries are.

libFlashRuntime.so (loads and launches kernels) and libFlashCAPI.so
(generates kernels; optional) are looked up, in this order:
  1. the environment variables FLASH_MLIR_RUNTIME and FLASH_MLIR_CAPI (paths
     to the files);
  2. the `_build_paths` module that CMake writes next to the package copy in
     a build tree (build/python/flash_mlir/_build_paths.py);
  3. next to the package (flash_mlir/lib/ or flash_mlir/), for a wheel that
     bundles them;
  4. the dynamic loader's search path (LD_LIBRARY_PATH, ldconfig).
"""

import os

RUNTIME_ENV = "FLASH_MLIR_RUNTIME"
CAPI_ENV = "FLASH_MLIR_CAPI"
KERNELS_ENV = "FLASH_MLIR_KERNELS"

RUNTIME_NAME = "libFlashRuntime.so"
CAPI_NAME = "libFlashCAPI.so"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _build_path(attribute):
    try:
        from . import _build_paths
    except ImportError:
        return None
    return getattr(_build_paths, attribute, None) or None


def candidates(env, attribute, name):
    """The places to try for one library, best first, as (path, origin)."""
    found = []
    if os.environ.get(env):
        found.append((os.environ[env], f"${env}"))
    built = _build_path(attribute)
    if built:
        found.append((built, "the build tree (_build_paths.py)"))
    for folder in (os.path.join(_PACKAGE_DIR, "lib"), _PACKAGE_DIR):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            found.append((path, "the package directory"))
    found.append((name, "the dynamic loader's search path"))
    return found


def runtime_candidates():
    return candidates(RUNTIME_ENV, "RUNTIME_LIBRARY", RUNTIME_NAME)


def capi_candidates():
    return candidates(CAPI_ENV, "CAPI_LIBRARY", CAPI_NAME)


def flash_aot_hint():
    """How to get flash-aot, for error messages."""
    built = _build_path("FLASH_AOT")
    return built or "flash-aot"
