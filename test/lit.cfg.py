# -*- Python -*-
"""lit configuration for the flash-mlir test suite."""

import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "FLASH"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".c"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.flash_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "run-pytest.py",
                   "lit.site.cfg.py", "Inputs", "lib"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

config.substitutions.append(("%flash_src_root", config.flash_src_root))
config.substitutions.append(("%flash_obj_root", config.flash_obj_root))

# What the package test needs to build a project against an installed
# flash-mlir with the same tools as this build.
config.substitutions.append(("%cmake_configure",
    '"{}" -G "{}" -DCMAKE_MAKE_PROGRAM="{}" -DCMAKE_CXX_COMPILER="{}"'.format(
        config.cmake_command, config.cmake_generator,
        config.cmake_make_program, config.cxx_compiler)))
config.substitutions.append(("%cmake", '"{}"'.format(config.cmake_command)))
config.substitutions.append(("%mlir_lib_dir", config.mlir_lib_dir))
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%flash_bin", config.flash_tools_dir))
config.substitutions.append(("%flash_lib", config.flash_lib_dir))
# The CUDA driver stand-in that the runtime tests load instead of libcuda.
config.substitutions.append(
    ("%fake_cuda", os.path.join(config.flash_lib_dir, "flashrt-fake-cuda.so")))
config.substitutions.append(
    ("%mlir_runner", os.path.join(config.llvm_tools_dir, "mlir-runner")))
# The stock mlir-opt, with which the fuzzer tells upstream's crashes.
config.substitutions.append(
    ("%stock_mlir_opt", os.path.join(config.llvm_tools_dir, "mlir-opt")))

# FlashPlugin is built only when flash-mlir links libMLIR.so.
if config.flash_plugin:
    config.available_features.add("flash-plugin")
    config.substitutions.append(("%flash_plugin", config.flash_plugin))

# The C API library and its test program too.
if config.flash_capi_test:
    config.available_features.add("flash-capi")

# Tests that launch on a real GPU need a loadable CUDA driver.
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass

# The Python package's tests run with Debian's python3 and its pytest.
import subprocess
if subprocess.run(["/usr/bin/python3", "-c", "import pytest"],
                  capture_output=True).returncode == 0:
    config.available_features.add("python-pytest")

# ptxas checks that generated kernels assemble (skipped where CUDA is absent).
ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas"
    if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

tool_dirs = [config.flash_tools_dir, config.llvm_tools_dir]
tools = ["flash-opt", "flash-aot", "mlir-runner", "mlir-opt", "llvm-nm", "llvm-readobj",
         "flash-capi-test", "flashrt-test", "flashrt-test-cxx",
         "flashrt-gpu-smoke"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
