//===- consumer-opt.cpp - A tool built on the installed flash-mlir --------===//
//
// The smallest useful client of find_package(FlashMLIR): an optimizer driver
// that knows func and flash, and the flash passes and pipelines.
//
//===----------------------------------------------------------------------===//

#include "flash/InitFlash.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::flash::registerFlashPassesAndPipelines();

  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect>();
  mlir::flash::registerFlashDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "flash-mlir package consumer\n", registry));
}
