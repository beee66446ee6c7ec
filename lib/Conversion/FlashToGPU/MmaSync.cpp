//===- MmaSync.cpp - The mma.sync flavour of a kernel's products ----------===//
//
// S = Q Kᵀ and O += P V with mma.sync m16n8k16 (sm_80 and newer, through
// WarpMma.h): each warp owns `slicesPerWarp` consecutive 16-row slices;
// operands come from shared memory through ldmatrix, whose tiles are
// [rows, Dp] with 16-byte chunks XOR-swizzled by row % 8 within each 128
// bytes, so that ldmatrix and cp.async hit distinct banks. P's accumulators
// are the A operand of P V as they are.
//
//===----------------------------------------------------------------------===//

#include "MmaFlavor.h"
#include "WarpMma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

class MmaSyncFlavor final : public MmaFlavor {
public:
  MmaSyncFlavor(const KernelBuilder &builder, const KernelSpec &spec,
                const KernelPlan &plan)
      : MmaFlavor(builder, spec, plan), warpMma(builder, elt) {}

  int64_t getAccTilesPerSlice() const override { return 2 * headSteps; }
  Value getWarpFirstRow(Value warp) override {
    return mul(warp, 16 * plan.slicesPerWarp);
  }
  SmallVector<int64_t> getTileShape(int64_t rows) const override {
    return {rows, plan.paddedHeadDim};
  }
  SmallVector<Value> getChunkIndices(Value stage, Value row,
                                     Value chunk) override {
    SmallVector<Value> indices;
    if (stage)
      indices.push_back(stage);
    indices.append({row, swizzledColumn(row, chunk)});
    return indices;
  }
  void loadQuery() override {
    for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
      for (int64_t ks = 0; ks < headSteps; ++ks)
        qFrags.push_back(loadQueryFragment(mt, ks));
  }
  SmallVector<Value> issueScores(Value stage) override;
  Scores collectScores(ArrayRef<Value> pending) override;
  void accumulateValues(Value stage, const Scores &p,
                        WarpState &state) override;

private:
  Value swizzledColumn(Value row, Value chunk) {
    return warpMma.swizzledColumn(row, chunk);
  }
  Fragment ldmatrix(Value smem, ValueRange indices, bool transpose) {
    return warpMma.ldmatrix(smem, indices, transpose);
  }
  Fragment mma(ArrayRef<Value> a, ArrayRef<Value> bFrag, ArrayRef<Value> c) {
    return warpMma.mma(a, bFrag, c);
  }
  /// The A fragment of Q for slice `mt` and k-step `ks`, read from shared
  /// memory.
  Fragment loadQueryFragment(int64_t mt, int64_t ks) {
    Value row = add(add(operands.warpRow0, idx(16 * mt)),
                    remu(operands.lane, 16));
    Value chunk = add(idx(2 * ks), divu(operands.lane, 16));
    return ldmatrix(operands.sQ, {row, swizzledColumn(row, chunk)},
                    /*transpose=*/false);
  }
  /// The A fragment of Q for slice `mt` and k-step `ks`: kept in registers
  /// or re-read, as the plan says.
  Fragment queryFragment(int64_t mt, int64_t ks) {
    return plan.queryInRegisters ? qFrags[mt * headSteps + ks]
                                 : loadQueryFragment(mt, ks);
  }

  WarpMma warpMma;
  SmallVector<Fragment> qFrags;
};

} // namespace

/// S = Q Kᵀ: per 16-row slice, n-tiles of 8 keys, loaded in pairs (ldmatrix
/// x4 covers 16 keys by 16 head-dim columns); each K fragment serves every
/// slice of the warp. The products are done when this returns: the
/// accumulators, slice by slice, n-tile by n-tile.
SmallVector<Value> MmaSyncFlavor::issueScores(Value stage) {
  int64_t keyTiles8 = plan.ctaKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Value lane = operands.lane;
  Scores s(slices, SmallVector<Fragment>(keyTiles8, Fragment(4, f32c(0.0))));
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  // k-steps outermost: each Q fragment is read (or re-read from shared
  // memory) once per tile.
  for (int64_t ks = 0; ks < headSteps; ++ks) {
    SmallVector<Fragment> qa;
    for (int64_t mt = 0; mt < slices; ++mt)
      qa.push_back(queryFragment(mt, ks));
    Value chunk = add(idx(2 * ks), laneQuarter);
    for (int64_t np = 0; np < keyTiles8 / 2; ++np) {
      Value key = add(idx(16 * np), add(mul(laneHalf, 8), laneRow8));
      Fragment kr =
          ldmatrix(operands.sK, {stage, key, swizzledColumn(key, chunk)},
                   /*transpose=*/false);
      for (int64_t mt = 0; mt < slices; ++mt) {
        s[mt][2 * np] = mma(qa[mt], {kr[0], kr[1]}, s[mt][2 * np]);
        s[mt][2 * np + 1] = mma(qa[mt], {kr[2], kr[3]}, s[mt][2 * np + 1]);
      }
    }
  }
  SmallVector<Value> accumulators;
  for (const SmallVector<Fragment> &slice : s)
    for (const Fragment &f : slice)
      accumulators.append(f);
  return accumulators;
}

Scores MmaSyncFlavor::collectScores(ArrayRef<Value> pending) {
  int64_t keyTiles8 = plan.ctaKV / 8;
  Scores s(plan.slicesPerWarp);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    for (int64_t n = 0; n < keyTiles8; ++n)
      s[mt].push_back(Fragment(pending.slice(4 * (mt * keyTiles8 + n), 4)));
  return s;
}

/// O += P V: P's accumulators become A fragments without data movement; V
/// is read transposed, each fragment serving every slice.
void MmaSyncFlavor::accumulateValues(Value stage, const Scores &p,
                                     WarpState &state) {
  int64_t slices = plan.slicesPerWarp;
  int64_t accTilesPerSlice = getAccTilesPerSlice();
  Value lane = operands.lane;
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk) {
    SmallVector<Fragment> a;
    for (int64_t mt = 0; mt < slices; ++mt)
      a.push_back(probabilityFragment(p, mt, kk));
    Value key = add(idx(16 * kk), add(mul(laneQuarter, 8), laneRow8));
    for (int64_t dp = 0; dp < headSteps; ++dp) {
      Value chunk = add(idx(2 * dp), laneHalf);
      Fragment vr =
          ldmatrix(operands.sV, {stage, key, swizzledColumn(key, chunk)},
                   /*transpose=*/true);
      for (int64_t mt = 0; mt < slices; ++mt)
        for (int64_t half = 0; half < 2; ++half) {
          Fragment &acc = state.acc[mt * accTilesPerSlice + 2 * dp + half];
          acc = mma(a[mt], {vr[2 * half], vr[2 * half + 1]}, acc);
        }
    }
  }
}

std::unique_ptr<MmaFlavor>
mlir::flash::detail::createMmaSyncFlavor(const KernelBuilder &builder,
                                         const KernelSpec &spec,
                                         const KernelPlan &plan) {
  return std::make_unique<MmaSyncFlavor>(builder, spec, plan);
}
