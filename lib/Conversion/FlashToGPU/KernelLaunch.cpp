//===- KernelLaunch.cpp - The host side of the kernels' launches ----------===//

#include "KernelLaunch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

gpu::GPUModuleOp mlir::flash::detail::getOrCreateKernelModule(ModuleOp module,
                                                              OpBuilder &b) {
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName))
    return existing;
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModuleName);
}

Value mlir::flash::detail::toKernelBuffer(OpBuilder &b, Location loc,
                                          Value tensor, Type kernelType) {
  auto tensorType = cast<RankedTensorType>(tensor.getType());
  auto bufferType =
      MemRefType::get(tensorType.getShape(), tensorType.getElementType());
  Value buffer = bufferization::ToBufferOp::create(b, loc, bufferType, tensor,
                                                   /*read_only=*/true);
  return memref::CastOp::create(b, loc, kernelType, buffer);
}

Value mlir::flash::detail::allocBuffer(OpBuilder &b, Location loc,
                                       ArrayRef<int64_t> shape,
                                       Type elementType, Value like) {
  SmallVector<Value> dynamicSizes;
  for (auto [d, size] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(b.createOrFold<memref::DimOp>(loc, like, d));
  return memref::AllocOp::create(b, loc, MemRefType::get(shape, elementType),
                                 dynamicSizes);
}

Value mlir::flash::detail::ceilDiv(OpBuilder &b, Location loc, Value value,
                                   int64_t divisor) {
  return arith::CeilDivUIOp::create(
      b, loc, value, arith::ConstantIndexOp::create(b, loc, divisor));
}

ScoreArgs
mlir::flash::detail::createScoreArgs(OpBuilder &b, Location loc, double scale,
                                     std::optional<ArrayRef<int64_t>> window) {
  int64_t left = 0, right = 0;
  if (window) {
    left = (*window)[0];
    right = (*window)[1];
  }
  auto i64 = [&](int64_t value) -> Value {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), value);
  };
  Value scaleLog2 = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(scale * llvm::numbers::log2e));
  return {scaleLog2, i64(left), i64(right)};
}

Value mlir::flash::detail::launchKernel(OpBuilder &b, Location loc,
                                        gpu::GPUFuncOp kernel,
                                        gpu::KernelDim3 grid, int64_t threads,
                                        Value sharedMemoryBytes,
                                        ValueRange args,
                                        Value asyncDependency) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  gpu::KernelDim3 block{arith::ConstantIndexOp::create(b, loc, threads), one,
                        one};
  if (!asyncDependency) {
    gpu::LaunchFuncOp::create(b, loc, kernel, grid, block, sharedMemoryBytes,
                              args);
    return {};
  }
  return gpu::LaunchFuncOp::create(
             b, loc, kernel, grid, block, sharedMemoryBytes, args,
             gpu::AsyncTokenType::get(b.getContext()), asyncDependency)
      .getAsyncToken();
}

Value mlir::flash::detail::toResultTensor(OpBuilder &b, Location loc, Type type,
                                          Value buffer) {
  return bufferization::ToTensorOp::create(b, loc, type, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}
