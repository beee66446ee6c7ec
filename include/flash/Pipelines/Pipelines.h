//===- Pipelines.h - Named flash-mlir pipelines -----------------*- C++ -*-===//

#ifndef FLASH_PIPELINES_PIPELINES_H
#define FLASH_PIPELINES_PIPELINES_H

#include "flash/Conversion/FlashToGPU/Chip.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::flash {

struct FlashToCPUOptions : PassPipelineOptions<FlashToCPUOptions> {
  PassOptions::Option<int64_t> tileQ{
      *this, "tile-q", llvm::cl::desc("Rows of a query tile, in [1, 2^20]"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> tileKV{
      *this, "tile-kv",
      llvm::cl::desc("Rows of a key/value tile, in [1, 2^20]"),
      llvm::cl::init(64)};
};

/// Checks `options` before buildFlashToCPUPipeline: tile-q and tile-kv
/// must be in [1, kMaxTileSize] (flash-tile-attention's range). Reports the
/// first violation through `emitError` and returns its result.
LogicalResult
verifyFlashToCPUOptions(const FlashToCPUOptions &options,
                        function_ref<LogicalResult(const Twine &)> emitError);

/// Lowers a module of flash ops and upstream tensor-level ops (linalg,
/// tensor, arith, math, tosa) to the LLVM dialect, runnable by mlir-runner:
/// tosa to linalg, flash ops tiled (flash-tile-attention) and the rest
/// decomposed, one-shot bufferization with deallocation, loops, LLVM.
/// The stages are upstream passes looked up in the pass registry (e.g.
/// registerAllPasses()); where one is missing, reports it through
/// `emitError` and returns its result.
LogicalResult
buildFlashToCPUPipeline(OpPassManager &pm, const FlashToCPUOptions &options,
                        function_ref<LogicalResult(const Twine &)> emitError);

/// The PTX features of the backward kernels on chips with warpgroup MMAs:
/// they add pairs of floats into the dQ workspace with vector reductions,
/// which PTX 8.1 introduced.
inline constexpr llvm::StringLiteral kWarpgroupBackwardPTXFeatures = "+ptx81";

struct FlashToPTXOptions : PassPipelineOptions<FlashToPTXOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc(getChipOptionDescription()),
      llvm::cl::init(stringifyChip(Chip::SM80).str())};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features for the NVVM target (flash-to-ptx, not "
                     "given: +ptx81 on chips with warpgroup MMAs, whose "
                     "backward kernels need it)"),
      llvm::cl::init("+ptx80")};
};

/// Checks `options` before buildFlashToPTXPipeline or
/// buildKernelsToPTXPipeline: the chip must be one of the chip table, and
/// the features a nonempty list of letters, digits and `+-_.,` (they are
/// spliced into a textual pipeline). Reports the first violation through
/// `emitError` and returns its result.
LogicalResult
verifyFlashToPTXOptions(const FlashToPTXOptions &options,
                        function_ref<LogicalResult(const Twine &)> emitError);

/// Lowers flash.attention and flash.attention_grad to tensor-core kernels
/// (convert-flash-to-gpu), lowers the kernel modules to NVVM and serializes
/// them to PTX with LLVM's NVPTX backend (gpu-module-to-binary,
/// format=isa): no CUDA installation is needed. Without `features` given,
/// a chip with warpgroup MMAs gets kWarpgroupBackwardPTXFeatures, which
/// its backward kernels need. Needs the upstream passes registered, as
/// buildFlashToCPUPipeline does.
LogicalResult
buildFlashToPTXPipeline(OpPassManager &pm, const FlashToPTXOptions &options,
                        function_ref<LogicalResult(const Twine &)> emitError);

/// The steps of buildFlashToPTXPipeline after convert-flash-to-gpu: for
/// modules whose gpu.modules already hold the kernels.
LogicalResult
buildKernelsToPTXPipeline(OpPassManager &pm, const FlashToPTXOptions &options,
                          function_ref<LogicalResult(const Twine &)> emitError);

/// Registers `flash-to-cpu` and `flash-to-ptx` with the pass registry. Both
/// run on builtin.module: nested under another op (e.g.
/// `func.func(flash-to-cpu)`) or given options that the verify functions
/// above reject, they fail the pipeline's parse with a message.
void registerFlashPipelines();

} // namespace mlir::flash

#endif // FLASH_PIPELINES_PIPELINES_H
