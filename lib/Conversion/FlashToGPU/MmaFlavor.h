//===- MmaFlavor.h - The tensor-core instructions of a kernel ---*- C++ -*-===//
//
// A kernel's two products, S = Q Kᵀ and O += P V, run on one family of
// tensor-core instructions: mma.sync m16n8k16 fed by ldmatrix (sm_80 and
// newer, MmaSync.cpp) or Hopper's warpgroup MMAs reading shared memory
// through descriptors (sm_90a, WarpgroupMMA.cpp). The family decides how
// the shared-memory tiles are laid out, which rows a warp owns, what must
// happen before the products read a tile, and how they are issued and
// waited for. In both, each warp's part of an accumulator has the mma.sync
// m16n8 layout, so that the softmax, the masks and the epilogue are written
// once, against WarpState and Scores.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_MMAFLAVOR_H
#define LIB_CONVERSION_FLASHTOGPU_MMAFLAVOR_H

#include "KernelBuilder.h"

#include "flash/Conversion/FlashToGPU/KernelPlan.h"

#include <memory>

namespace mlir::flash::detail {

/// What a warp carries across key tiles: per query row it owns (two per
/// 16-row slice: g and g + 8), the running maximum (base-2 units) and the
/// thread's partial row sum; per slice, the O accumulator fragments.
struct WarpState {
  SmallVector<Value> rowMax, rowSum;
  SmallVector<Fragment> acc;

  /// The O accumulators, fragment by fragment.
  SmallVector<Value> flattenAcc() const {
    SmallVector<Value> values;
    for (const Fragment &f : acc)
      values.append(f);
    return values;
  }
  SmallVector<Value> flatten() const {
    SmallVector<Value> values(rowMax);
    values.append(rowSum);
    values.append(flattenAcc());
    return values;
  }
  static WarpState unflatten(ValueRange values, int64_t rows) {
    WarpState state;
    state.rowMax.assign(values.begin(), values.begin() + rows);
    state.rowSum.assign(values.begin() + rows, values.begin() + 2 * rows);
    for (auto it = values.begin() + 2 * rows; it != values.end(); it += 4)
      state.acc.push_back(Fragment(it, it + 4));
    return state;
  }
};

/// The scores of a key tile, per 16-row slice of the warp, per 8-key n-tile.
using Scores = SmallVector<SmallVector<Fragment>>;

/// What the products read: the shared-memory tiles of Q (rows of the
/// CTA's query tile) and of the K and V stages, and the thread's place.
struct MmaOperands {
  Value sQ, sK, sV;
  Value lane, warp;
  /// The warp's first row within the query tile (getWarpFirstRow).
  Value warpRow0;
};

class MmaFlavor : protected KernelBuilder {
public:
  MmaFlavor(const KernelBuilder &builder, const KernelSpec &spec,
            const KernelPlan &plan);
  virtual ~MmaFlavor();

  /// 8-column tiles of O per 16-row slice of a warp.
  virtual int64_t getAccTilesPerSlice() const = 0;
  /// The first query row of warp `warp`'s slices within the CTA's tile.
  virtual Value getWarpFirstRow(Value warp) = 0;
  /// The shape of a shared-memory tile of `rows` rows, after its stage
  /// dimension if it has one.
  virtual SmallVector<int64_t> getTileShape(int64_t rows) const = 0;
  /// The indices of 16-byte chunk `chunk` of tile row `row` in a tile view
  /// (the stage first, when `stage` is not null).
  virtual SmallVector<Value> getChunkIndices(Value stage, Value row,
                                             Value chunk) = 0;
  /// The byte offset of the first tile in dynamic shared memory `smem`.
  virtual Value getTilesOffset(Value smem) { return idx(0); }
  /// Takes the operands once the tiles are placed.
  virtual void setOperands(const MmaOperands &ops) { operands = ops; }
  /// Loads the part of Q that the plan keeps in registers
  /// (KernelPlan::queryInRegisters), once Q is in shared memory.
  virtual void loadQuery() {}
  /// Orders the copies into a stage before the products read it; runs
  /// before the barrier that publishes the stage.
  virtual void fenceCopies() {}
  /// Starts S = Q Kᵀ of the tile in `stage` and returns the accumulators
  /// in flight; collectScores waits for them. (mma.sync products are done
  /// when issued.)
  virtual SmallVector<Value> issueScores(Value stage) = 0;
  virtual Scores collectScores(ArrayRef<Value> pending) = 0;
  /// O += P V, with P the exponentiated scores `p` of the tile in `stage`.
  virtual void accumulateValues(Value stage, const Scores &p,
                                WarpState &state) = 0;

protected:
  /// Two f32 values rounded to the element type and packed into an i32,
  /// the first in the low half.
  Value pack(Value lo, Value hi);
  /// The A operand of P V for slice `mt` and key step `kk`, packed in
  /// registers from P's accumulators, whose layout it already has.
  Fragment probabilityFragment(const Scores &p, int64_t mt, int64_t kk);
  /// Bytes of one stage of K (or of V) in shared memory.
  int64_t getStageBytes() const {
    return plan.ctaKV * plan.paddedHeadDim * 2;
  }

  const KernelSpec &spec;
  const KernelPlan &plan;
  Type elt;
  /// ceil(D / 16): the k-steps of Q Kᵀ and the 16-column pairs of O that
  /// carry data (the padding columns past them are zeros and skipped).
  int64_t headSteps;
  MmaOperands operands;
};

/// The flavour the plan asks for (KernelPlan::warpgroupMMA).
std::unique_ptr<MmaFlavor> createMmaFlavor(const KernelBuilder &builder,
                                           const KernelSpec &spec,
                                           const KernelPlan &plan);
std::unique_ptr<MmaFlavor> createMmaSyncFlavor(const KernelBuilder &builder,
                                               const KernelSpec &spec,
                                               const KernelPlan &plan);
std::unique_ptr<MmaFlavor>
createWarpgroupMmaFlavor(const KernelBuilder &builder, const KernelSpec &spec,
                         const KernelPlan &plan);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_MMAFLAVOR_H
