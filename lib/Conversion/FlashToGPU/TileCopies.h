//===- TileCopies.h - cp.async copies into shared-memory tiles --*- C++ -*-===//
//
// The copies of rows of a [B, H, L, D] tensor into a shared-memory tile in
// 16-byte chunks, placed where the tile's layout says, with the rows past
// the sequence and the columns past the head dim zero-filled. The forward
// kernel (TileCopies.cpp, which adds a byte-pointer form for its K and V
// tiles) and the backward kernel copy their tiles through it.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_TILECOPIES_H
#define LIB_CONVERSION_FLASHTOGPU_TILECOPIES_H

#include "KernelBuilder.h"

namespace mlir::flash::detail {

/// Rows [row0, row0 + rows) of src[batch, head, :, :], whose sequence has
/// `len` rows (unless `inBounds` promises every row is below it), laid out
/// `paddedHeadDim` columns wide in the tile, of which `headDim` hold data.
struct TileRows {
  Value src, batch, head, row0, len;
  int64_t rows;
  bool inBounds;
  int64_t headDim, paddedHeadDim;
};

/// Issues the cp.async copies of `tile` into `dst`: copy `it` of thread
/// `tid` (of `threads`) moves chunk tid + it · threads of the tile, which is
/// chunk c0 of row r0 + it · (threads / chunks per row) when the threads
/// cover whole rows. `chunkIndices(row, chunk)` gives a chunk's indices in
/// `dst`.
void copyTileChunks(KernelBuilder &kb, const TileRows &tile, Value dst,
                    Value tid, int64_t threads, Value r0, Value c0,
                    function_ref<SmallVector<Value>(Value, Value)> chunkIndices);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_TILECOPIES_H
