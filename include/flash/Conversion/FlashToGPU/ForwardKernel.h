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
/// window's left and right extents. A block-sparse kernel then takes
/// kv_num_blocks, kv_indices, full_kv_num_blocks and full_kv_indices (i32
/// strided memrefs of ranks 3, 4, 3, 4) and the layout's block_q and
/// block_kv (i64). It stages its row of the layout in dynamic shared memory
/// beyond plan.getSharedMemoryBytes(), as getLayoutStaging (KernelABI.h)
/// lays it out.
gpu::GPUFuncOp buildForwardKernel(OpBuilder &builder, Location loc,
                                  const KernelSpec &spec,
                                  const KernelPlan &plan);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_FORWARDKERNEL_H
