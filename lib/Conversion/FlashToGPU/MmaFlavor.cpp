//===- MmaFlavor.cpp - What the MMA flavours share ------------------------===//

#include "MmaFlavor.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

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
  Value pair = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, f32), ValueRange{lo, hi});
  Value narrow =
      arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
  Value asInt =
      vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), narrow);
  return vector::ExtractOp::create(b, loc, asInt, 0);
}

Fragment MmaFlavor::probabilityFragment(const Scores &p, int64_t mt,
                                        int64_t kk) {
  const SmallVector<Fragment> &pm = p[mt];
  return {pack(pm[2 * kk][0], pm[2 * kk][1]),
          pack(pm[2 * kk][2], pm[2 * kk][3]),
          pack(pm[2 * kk + 1][0], pm[2 * kk + 1][1]),
          pack(pm[2 * kk + 1][2], pm[2 * kk + 1][3])};
}

std::unique_ptr<MmaFlavor>
mlir::flash::detail::createMmaFlavor(const KernelBuilder &builder,
                                     const KernelSpec &spec,
                                     const KernelPlan &plan) {
  if (plan.warpgroupMMA)
    return createWarpgroupMmaFlavor(builder, spec, plan);
  return createMmaSyncFlavor(builder, spec, plan);
}
