//===- BackwardMmaSync.cpp - The backward's products on mma.sync ----------===//
//
// The backward's products (BackwardProducts.h) with mma.sync m16n8k16 fed
// by ldmatrix (sm_80 and newer): each warp owns consecutive 16-key slices;
// the tiles are [rows][Dp] with the ldmatrix swizzle. Sᵀ and dPᵀ take A
// from K or V and B from Q or dO; the accumulators of Pᵀ and dSᵀ are the A
// operands of dV and dK as they are; dQ spreads the query tile's 16-row
// slices over the warps, reading dSᵀ transposed.
//
//===----------------------------------------------------------------------===//

#include "BackwardProducts.h"
#include "WarpMma.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

class BackwardMmaSync final : public BackwardProducts {
public:
  BackwardMmaSync(const KernelBuilder &builder, const KernelSpec &spec,
                  const BackwardPlan &plan, Value lane, Value warp)
      : BackwardProducts(builder, spec, plan, lane, warp),
        mma(*this, elt, lane), keySlices(plan.getKeySlicesPerWarp()) {}

  Value getWarpFirstKey() override { return mul(warp, 16 * keySlices); }
  int64_t getAccTiles() const override { return 2 * headSteps; }
  SmallVector<int64_t> getTileShape(int64_t rows) const override {
    return {rows, plan.paddedHeadDim};
  }
  SmallVector<Value> getChunkIndices(Value stage, Value row,
                                     Value chunk) override {
    SmallVector<Value> indices;
    if (stage)
      indices.push_back(stage);
    indices.append({row, mma.swizzledColumn(row, chunk)});
    return indices;
  }

  std::pair<Tiles, Tiles> computeScores(Value stage) override {
    Tiles s = zeros(plan.ctaQ / 8), dP = zeros(plan.ctaQ / 8);
    multiplyByRows(tiles.sK, tiles.sQ, stage, s);
    multiplyByRows(tiles.sV, tiles.sdO, stage, dP);
    return {s, dP};
  }
  void accumulateKeyGrads(Value stage, const Tiles &p, const Tiles &dS,
                          Tiles &dK, Tiles &dV) override {
    multiplyByColumns(p, tiles.sdO, stage, dV);
    multiplyByColumns(dS, tiles.sQ, stage, dK);
  }
  QueryGradPart computeQueryGrad() override;

private:
  Tiles zeros(int64_t tilesPerSlice) {
    return Tiles(keySlices,
                 SmallVector<Fragment>(tilesPerSlice, Fragment(4, f32c(0.0))));
  }
  /// C[slice][n] += A Bᵀ for the warp's key slices: A rows from `aTile`
  /// (its keys), B rows from stage `stage` of `bTile` (the query tile's
  /// rows).
  void multiplyByRows(Value aTile, Value bTile, Value stage, Tiles &acc);
  /// acc[slice][n] += A B with A the warp's accumulators `a` (keys by
  /// query rows) and B stage `stage` of the [query rows][Dp] tile `bTile`.
  void multiplyByColumns(const Tiles &a, Value bTile, Value stage,
                         Tiles &acc);

  WarpMma mma;
  int64_t keySlices;
};

} // namespace

void BackwardMmaSync::multiplyByRows(Value aTile, Value bTile, Value stage,
                                     Tiles &acc) {
  using Order = WarpMma::BlockOrder;
  Value warpKey0 = getWarpFirstKey();
  for (int64_t ks = 0; ks < headSteps; ++ks) {
    SmallVector<Fragment> a;
    for (int64_t s = 0; s < keySlices; ++s)
      a.push_back(mma.loadBlock(aTile, {}, add(warpKey0, idx(16 * s)),
                                idx(2 * ks), Order::RowsFirst, false));
    for (int64_t np = 0; np < plan.ctaQ / 16; ++np) {
      Fragment bRows = mma.loadBlock(bTile, stage, idx(16 * np), idx(2 * ks),
                                     Order::ChunksFirst, false);
      for (int64_t s = 0; s < keySlices; ++s)
        for (int64_t h = 0; h < 2; ++h)
          acc[s][2 * np + h] = mma.mma(a[s], {bRows[2 * h], bRows[2 * h + 1]},
                                       acc[s][2 * np + h]);
    }
  }
}

void BackwardMmaSync::multiplyByColumns(const Tiles &a, Value bTile,
                                        Value stage, Tiles &acc) {
  for (int64_t kk = 0; kk < plan.ctaQ / 16; ++kk) {
    SmallVector<Fragment> aFrags;
    for (int64_t s = 0; s < keySlices; ++s)
      aFrags.push_back(mma.accumulatorsAsA(a[s][2 * kk], a[s][2 * kk + 1]));
    for (int64_t dp = 0; dp < headSteps; ++dp) {
      Fragment bCols =
          mma.loadBlock(bTile, stage, idx(16 * kk), idx(2 * dp),
                        WarpMma::BlockOrder::RowsFirst, /*transpose=*/true);
      for (int64_t s = 0; s < keySlices; ++s)
        for (int64_t h = 0; h < 2; ++h)
          acc[s][2 * dp + h] = mma.mma(aFrags[s],
                                       {bCols[2 * h], bCols[2 * h + 1]},
                                       acc[s][2 * dp + h]);
    }
  }
}

/// The ctaQ / 16 query slices are spread over the warps: several per warp,
/// or each split by head-dim steps over warps / (ctaQ / 16) warps.
QueryGradPart BackwardMmaSync::computeQueryGrad() {
  using Order = WarpMma::BlockOrder;
  int64_t querySlices = plan.ctaQ / 16;
  int64_t slicesPerWarp = std::max<int64_t>(1, querySlices / plan.warps);
  int64_t slots = querySlices / slicesPerWarp; // warps with distinct rows
  int64_t groups = plan.warps / slots;
  int64_t stepsPerGroup = llvm::divideCeil(headSteps, groups);
  Value firstSlice = mul(remu(warp, slots), slicesPerWarp);
  Value lastStep = idx(headSteps - 1);
  // With one group the steps are constants (and so the columns).
  SmallVector<Value> steps;
  for (int64_t t = 0; t < stepsPerGroup; ++t)
    steps.push_back(groups == 1
                        ? idx(t)
                        : add(mul(divu(warp, slots), stepsPerGroup), idx(t)));

  QueryGradPart part;
  part.acc = Tiles(slicesPerWarp, SmallVector<Fragment>(
                                      2 * stepsPerGroup, Fragment(4, f32c(0))));
  for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk) {
    SmallVector<Fragment> bCols;
    for (Value step : steps)
      bCols.push_back(mma.loadBlock(tiles.sK, {}, idx(16 * kk),
                                    mul(minsi(step, lastStep), 2),
                                    Order::RowsFirst, /*transpose=*/true));
    for (int64_t u = 0; u < slicesPerWarp; ++u) {
      Value chunk = mul(add(firstSlice, idx(u)), 2);
      Fragment a = mma.loadBlock(tiles.sdS, {}, idx(16 * kk), chunk,
                                 Order::ChunksFirst, /*transpose=*/true);
      for (int64_t t = 0; t < stepsPerGroup; ++t)
        for (int64_t h = 0; h < 2; ++h)
          part.acc[u][2 * t + h] =
              mma.mma(a, {bCols[t][2 * h], bCols[t][2 * h + 1]},
                      part.acc[u][2 * t + h]);
    }
  }
  for (int64_t u = 0; u < slicesPerWarp; ++u)
    part.rows.push_back(mul(add(firstSlice, idx(u)), 16));
  for (int64_t t = 0; t < stepsPerGroup; ++t)
    for (int64_t h = 0; h < 2; ++h)
      part.columns.push_back(16 * t + 8 * h);
  if (groups > 1) {
    part.choice = divu(warp, slots);
    part.choices = groups;
    part.columnStride = 16 * stepsPerGroup;
  }
  return part;
}

std::unique_ptr<BackwardProducts> mlir::flash::detail::createBackwardMmaSync(
    const KernelBuilder &builder, const KernelSpec &spec,
    const BackwardPlan &plan, Value lane, Value warp) {
  return std::make_unique<BackwardMmaSync>(builder, spec, plan, lane, warp);
}
