//===- flash-opt.cpp - The flash-mlir optimizer driver --------------------===//
//
// mlir-opt with the flash dialect, its passes and pipelines registered, next
// to every upstream dialect and pass.
//
//===----------------------------------------------------------------------===//

#include "flash/InitFlash.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::flash::registerFlashPassesAndPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR for the NVPTX backend.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::flash::registerFlashDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "flash-mlir optimizer driver\n", registry));
}
