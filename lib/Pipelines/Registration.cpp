//===- Registration.cpp - Register the named flash pipelines --------------===//

#include "flash/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::flash;

namespace {

using ErrorHandler = function_ref<LogicalResult(const Twine &)>;

/// Registers the pipeline `arg`, which runs on builtin.module. Unlike
/// PassPipelineRegistration, whose builder cannot fail, it checks where the
/// pipeline is added and its options first: nested under another op (e.g.
/// `func.func(flash-to-cpu)`) the builder's textual sub-pipelines would not
/// parse, and it reports that instead, as upstream reports a pass added
/// under the wrong op. An op-agnostic pass manager (`any`) is accepted: at
/// the top level (the C API's default) it runs on the module; nested, MLIR
/// runs it only on ops that all its passes can be scheduled on.
template <typename Options>
void registerModulePipeline(
    StringRef arg, StringRef description,
    LogicalResult (*verify)(const Options &, ErrorHandler),
    LogicalResult (*builder)(OpPassManager &, const Options &, ErrorHandler)) {
  registerPassPipeline(
      arg, description,
      [arg, verify, builder](OpPassManager &pm, StringRef optionsStr,
                             ErrorHandler errorHandler) -> LogicalResult {
        std::optional<StringRef> anchor = pm.getOpName();
        if (anchor && *anchor != ModuleOp::getOperationName())
          return errorHandler(Twine(arg) + " runs on '" +
                              ModuleOp::getOperationName() + "', not on '" +
                              *anchor + "'");
        Options options;
        if (failed(options.parseFromString(optionsStr)) ||
            failed(verify(options, errorHandler)))
          return failure();
        return builder(pm, options, errorHandler);
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(Options());
      });
}

} // namespace

void mlir::flash::registerFlashPipelines() {
  registerModulePipeline<FlashToCPUOptions>(
      "flash-to-cpu",
      "Tile flash ops, bufferize and lower everything to the LLVM dialect "
      "for mlir-runner",
      verifyFlashToCPUOptions, buildFlashToCPUPipeline);
  registerModulePipeline<FlashToPTXOptions>(
      "flash-to-ptx",
      "Lower flash.attention and flash.attention_grad to tensor-core GPU "
      "kernels serialized as PTX",
      verifyFlashToPTXOptions, buildFlashToPTXPipeline);
}
