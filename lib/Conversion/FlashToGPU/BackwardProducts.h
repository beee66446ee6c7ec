//===- BackwardProducts.h - The backward's tensor-core products -*- C++ -*-===//
//
// The five products of the backward's main kernel, per query tile of ctaQ
// rows against the CTA's ctaKV keys:
//
//   Sᵀ = K Qᵀ and dPᵀ = V dOᵀ     each warp for its keys,
//   dV += Pᵀ dO and dK += dSᵀ Q   into the warp's accumulators,
//   dQ = dS K                     the tile's rows, once every warp has
//                                 stored its dSᵀ,
//
// on one family of tensor-core instructions: mma.sync fed by ldmatrix
// (BackwardMmaSync.cpp) or Hopper's warpgroup MMAs (BackwardWarpgroupMma.cpp).
// The family decides the shared-memory layout of the tiles and which keys a
// warp owns; in both, each warp's accumulators have the mma.sync m16n8
// layout (WarpMma.h), in 16-row slices, so that the masks, the
// probabilities and the stores of the main kernel (BackwardKernel.cpp) are
// written once.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_BACKWARDPRODUCTS_H
#define LIB_CONVERSION_FLASHTOGPU_BACKWARDPRODUCTS_H

#include "KernelBuilder.h"

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"

#include <memory>

namespace mlir::flash::detail {

/// Per 16-row slice of a warp, its 8-column accumulator tiles.
using Tiles = SmallVector<SmallVector<Fragment>>;

/// The shared-memory tiles the products read: K and V, the stages of Q and
/// dO (getTileShape), and dSᵀ as [ctaKV][ctaQ] with the 16-byte pieces of
/// each 128-byte row XORed with row % 8.
struct BackwardTiles {
  Value sK, sV, sQ, sdO, sdS;
};

/// A warp's part of dQ: acc[u][j] holds query rows rows[u] + g and
/// rows[u] + g + 8 of the tile, columns base + columns[j] + 2c and + 1
/// (WarpMma.h's g and c), where base = choice · columnStride and choice, in
/// [0, choices), is the same for the whole warp (0 when null); columns past
/// the head dim are padding. When the warps split the keys, each holds a
/// partial sum: `partialSum`, in [0, partialSums), says which (warp-uniform;
/// null when there is one), and the partial sums add to the same elements.
struct QueryGradPart {
  Tiles acc;
  SmallVector<Value> rows;
  SmallVector<int64_t> columns;
  Value choice;
  int64_t choices = 1, columnStride = 0;
  Value partialSum;
  int64_t partialSums = 1;
};

class BackwardProducts : protected KernelBuilder {
public:
  BackwardProducts(const KernelBuilder &builder, const KernelSpec &spec,
                   const BackwardPlan &plan, Value lane, Value warp);
  virtual ~BackwardProducts();

  /// The warp's first key within the CTA's tile; it owns
  /// plan.getKeySlicesPerWarp() slices of 16 from there.
  virtual Value getWarpFirstKey() = 0;
  /// 8-column tiles of dK and dV per 16-key slice.
  virtual int64_t getAccTiles() const = 0;
  /// The shape of a Q, dO, K or V tile of `rows` rows (after the stage).
  virtual SmallVector<int64_t> getTileShape(int64_t rows) const = 0;
  /// The indices of 16-byte chunk `chunk` of row `row` in such a tile (the
  /// stage first, when `stage` is not null).
  virtual SmallVector<Value> getChunkIndices(Value stage, Value row,
                                             Value chunk) = 0;
  /// The byte offset of the first tile in dynamic shared memory `smem`.
  virtual Value getTilesOffset(Value smem) { return idx(0); }
  virtual void setTiles(const BackwardTiles &placed) { tiles = placed; }
  /// Orders the copies (or the stores of dSᵀ) before the products read
  /// them; runs before the barrier that publishes them.
  virtual void fenceStores() {}

  /// Sᵀ and dPᵀ of the query tile in stage `stage`, per key slice of the
  /// warp, ctaQ / 8 tiles each.
  virtual std::pair<Tiles, Tiles> computeScores(Value stage) = 0;
  /// dV += Pᵀ dO and dK += dSᵀ Q, dO and Q from stage `stage`.
  virtual void accumulateKeyGrads(Value stage, const Tiles &p,
                                  const Tiles &dS, Tiles &dK, Tiles &dV) = 0;
  /// The warp's part of dS K once all of dSᵀ is in shared memory.
  virtual QueryGradPart computeQueryGrad() = 0;

protected:
  const KernelSpec &spec;
  const BackwardPlan &plan;
  Type elt;
  Value lane, warp;
  /// ceil(D / 16): the 16-column steps of the head dim that carry data.
  int64_t headSteps;
  BackwardTiles tiles;
};

std::unique_ptr<BackwardProducts>
createBackwardMmaSync(const KernelBuilder &builder, const KernelSpec &spec,
                      const BackwardPlan &plan, Value lane, Value warp);
std::unique_ptr<BackwardProducts>
createBackwardWarpgroupMma(const KernelBuilder &builder,
                           const KernelSpec &spec, const BackwardPlan &plan,
                           Value lane, Value warp);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_BACKWARDPRODUCTS_H
