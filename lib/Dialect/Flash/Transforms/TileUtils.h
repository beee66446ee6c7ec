//===- TileUtils.h - Tile-level builders for the tiled form -----*- C++ -*-===//
//
// Builders the forward and backward tilings share: padded tile loads from
// [B, H, L, D] tensors, tile contractions, and the structural-mask band of a
// query tile.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_DIALECT_FLASH_TRANSFORMS_TILEUTILS_H
#define FLASH_LIB_DIALECT_FLASH_TRANSFORMS_TILEUTILS_H

#include "flash/Dialect/Flash/IR/KeyBand.h"
#include "flash/Dialect/Flash/Transforms/AttentionMath.h"

namespace mlir::flash {

/// Position of a tile along one length axis: rows [start, start + size),
/// padded to `tileSize` rows when `size` is smaller.
struct TileSpan {
  Value start;       // index
  OpFoldResult size; // min(tileSize, length - start)
  int64_t tileSize;
};

/// The extents of a tiled attention op, shared by the forward and backward
/// tilings.
struct TiledExtents {
  SmallVector<OpFoldResult> queryDims, keyDims, valueDims;
  OpFoldResult queryLen, keyLen;
  Value groups;        // Hq / Hkv
  Value offset;        // Lk - Lq
  int64_t tileQ, tileKV;
  Value numQueryTiles, numKeyTiles;
};

/// Reads the extents of (query, key, value). The tile sizes are those of the
/// op's block-sparse layout when it has one (`layoutBlockSizes`), else
/// `tileQ` and `tileKV`.
TiledExtents getTiledExtents(OpBuilder &b, Location loc, Value query,
                             Value key, Value value,
                             std::optional<ArrayRef<int64_t>> layoutBlockSizes,
                             int64_t tileQ, int64_t tileKV);

/// The span of tile `tile` of a length-`length` axis cut into `tileSize`
/// rows. The size folds to a constant when the length is a static multiple
/// of the tile size.
TileSpan getTileSpan(OpBuilder &b, Location loc, Value tile,
                     OpFoldResult length, int64_t tileSize);

/// Reads `src[bIdx, hIdx, span, :]` of a rank-4 tensor as a
/// [span.tileSize, D] tensor, zero-padded past the end of the axis.
Value loadTile(OpBuilder &b, Location loc, Value src, Value bIdx, Value hIdx,
               const TileSpan &span);

/// Reads `src[bIdx, hIdx, span]` of a rank-3 tensor as a [span.tileSize]
/// vector, zero-padded past the end of the axis.
Value loadRowVector(OpBuilder &b, Location loc, Value src, Value bIdx,
                    Value hIdx, const TileSpan &span);

/// Reads the [rows, cols] tile of a rank-4 broadcastable mask at (b, h,
/// rowSpan, colSpan); unit dimensions of the mask stay unit dimensions.
Value loadMaskTile(OpBuilder &b, Location loc, Value mask, Value bIdx,
                   Value hIdx, const TileSpan &rows, const TileSpan &cols);

/// Writes the first `span.size` rows of `tile` ([tileSize, ...]) into
/// `dst[bIdx, hIdx, span, ...]` (rank 3 or 4).
Value storeTile(OpBuilder &b, Location loc, Value tile, Value dst, Value bIdx,
                Value hIdx, const TileSpan &span);

/// C[m, n] (+)= sum_k A[m, k] B[n, k] (`transposeB`) or A[m, k] B[k, n], in
/// f32; `acc` is the f32 accumulator to add to, or null for zero.
/// `transposeA` reads A as [k, m].
Value tileMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs, Value acc,
                 bool transposeA, bool transposeB);

/// The transformed scores of one (query tile, key tile) pair from its raw
/// dot products ([bq, bkv], f32): reads the mask operand's tile when `mask`
/// is set and `applyElementMask` holds, hides padding columns past the end
/// of the key axis, and passes `tileState` (or null) to the transform.
Value buildTileScores(OpBuilder &b, Location loc,
                      const ScoreTransform &transform, Value dots, Value mask,
                      Value bIdx, Value hIdx, const TileSpan &rows,
                      const TileSpan &cols, const KeyBand &band,
                      Value tileState, bool applyElementMask);

/// Element-wise `fn` over same-shaped f32 tensors (or rank-1 row vectors
/// broadcast along the last axis of a rank-2 first operand when `rowInputs`
/// marks them).
Value tileMap(OpBuilder &b, Location loc, ValueRange inputs,
              ArrayRef<bool> rowInputs,
              function_ref<Value(OpBuilder &, Location, ValueRange)> fn);

/// Row reduction of a [m, n] f32 tile into `init` ([m]) with `combine`.
Value tileReduceRows(OpBuilder &b, Location loc, Value tile, Value init,
                     function_ref<Value(OpBuilder &, Location, Value, Value)>
                         combine);

/// The dense tile state of `op`'s block-sparse layout (buildTileStates), or
/// null when it has none.
template <typename OpT>
Value buildTileStatesOf(OpBuilder &b, Location loc, OpT op,
                        Value numKeyTiles) {
  Value numBlocks = op.getKvNumBlocks();
  if (!numBlocks)
    return nullptr;
  return buildTileStates(b, loc, numBlocks, op.getKvIndices(),
                         op.getFullKvNumBlocks(), op.getFullKvIndices(),
                         numKeyTiles);
}

/// The band of keys `transform`'s structural mask leaves visible, for the
/// op of `extents` (window sides clamped to Lq + Lk).
KeyBand getKeyBand(OpBuilder &b, Location loc, const ScoreTransform &transform,
                   const TiledExtents &extents);

/// The key tiles [begin, end) that can hold a key visible to some query of
/// the span `rows`.
std::pair<Value, Value> getKeyTileBand(OpBuilder &b, Location loc,
                                       const KeyBand &band,
                                       const TileSpan &rows, Value numKeyTiles,
                                       int64_t tileKV);

/// Whether every key of `cols` is visible to every query of `rows` under the
/// structural mask (an i1): such a tile needs no element mask.
Value isTileFullyVisible(OpBuilder &b, Location loc, const KeyBand &band,
                         const TileSpan &rows, const TileSpan &cols);

/// `v` as an index value.
Value toIndex(OpBuilder &b, Location loc, OpFoldResult v);

} // namespace mlir::flash

#endif // FLASH_LIB_DIALECT_FLASH_TRANSFORMS_TILEUTILS_H
