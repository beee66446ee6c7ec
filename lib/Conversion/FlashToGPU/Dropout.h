//===- Dropout.h - Attention dropout's random bits --------------*- C++ -*-===//
//
// Attention dropout (KernelFeatures::dropout) keeps each probability
// P[b, h, i, j] with probability keep / 65536 and scales the kept ones by
// 65536 / keep. Whether an element is kept is a function of the kernel's
// dropout parameters (KernelABI.h) and of (b, h, i, j) alone, so that the
// backward regenerates the forward's mask instead of storing it:
//
//   Philox4x32-10 (Salmon et al., SC'11) under the key (seed mod 2^32,
//   seed / 2^32) of the counter
//     (keyGroup, queryGroup, b · Hq + h, offset mod 2^32),
//   keyGroup   = (j / 16) · 4 + (j mod 8) / 2,
//   queryGroup = (i / 16) · 8 + i mod 8,
//   gives four 32-bit words for the 8 elements of a group: rows i and
//   i + 8 (i mod 16 < 8) by keys j + {0, 1, 8, 9} (j mod 16 < 8, even).
//   Element (i, j) takes the 16 bits of word 2 · ((i / 8) mod 2) +
//   (j / 8) mod 2 from bit 16 · (j mod 2); it is kept when they are
//   below keep.
//
// A group is what one thread of the forward holds of a 16-key step in the
// m16n8 accumulator layout (WarpMma.h), so the forward draws once per 8
// elements; the backward, which holds Sᵀ, uses 4 of each group's 8.
// python/flash_mlir/_dropout.py computes the same mask on the host.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_DROPOUT_H
#define LIB_CONVERSION_FLASHTOGPU_DROPOUT_H

#include "KernelBuilder.h"

namespace mlir::flash::detail {

class DropoutMask : protected KernelBuilder {
public:
  /// `params` are the kernel's dropout arguments (kDropoutParams).
  DropoutMask(const KernelBuilder &builder, ValueRange params);

  /// The counter's third word for batch `batch` and query head `head` of
  /// `queryHeads` (index values); set before drawing.
  void setHead(Value batch, Value head, Value queryHeads);

  /// The group of query row `row` and of key `key` (index values); `row`
  /// and `key` may be any member of the group.
  Value getQueryGroup(Value row);
  Value getKeyGroup(Value key);

  /// The four random words of a group.
  SmallVector<Value, 4> draw(Value keyGroup, Value queryGroup);

  /// Whether the element of `words` (draw) at row half `rowHalf` (0 for
  /// i mod 16 < 8), key half `keyHalf` (0 for j mod 16 < 8) and key parity
  /// `keyParity` (j mod 2, an i32 value) is kept (i1).
  Value isKept(ArrayRef<Value> words, int64_t rowHalf, int64_t keyHalf,
               Value keyParity);

  /// 65536 / keep, the factor of the kept probabilities (0 when nothing is
  /// kept), as f32.
  Value getKeptScale();

private:
  Value toI32(Value index);
  /// The high 32 bits of the product of two u32.
  Value mulHigh(Value x, Value y);

  Value seed, offsetLo, keep, headWord;
};

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_DROPOUT_H
