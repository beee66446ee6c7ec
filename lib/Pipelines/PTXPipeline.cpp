//===- PTXPipeline.cpp - The flash-to-ptx pipeline ------------------------===//

#include "flash/Pipelines/Pipelines.h"

#include "BuiltinPipeline.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::flash;

LogicalResult mlir::flash::verifyFlashToPTXOptions(
    const FlashToPTXOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  if (!parseChip(options.chip))
    return emitError("flash-to-ptx: " + describeChipError(options.chip));
  StringRef features = options.features;
  auto isFeatureChar = [](char c) {
    return llvm::isAlnum(c) || StringRef("+-_.,").contains(c);
  };
  if (features.empty() || !llvm::all_of(features, isFeatureChar))
    return emitError("flash-to-ptx: features must be a nonempty list of "
                     "letters, digits and '+-_.,', got '" +
                     features + "'");
  return success();
}

/// The kernels-to-PTX stages for `chip` with the PTX `features`.
static LogicalResult
addKernelsToPTX(OpPassManager &pm, StringRef chip, StringRef features,
                function_ref<LogicalResult(const Twine &)> emitError) {
  // convert-nvgpu-to-nvvm runs before convert-scf-to-cf (loop-carried
  // fragments legalize only that way); the dynamic shared memory global is
  // made external before serialization.
  std::string pipeline = llvm::formatv(
      "nvvm-attach-target{{chip={0} features={1} O=3},"
      "gpu.module(convert-nvgpu-to-nvvm,convert-scf-to-cf,canonicalize,"
      "convert-gpu-to-nvvm,convert-nvvm-to-llvm,canonicalize,cse,"
      "reconcile-unrealized-casts,flash-externalize-dynamic-shared-memory),"
      "gpu-module-to-binary{{format=isa}",
      chip, features);
  return addBuiltinPipeline(pm, pipeline, "flash-to-ptx", emitError);
}

LogicalResult mlir::flash::buildKernelsToPTXPipeline(
    OpPassManager &pm, const FlashToPTXOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  return addKernelsToPTX(pm, options.chip, options.features, emitError);
}

LogicalResult mlir::flash::buildFlashToPTXPipeline(
    OpPassManager &pm, const FlashToPTXOptions &options,
    function_ref<LogicalResult(const Twine &)> emitError) {
  std::string convert = llvm::formatv("convert-flash-to-gpu{{chip={0}}",
                                      options.chip.getValue());
  if (failed(addBuiltinPipeline(pm, convert, "flash-to-ptx", emitError)))
    return failure();
  // The backward kernels that convert-flash-to-gpu may generate need PTX
  // 8.1 on chips with warpgroup MMAs, as compileBackwardKernels knows.
  StringRef features = options.features;
  std::optional<Chip> chip = parseChip(options.chip);
  if (!options.features.hasValue() && chip && getChipInfo(*chip).warpgroupMMA)
    features = kWarpgroupBackwardPTXFeatures;
  return addKernelsToPTX(pm, options.chip, features, emitError);
}
