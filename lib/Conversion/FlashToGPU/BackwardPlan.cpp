//===- BackwardPlan.cpp - The plan table of the backward kernels ----------===//

#include "BackwardKernels.h"

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

/// Eight warps of 16 keys each (128 keys per CTA) over 64-row query tiles:
/// the dK and dV accumulators of a 16-key slice take D registers per
/// thread, Sᵀ and dPᵀ another 64, which leaves room up to D = 128. On the
/// H200 (docs/performance.md) 1.25-1.4x faster than four warps of 64 keys:
/// each query tile's Q and dO are read and its dQ added once per 128 keys.
/// On sm_90a the eight warps are two warpgroups of 64 keys, which issue
/// warpgroup MMAs (BackwardWarpgroupMma.cpp).
llvm::Expected<BackwardPlan>
mlir::flash::planBackwardKernel(const KernelSpec &spec) {
  assert(spec.kind == KernelKind::Backward && "a backward spec");
  // verifyKernelSpec says what the backward covers (dense, D <= 128).
  if (llvm::Error err = verifyKernelSpec(spec))
    return std::move(err);
  BackwardPlan plan;
  plan.warps = 8;
  plan.ctaKV = 128;
  plan.ctaQ = 64;
  plan.paddedHeadDim = llvm::alignTo(spec.headDim, 64);
  plan.warpgroupMMA = getChipInfo(spec.chip).warpgroupMMA;
  return plan;
}

void mlir::flash::buildBackwardKernels(OpBuilder &builder, Location loc,
                                       const KernelSpec &spec,
                                       const BackwardPlan &plan) {
  std::string name = spec.getName();
  buildBackwardPreprocessKernel(builder, loc, spec, name + "_preprocess");
  buildBackwardMainKernel(builder, loc, spec, plan, name);
  buildBackwardQueryGradKernel(builder, loc, spec, name + "_dq");
}
