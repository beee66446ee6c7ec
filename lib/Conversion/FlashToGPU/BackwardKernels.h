//===- BackwardKernels.h - The parts of the backward kernels ----*- C++ -*-===//
//
// What the files of the backward share (BackwardKernel.h describes the
// three kernels): their common signature, and a builder for each kernel.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_BACKWARDKERNELS_H
#define LIB_CONVERSION_FLASHTOGPU_BACKWARDKERNELS_H

#include "KernelBuilder.h"

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"

namespace mlir::flash::detail {

/// A kernel gpu.func taking the backward parameters (KernelABI.h) with
/// `threads` threads per CTA; the builder is left at the start of its body.
gpu::GPUFuncOp createBackwardFunc(OpBuilder &b, Location loc,
                                  const KernelSpec &spec, StringRef name,
                                  int64_t threads);

/// The address (i64) of the dQ semaphore of rows [16 rowBlock, 16 rowBlock
/// + 16) of (batch, head) in the u32 workspace at `base` (KernelABI.h's
/// dq_semaphores) of [B, `heads`, ceil(`queryLen` / 16)] entries.
Value getQueryGradSemaphore(KernelBuilder &kb, Value base, Value batch,
                            Value head, Value heads, Value queryLen,
                            Value rowBlock);

/// delta = rowsum(dO ∘ O) - dlse and dq_accum = 0, row by row; the dQ
/// semaphores zeroed, when there are.
void buildBackwardPreprocessKernel(OpBuilder &b, Location loc,
                                   const KernelSpec &spec, StringRef name);
/// dq = dq_accum · scale, row by row.
void buildBackwardQueryGradKernel(OpBuilder &b, Location loc,
                                  const KernelSpec &spec, StringRef name);
/// dK, dV and the dQ atomics.
void buildBackwardMainKernel(OpBuilder &b, Location loc,
                             const KernelSpec &spec, const BackwardPlan &plan,
                             StringRef name);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_BACKWARDKERNELS_H
