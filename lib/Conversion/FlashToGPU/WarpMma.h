//===- WarpMma.h - mma.sync m16n8k16 and its operands -----------*- C++ -*-===//
//
// The warp-level tensor-core building blocks of sm_80 and newer: the
// swizzled [rows, columns] shared-memory tiles that cp.async fills and
// ldmatrix reads without bank conflicts, ldmatrix itself, mma.sync m16n8k16
// with f32 accumulators, and the conversion of accumulators into A
// operands. The mma.sync flavour of the forward (MmaSync.cpp) and the
// backward kernel (BackwardKernel.cpp) issue their products through it.
//
// Fragment layouts (lane = 32-lane index, g = lane / 4, c = lane % 4): an
// accumulator holds (row g, cols 2c, 2c+1) in [0, 1] and (row g + 8, same
// cols) in [2, 3]; an A fragment holds (row g, k 2c..) (row g+8, k 2c..)
// (row g, k 2c+8..) (row g+8, k 2c+8..), each two packed 16-bit values; a
// B fragment (k 2c.., col g) (k 2c+8.., col g).
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_WARPMMA_H
#define LIB_CONVERSION_FLASHTOGPU_WARPMMA_H

#include "KernelBuilder.h"

namespace mlir::flash::detail {

class WarpMma : public KernelBuilder {
public:
  /// `elt` is f16 or bf16; `lane` (the thread's lane) is needed by
  /// loadBlock only.
  WarpMma(const KernelBuilder &builder, Type elt, Value lane = nullptr)
      : KernelBuilder(builder), elt(elt), lane(lane) {}

  /// Column (in elements) of 16-byte chunk `chunk` of shared-memory row
  /// `row`: the chunk index is XORed with row % 8 inside its group of eight.
  Value swizzledColumn(Value row, Value chunk);
  /// ldmatrix x4 at `indices` of `smem`, as four packed i32 registers.
  Fragment ldmatrix(Value smem, ValueRange indices, bool transpose);
  /// D = A B + C.
  Fragment mma(ArrayRef<Value> a, ArrayRef<Value> bFrag, ArrayRef<Value> c);
  /// Two f32 values rounded to the element type and packed into an i32,
  /// the first in the low half.
  Value pack(Value lo, Value hi);
  /// The A fragment of the 16 x 16 block whose accumulators are the 8-column
  /// tiles `left` and `right`: the accumulator layout is the A layout.
  Fragment accumulatorsAsA(const Fragment &left, const Fragment &right);

  /// How ldmatrix x4 walks a 16 x 16 block (rows x two 16-byte chunks) of a
  /// swizzled tile:
  ///  - RowsFirst: rows 0-7 and 8-15 of the first chunk, then of the
  ///    second. Read as is, the A fragment of a [m][k] tile; transposed, the
  ///    B fragments of two 8-column tiles of a [k][n] tile.
  ///  - ChunksFirst: both chunks of rows 0-7, then of rows 8-15. Read as is,
  ///    the B fragments of two 8-row tiles of an [n][k] tile; transposed,
  ///    the A fragment of a [k][m] tile.
  /// Two-fragment results hold the first 8-wide tile in [0, 1] and the
  /// second in [2, 3].
  enum class BlockOrder { RowsFirst, ChunksFirst };
  /// ldmatrix x4 of the block at rows [row0, row0 + 16) and chunks
  /// [chunk0, chunk0 + 2) of `tile`, after the leading `prefix` indices.
  Fragment loadBlock(Value tile, ValueRange prefix, Value row0, Value chunk0,
                     BlockOrder order, bool transpose);

  Type elt;
  Value lane;
};

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_WARPMMA_H
