/*===- Compiler.h - C API: kernel spec in, PTX out -----------------*- C -*-===*\
|*                                                                            *|
|* Generates the tensor-core forward attention kernel of a spec and returns   *|
|* its PTX with the launch metadata of docs/kernel-abi.md, as a JSON object   *|
|* shaped like one entry of a flash-aot manifest.                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef FLASH_C_COMPILER_H
#define FLASH_C_COMPILER_H

#include "mlir-c/Support.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a kernel computes, spelled as in manifests (docs/kernel-abi.md).
/// Strings are borrowed for the call's duration. `kind` comes last, and NULL
/// means "forward", so that a spec written in the order of the first
/// version ({headDim, dtype, mask, blockSparse, chip}) fails to compile or
/// means the dense forward kernel (docs/runtime.md, "Compatibility").
typedef struct {
  int64_t headDim;      /* multiple of 8, up to 256 */
  const char *dtype;    /* "f16" or "bf16" */
  const char *mask;     /* "none", "causal", "causal_bottom_right",
                           "sliding_window" */
  const char *features; /* comma-separated feature names, e.g.
                           "block_sparse"; NULL or "": none */
  const char *chip;     /* a chip of the chip table (docs/kernel-abi.md) */
  const char *kind;     /* "forward", "backward" (its three kernels in one
                           module, docs/kernel-abi.md), "decode", "combine"
                           (not generated yet); NULL: "forward" */
} FlashKernelSpec;

/// A generated kernel; release with flashCompiledKernelDestroy.
typedef struct {
  char *name;     /* the kernel symbol */
  char *ptx;      /* NUL-terminated PTX text */
  char *metadata; /* JSON: spec, config, threads, smem_bytes, params */
} FlashCompiledKernel;

/// Generates the kernel of `spec`. On success fills `*kernel` and returns
/// true; on failure returns false and, when `error` is not NULL, stores a
/// message naming the bad field in `*error` (release with flashFreeString).
MLIR_CAPI_EXPORTED bool flashCompileForwardKernel(const FlashKernelSpec *spec,
                                                  FlashCompiledKernel *kernel,
                                                  char **error);

/// Like flashCompileForwardKernel, with the plan table's plan overridden by
/// `options`: options of the convert-flash-to-gpu pass as in a pass
/// pipeline, e.g. "cta-kv=32 warpgroup-mma=no" (docs/integration.md lists
/// them). NULL or "" takes the plan table's plan. A bad option, or a plan
/// that cannot be generated, fails with a message naming the option.
MLIR_CAPI_EXPORTED bool
flashCompileForwardKernelWithOptions(const FlashKernelSpec *spec,
                                     const char *options,
                                     FlashCompiledKernel *kernel, char **error);

MLIR_CAPI_EXPORTED void flashCompiledKernelDestroy(FlashCompiledKernel *kernel);

MLIR_CAPI_EXPORTED void flashFreeString(char *str);

#ifdef __cplusplus
}
#endif

#endif /* FLASH_C_COMPILER_H */
