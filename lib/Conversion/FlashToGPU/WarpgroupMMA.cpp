//===- WarpgroupMMA.cpp - The warpgroup-MMA flavour of a kernel's products ===//
//
// S = Q Kᵀ and O += P V with Hopper's warpgroup MMAs (wgmma, sm_90a): each
// group of four warps computes 64-row slices; Q, K and V are read by the
// tensor cores from shared memory through descriptors, where each tile is
// stored as 64-column chunks of 128-byte rows with the hardware's 128-byte
// swizzle (the XOR of the mma.sync tiles, on 1024-byte aligned chunks); P
// stays in registers. The copies reach the tensor cores through the async
// proxy, hence a proxy fence before each tile's barrier. Q Kᵀ is issued and
// waited for separately, so that the plan can overlap it with the next
// tile's copies (KernelPlan::scoresBeforeCopies).
//
//===----------------------------------------------------------------------===//

#include "MmaFlavor.h"
#include "Wgmma.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

class WarpgroupMmaFlavor final : public MmaFlavor {
public:
  using MmaFlavor::MmaFlavor;

  /// A warpgroup MMA's N spans whole 64-column chunks of V.
  int64_t getAccTilesPerSlice() const override {
    return plan.paddedHeadDim / 8;
  }
  /// A warpgroup's slices are 64 rows apart, and its warps 16.
  Value getWarpFirstRow(Value warp) override {
    return add(mul(divu(warp, 4), 64 * plan.slicesPerWarp),
               mul(remu(warp, 4), 16));
  }
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
  void setOperands(const MmaOperands &ops) override;
  void fenceCopies() override { wgmma.fenceSharedStores(); }
  SmallVector<Value> issueScores(Value stage) override;
  Scores collectScores(ArrayRef<Value> pending) override;
  void accumulateValues(Value stage, const Scores &p,
                        WarpState &state) override;

private:
  Wgmma wgmma{*this, elt};

  /// The shared-memory descriptors of the warpgroup's Q slices and of
  /// stage 0 of K and V.
  Value qDesc, kDesc, vDesc;
};

} // namespace

/// K-major Q and K: 8-row groups 1024 bytes apart (the leading offset is
/// unused). MN-major V: 8-key groups 1024 bytes apart, 64-column chunks
/// ctaKV rows of 128 bytes apart.
void WarpgroupMmaFlavor::setOperands(const MmaOperands &ops) {
  operands = ops;
  Value warpgroupRows =
      mul(divu(ops.warp, 4), 64 * plan.slicesPerWarp * 128);
  qDesc = wgmma.descriptor(
      add(alignedAddress(ops.sQ),
          arith::IndexCastOp::create(b, loc, b.getI64Type(), warpgroupRows)),
      16, 1024);
  kDesc = wgmma.descriptor(alignedAddress(ops.sK), 16, 1024);
  vDesc = wgmma.descriptor(alignedAddress(ops.sV), plan.ctaKV * 128, 1024);
}

/// Issues S = Q Kᵀ with warpgroup MMAs: per 64-row slice, one m64 x
/// ctaKV x k16 wgmma per head-dim step, Q and K both K-major in shared
/// memory; the first step ignores the (undefined) accumulator. Returns the
/// accumulators in flight, one per slice, for collectScores.
SmallVector<Value> WarpgroupMmaFlavor::issueScores(Value stage) {
  using Major = Wgmma::Major;
  wgmma.fence();
  SmallVector<Value> acc;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    Value d;
    for (int64_t ks = 0; ks < headSteps; ++ks) {
      // Step ks is 16 columns into 64-column chunk ks / 4.
      int64_t column = (ks % 4) * 32;
      Value a = wgmma.offset(qDesc, (ks / 4) * plan.ctaQ * 128 +
                                        mt * 64 * 128 + column);
      Value bDesc = wgmma.offset(kDesc, (ks / 4) * plan.ctaKV * 128 + column,
                                 stage, getStageBytes());
      d = wgmma.mmaShared(d, a, Major::K, bDesc, Major::K, plan.ctaKV);
    }
    acc.push_back(d);
  }
  wgmma.commit();
  return acc;
}

/// Waits for the products of issueScores and returns S.
Scores WarpgroupMmaFlavor::collectScores(ArrayRef<Value> acc) {
  wgmma.wait(0);
  Scores s;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    s.push_back(wgmma.getFragments(acc[mt], plan.ctaKV));
  return s;
}

/// O += P V with warpgroup MMAs: per slice, one m64 x Dp x k16 wgmma per 16
/// keys, P from registers and V (MN-major) from shared memory.
void WarpgroupMmaFlavor::accumulateValues(Value stage, const Scores &p,
                                          WarpState &state) {
  int64_t n = plan.paddedHeadDim;
  int64_t accTilesPerSlice = getAccTilesPerSlice();
  // Every P fragment is packed before the fence: registers written between
  // wgmmas that read them would make ptxas serialize the chain.
  SmallVector<SmallVector<Fragment>> a(plan.slicesPerWarp);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk)
      a[mt].push_back(probabilityFragment(p, mt, kk));
  wgmma.fence();
  SmallVector<Value> structs;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    SmallVector<Value> acc;
    for (int64_t j = 0; j < accTilesPerSlice; ++j)
      acc.append(state.acc[mt * accTilesPerSlice + j]);
    Value d;
    for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk) {
      // The accumulators: the carried fragments, then the previous wgmma's.
      if (d)
        acc = wgmma.getValues(d, n);
      d = wgmma.mmaRegisterA(
          acc, a[mt][kk],
          wgmma.offset(vDesc, kk * 2048, stage, getStageBytes()),
          Wgmma::Major::MN, n);
    }
    structs.push_back(d);
  }
  wgmma.commit();
  wgmma.wait(0);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    SmallVector<Fragment> fragments = wgmma.getFragments(structs[mt], n);
    for (int64_t j = 0; j < accTilesPerSlice; ++j)
      state.acc[mt * accTilesPerSlice + j] = fragments[j];
  }
}

std::unique_ptr<MmaFlavor>
mlir::flash::detail::createWarpgroupMmaFlavor(const KernelBuilder &builder,
                                              const KernelSpec &spec,
                                              const KernelPlan &plan) {
  return std::make_unique<WarpgroupMmaFlavor>(builder, spec, plan);
}
