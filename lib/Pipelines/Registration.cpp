//===- Registration.cpp - Register the named flash pipelines --------------===//

#include "flash/Pipelines/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::flash;

void mlir::flash::registerFlashPipelines() {
  PassPipelineRegistration<FlashToCPUOptions>(
      "flash-to-cpu",
      "Tile flash ops, bufferize and lower everything to the LLVM dialect "
      "for mlir-runner",
      buildFlashToCPUPipeline);
  PassPipelineRegistration<FlashToPTXOptions>(
      "flash-to-ptx",
      "Lower flash.attention to tensor-core GPU kernels serialized as PTX",
      buildFlashToPTXPipeline);
}
