//===- KernelLaunch.h - The host side of the kernels' launches --*- C++ -*-===//
//
// What the lowerings of flash.attention (FlashToGPU.cpp) and
// flash.attention_grad (LowerAttentionGrad.cpp) build around their kernels:
// the kernel module, the operands' buffers in the kernels' parameter types,
// new buffers shaped like the results, the launches and the result tensors.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_KERNELLAUNCH_H
#define LIB_CONVERSION_FLASHTOGPU_KERNELLAUNCH_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::flash::detail {

/// The name of the gpu.module that holds the generated kernels.
constexpr StringLiteral kKernelModuleName = "flash_kernels";

/// The kernel module of `module`, created on first use (which makes
/// `module` a GPU container module).
gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module, OpBuilder &b);

/// A read-only buffer of `tensor` in the kernel's parameter type
/// `kernelType` (a strided memref with dynamic extents).
Value toKernelBuffer(OpBuilder &b, Location loc, Value tensor, Type kernelType);

/// A new buffer (memref.alloc) of `shape` and `elementType` whose dynamic
/// extents are those of the buffer `like` in the same dimensions.
Value allocBuffer(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType, Value like);

/// ceil(`value` / `divisor`), `value` an index.
Value ceilDiv(OpBuilder &b, Location loc, Value value, int64_t divisor);

/// The scalar arguments that the forward and the backward kernels share:
/// scale · log2(e) (f32) and the sliding window's sides (i64; 0 without a
/// window).
struct ScoreArgs {
  Value scaleLog2, windowLeft, windowRight;
};
ScoreArgs createScoreArgs(OpBuilder &b, Location loc, double scale,
                          std::optional<ArrayRef<int64_t>> window);

/// Launches `kernel` with `args` over `grid` CTAs of `threads` threads (a
/// 1-D block) and `sharedMemoryBytes` (i32) of dynamic shared memory. With
/// an `asyncDependency`, the launch is asynchronous, ordered after it, and
/// its token is returned; otherwise the launch is synchronous and the
/// result null.
Value launchKernel(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                   gpu::KernelDim3 grid, int64_t threads,
                   Value sharedMemoryBytes, ValueRange args,
                   Value asyncDependency = {});

/// The tensor of type `type` that the kernels wrote into `buffer`.
Value toResultTensor(OpBuilder &b, Location loc, Type type, Value buffer);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_KERNELLAUNCH_H
