//===- BackwardWarpgroupMma.cpp - The backward's products on wgmma --------===//
//
// The backward's products (BackwardProducts.h) with Hopper's warpgroup MMAs
// (sm_90a, Wgmma.h): each warpgroup owns 64 consecutive keys, its warps 16
// each; Q, dO, K and V are 64-column chunks of 128-byte swizzled rows, read
// by the tensor cores through descriptors:
//
//   Sᵀ = K Qᵀ, dPᵀ = V dOᵀ   m64 (the group's keys) x ctaQ, both operands
//                            K-major in shared memory;
//   dV += Pᵀ dO, dK += dSᵀ Q m64 x Dp, A from registers (Pᵀ and dSᵀ have the
//                            accumulator layout), dO and Q MN-major;
//   dQ = dS K                m64 (the query tile) x Dp, A the stored dSᵀ
//                            read MN-major, K MN-major; the two warpgroups
//                            split the columns when Dp spans an even number
//                            of chunks, otherwise the keys (each adds a
//                            partial sum).
//
//===----------------------------------------------------------------------===//

#include "BackwardProducts.h"
#include "WarpMma.h"
#include "Wgmma.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

class BackwardWarpgroupMma final : public BackwardProducts {
public:
  BackwardWarpgroupMma(const KernelBuilder &builder, const KernelSpec &spec,
                       const BackwardPlan &plan, Value lane, Value warp)
      : BackwardProducts(builder, spec, plan, lane, warp), wgmma(*this, elt),
        group(divu(warp, 4)) {
    assert(plan.ctaKV == 128 && plan.warps == 8 && plan.ctaQ == 64 &&
           "two warpgroups of 64 keys over 64-row query tiles");
  }

  Value getWarpFirstKey() override {
    return add(mul(group, 64), mul(remu(warp, 4), 16));
  }
  int64_t getAccTiles() const override { return plan.paddedHeadDim / 8; }
  SmallVector<int64_t> getTileShape(int64_t rows) const override {
    return {plan.paddedHeadDim / 64, rows, 64};
  }
  SmallVector<Value> getChunkIndices(Value stage, Value row,
                                     Value chunk) override {
    return wgmma.getChunkIndices(stage, row, chunk);
  }
  Value getTilesOffset(Value smem) override {
    return wgmma.getTilesOffset(smem);
  }
  void setTiles(const BackwardTiles &placed) override;
  void fenceStores() override { wgmma.fenceSharedStores(); }

  std::pair<Tiles, Tiles> computeScores(Value stage) override;
  void accumulateKeyGrads(Value stage, const Tiles &p, const Tiles &dS,
                          Tiles &dK, Tiles &dV) override;
  QueryGradPart computeQueryGrad() override;

private:
  /// Bytes of one stage of Q (or of dO).
  int64_t getStageBytes() const { return plan.ctaQ * plan.paddedHeadDim * 2; }
  /// acc += A B over the query tile's 16-row steps, A the accumulators `a`
  /// (the group's keys by query rows), B the MN-major `bDesc` in `stage`.
  void accumulateByQueries(const Tiles &a, Value bDesc, Value stage,
                           Tiles &acc);

  Wgmma wgmma;
  Value group;
  /// K and V rows of the group as K-major A; Q and dO as K-major B and as
  /// MN-major B; K as MN-major B; dSᵀ as MN-major A.
  Value kRows, vRows, qRows, dORows, qColumns, dOColumns, kColumns, dSCols;
};

} // namespace

void BackwardWarpgroupMma::setTiles(const BackwardTiles &placed) {
  tiles = placed;
  int64_t kv = plan.ctaKV, q = plan.ctaQ;
  auto address = [&](Value tile) { return alignedAddress(tile); };
  Value groupRows = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                               mul(group, 64 * 128));
  kRows = wgmma.descriptor(add(address(tiles.sK), groupRows), 16, 1024);
  vRows = wgmma.descriptor(add(address(tiles.sV), groupRows), 16, 1024);
  qRows = wgmma.descriptor(address(tiles.sQ), 16, 1024);
  dORows = wgmma.descriptor(address(tiles.sdO), 16, 1024);
  qColumns = wgmma.descriptor(address(tiles.sQ), q * 128, 1024);
  dOColumns = wgmma.descriptor(address(tiles.sdO), q * 128, 1024);
  kColumns = wgmma.descriptor(address(tiles.sK), kv * 128, 1024);
  dSCols = wgmma.descriptor(address(tiles.sdS), kv * 128, 1024);
}

std::pair<Tiles, Tiles> BackwardWarpgroupMma::computeScores(Value stage) {
  using Major = Wgmma::Major;
  int64_t n = plan.ctaQ;
  wgmma.fence();
  auto product = [&](Value aRows, Value bRows) {
    Value d;
    for (int64_t ks = 0; ks < headSteps; ++ks) {
      // Step ks is 16 columns into 64-column chunk ks / 4.
      int64_t column = (ks % 4) * 32;
      Value a = wgmma.offset(aRows, (ks / 4) * plan.ctaKV * 128 + column);
      Value bDesc = wgmma.offset(bRows, (ks / 4) * plan.ctaQ * 128 + column,
                                 stage, getStageBytes());
      d = wgmma.mmaShared(d, a, Major::K, bDesc, Major::K, n);
    }
    return d;
  };
  Value s = product(kRows, qRows);
  Value dP = product(vRows, dORows);
  wgmma.commit();
  wgmma.wait(0);
  return {Tiles{wgmma.getFragments(s, n)}, Tiles{wgmma.getFragments(dP, n)}};
}

void BackwardWarpgroupMma::accumulateByQueries(const Tiles &a, Value bDesc,
                                               Value stage, Tiles &acc) {
  int64_t n = plan.paddedHeadDim;
  WarpMma packer(*this, elt);
  // Every A block is packed before the fence: registers written between
  // wgmmas that read them would make ptxas serialize the chain.
  SmallVector<Fragment> blocks;
  for (int64_t kk = 0; kk < plan.ctaQ / 16; ++kk)
    blocks.push_back(packer.accumulatorsAsA(a[0][2 * kk], a[0][2 * kk + 1]));
  wgmma.fence();
  SmallVector<Value> values;
  for (const Fragment &f : acc[0])
    values.append(f);
  Value d;
  for (int64_t kk = 0; kk < plan.ctaQ / 16; ++kk) {
    if (d)
      values = wgmma.getValues(d, n);
    d = wgmma.mmaRegisterA(values, blocks[kk],
                           wgmma.offset(bDesc, kk * 2048, stage,
                                        getStageBytes()),
                           Wgmma::Major::MN, n);
  }
  acc[0] = wgmma.getFragments(d, n);
}

void BackwardWarpgroupMma::accumulateKeyGrads(Value stage, const Tiles &p,
                                              const Tiles &dS, Tiles &dK,
                                              Tiles &dV) {
  accumulateByQueries(p, dOColumns, stage, dV);
  accumulateByQueries(dS, qColumns, stage, dK);
  wgmma.commit();
}

QueryGradPart BackwardWarpgroupMma::computeQueryGrad() {
  using Major = Wgmma::Major;
  int64_t chunks = plan.paddedHeadDim / 64;
  int64_t keySteps = plan.ctaKV / 16;
  bool splitColumns = chunks % 2 == 0;
  int64_t n = splitColumns ? plan.paddedHeadDim / 2 : plan.paddedHeadDim;
  int64_t steps = splitColumns ? keySteps : keySteps / 2;
  wgmma.fence();
  Value d;
  for (int64_t kk = 0; kk < steps; ++kk) {
    Value a, bDesc;
    if (splitColumns) {
      a = wgmma.offset(dSCols, kk * 2048);
      bDesc = wgmma.offset(kColumns, kk * 2048, group,
                           (chunks / 2) * plan.ctaKV * 128);
    } else {
      a = wgmma.offset(dSCols, kk * 2048, group, steps * 2048);
      bDesc = wgmma.offset(kColumns, kk * 2048, group, steps * 2048);
    }
    d = wgmma.mmaShared(d, a, Major::MN, bDesc, Major::MN, n);
  }
  wgmma.commit();
  wgmma.wait(0);

  QueryGradPart part;
  part.acc = Tiles{wgmma.getFragments(d, n)};
  part.rows.push_back(mul(remu(warp, 4), 16));
  for (int64_t j = 0; j < n / 8; ++j)
    part.columns.push_back(8 * j);
  if (splitColumns) {
    part.choice = group;
    part.choices = 2;
    part.columnStride = n;
  } else {
    part.partialSum = group;
    part.partialSums = 2;
  }
  return part;
}

std::unique_ptr<BackwardProducts>
mlir::flash::detail::createBackwardWarpgroupMma(const KernelBuilder &builder,
                                                const KernelSpec &spec,
                                                const BackwardPlan &plan,
                                                Value lane, Value warp) {
  return std::make_unique<BackwardWarpgroupMma>(builder, spec, plan, lane,
                                                warp);
}
