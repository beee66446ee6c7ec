//===- ForwardKernel.h - The tensor-core forward attention kernel -*- C++ -*-===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_FORWARDKERNEL_H
#define FLASH_CONVERSION_FLASHTOGPU_FORWARDKERNEL_H

#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::flash {

/// Builds the FlashAttention-2 forward kernel of `spec` with schedule `plan`
/// as a gpu.func named spec.getName() at the builder's insertion point (in a
/// gpu.module). Its arguments follow docs/kernel-abi.md: q, k, v, o as
/// rank-4 strided memrefs, lse as a rank-3 one, then scale·log2(e), and the
/// window's left and right extents.
gpu::GPUFuncOp buildForwardKernel(OpBuilder &builder, Location loc,
                                  const KernelSpec &spec,
                                  const KernelPlan &plan);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_FORWARDKERNEL_H
