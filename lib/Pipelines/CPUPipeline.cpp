//===- CPUPipeline.cpp - The flash-to-cpu pipeline ------------------------===//

#include "flash/Pipelines/Pipelines.h"

#include "BuiltinPipeline.h"

#include "flash/Dialect/Flash/Transforms/Passes.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::flash;

LogicalResult mlir::flash::verifyFlashToCPUOptions(
    const FlashToCPUOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  for (const FlashToCPUOptions::Option<int64_t> *option :
       {&options.tileQ, &options.tileKV}) {
    int64_t size = option->getValue();
    if (!isValidTileSize(size))
      return emitError(
          llvm::formatv("flash-to-cpu: {0} must be in [1, {1}], got {2}",
                        option->ArgStr, kMaxTileSize, size));
  }
  return success();
}

LogicalResult mlir::flash::buildFlashToCPUPipeline(
    OpPassManager &pm, const FlashToCPUOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  // Written as a textual pipeline so that the stages read in one place; every
  // pass in it is registered by flash-opt and by the plugin.
  std::string pipeline = llvm::formatv(
      "func.func(tosa-to-linalg-named,tosa-to-linalg,tosa-to-arith,"
      "tosa-to-tensor),"
      "flash-tile-attention{{tile-q={0} tile-kv={1}},"
      "flash-decompose-attention,flash-decompose-aggregates,"
      "canonicalize,cse,"
      "func.func(convert-elementwise-to-linalg),"
      "one-shot-bufferize{{bufferize-function-boundaries "
      "allow-return-allocs-from-loops "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-deallocation-pipeline,"
      "func.func(convert-linalg-to-loops),"
      "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
      "convert-math-to-llvm,convert-math-to-libm,"
      "convert-to-llvm,reconcile-unrealized-casts",
      options.tileQ.getValue(), options.tileKV.getValue());
  return addBuiltinPipeline(pm, pipeline, "flash-to-cpu", emitError);
}


