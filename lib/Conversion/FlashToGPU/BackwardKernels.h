//===- BackwardKernels.h - The parts of the backward kernels ----*- C++ -*-===//
//
// What the files of the backward share (BackwardKernel.h describes the
// three kernels): their common signature, and a builder for each kernel.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_BACKWARDKERNELS_H
#define LIB_CONVERSION_FLASHTOGPU_BACKWARDKERNELS_H

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"

namespace mlir::flash::detail {

/// A kernel gpu.func taking the backward parameters (KernelABI.h) with
/// `threads` threads per CTA; the builder is left at the start of its body.
gpu::GPUFuncOp createBackwardFunc(OpBuilder &b, Location loc,
                                  const KernelSpec &spec, StringRef name,
                                  int64_t threads);

/// delta = rowsum(dO ∘ O) - dlse and dq_accum = 0, row by row.
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
