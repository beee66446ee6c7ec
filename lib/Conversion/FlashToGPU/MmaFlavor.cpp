//===- MmaFlavor.cpp - What the MMA flavours share ------------------------===//

#include "MmaFlavor.h"
#include "WarpMma.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

MmaFlavor::MmaFlavor(const KernelBuilder &builder, const KernelSpec &spec,
                     const KernelPlan &plan)
    : KernelBuilder(builder), spec(spec), plan(plan),
      elt(spec.getElementType(builder.b.getContext())),
      headSteps((spec.headDim + 15) / 16) {}

MmaFlavor::~MmaFlavor() = default;

Value MmaFlavor::pack(Value lo, Value hi) {
  return WarpMma(*this, elt).pack(lo, hi);
}

Fragment MmaFlavor::probabilityFragment(const Scores &p, int64_t mt,
                                        int64_t kk) {
  return WarpMma(*this, elt).accumulatorsAsA(p[mt][2 * kk], p[mt][2 * kk + 1]);
}

std::unique_ptr<MmaFlavor>
mlir::flash::detail::createMmaFlavor(const KernelBuilder &builder,
                                     const KernelSpec &spec,
                                     const KernelPlan &plan) {
  if (plan.warpgroupMMA)
    return createWarpgroupMmaFlavor(builder, spec, plan);
  return createMmaSyncFlavor(builder, spec, plan);
}
