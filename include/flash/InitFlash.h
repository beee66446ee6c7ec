//===- InitFlash.h - Register the flash dialect and passes ------*- C++ -*-===//
//
// One place that names everything flash-mlir registers, shared by flash-opt,
// the mlir-opt plugin, the C API and out-of-tree tools built against the
// installed CMake package.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_INITFLASH_H
#define FLASH_INITFLASH_H

#include "flash/Conversion/Passes.h"
#include "flash/Dialect/Flash/IR/FlashDialect.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"
#include "flash/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir::flash {

/// Adds the flash dialect to `registry`. Its dependent dialects (tensor) are
/// loaded with it.
inline void registerFlashDialects(DialectRegistry &registry) {
  registry.insert<FlashDialect>();
}

/// Registers every flash pass and every named flash pipeline with the global
/// pass registry. The pipelines (flash-to-cpu, flash-to-ptx) are spelled in terms of
/// upstream passes, which must be registered too (mlir::registerAllPasses or
/// a tool that does it, such as mlir-opt) before they are built.
inline void registerFlashPassesAndPipelines() {
  registerFlashPasses();
  registerFlashConversionPasses();
  registerFlashPipelines();
}

} // namespace mlir::flash

#endif // FLASH_INITFLASH_H
