//===- Pipelines.h - Named flash-mlir pipelines -----------------*- C++ -*-===//

#ifndef FLASH_PIPELINES_PIPELINES_H
#define FLASH_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::flash {

struct FlashToCPUOptions : PassPipelineOptions<FlashToCPUOptions> {
  PassOptions::Option<int64_t> blockQ{*this, "block-q",
                                      llvm::cl::desc("Rows of a query tile"),
                                      llvm::cl::init(64)};
  PassOptions::Option<int64_t> blockKV{
      *this, "block-kv", llvm::cl::desc("Rows of a key/value tile"),
      llvm::cl::init(64)};
};

/// Lowers a module of flash ops and upstream tensor-level ops (linalg,
/// tensor, arith, math, tosa) to the LLVM dialect, runnable by mlir-runner:
/// tosa to linalg, flash ops tiled (flash-tile-attention) and the rest
/// decomposed, one-shot bufferization with deallocation, loops, LLVM.
void buildFlashToCPUPipeline(OpPassManager &pm,
                             const FlashToCPUOptions &options);

/// Registers `flash-to-cpu` with the pass registry.
void registerFlashPipelines();

} // namespace mlir::flash

#endif // FLASH_PIPELINES_PIPELINES_H
