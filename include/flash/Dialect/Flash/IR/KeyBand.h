//===- KeyBand.h - The keys a structural mask lets a row see ----*- C++ -*-===//
//
// The band of keys that a structural mask (#flash.mask) leaves visible to a
// query row, as index arithmetic that every lowering builds the same way:
// the tiling pass (which key tiles a query tile visits, and which of them
// need no element mask) and the GPU kernels (the same, plus each thread's
// per-row bounds).
//
// Row i's diagonal key is i' = i (causal) or i + Lk - Lq (bottom-right
// causal, sliding window). Causal masks keep j <= i'; a sliding window
// keeps i' - left <= j <= i' + right. Window sides are taken clamped to
// Lq + Lk (clampWindowSides): a wider side sees no more keys, and clamped,
// none of the sums below can overflow, whatever the op's window (up to
// INT64_MAX).
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_DIALECT_FLASH_IR_KEYBAND_H
#define FLASH_DIALECT_FLASH_IR_KEYBAND_H

#include "flash/Dialect/Flash/IR/FlashOps.h"

#include "mlir/IR/Builders.h"

#include <utility>

namespace mlir::flash {

/// min(side, queryLen + keyLen) for both window sides, all index values:
/// the sides that the band arithmetic takes.
std::pair<Value, Value> clampWindowSides(OpBuilder &b, Location loc,
                                         Value left, Value right,
                                         Value queryLen, Value keyLen);

class KeyBand {
public:
  /// The band of `kind`; `offset` is Lk - Lq, and the window sides (index
  /// values, clamped with clampWindowSides) are used by sliding_window only.
  KeyBand(MaskKind kind, Value offset, Value windowLeft = nullptr,
          Value windowRight = nullptr)
      : kind(kind), offset(offset), windowLeft(windowLeft),
        windowRight(windowRight) {}

  MaskKind getKind() const { return kind; }
  /// Whether every key is visible (no structural mask).
  bool isEverything() const { return kind == MaskKind::None; }
  /// Whether the band has a first key (a sliding window).
  bool hasFirstKey() const { return kind == MaskKind::SlidingWindow; }

  /// Row `row`'s diagonal key.
  Value getDiagonal(OpBuilder &b, Location loc, Value row) const;
  /// The last key visible to `row` (not clamped to the key length).
  Value getLastKey(OpBuilder &b, Location loc, Value row) const;
  /// The first key visible to `row` (sliding windows only; may be
  /// negative).
  Value getFirstKey(OpBuilder &b, Location loc, Value row) const;
  /// Both: {first key or null without one, last key}.
  std::pair<Value, Value> getKeys(OpBuilder &b, Location loc,
                                  Value row) const;

  /// The key tiles of `tileKV` keys, within [0, numKeyTiles), that hold a
  /// key visible to some row of [firstRow, lastRow]: [begin, end).
  std::pair<Value, Value> getTileRange(OpBuilder &b, Location loc,
                                       Value firstRow, Value lastRow,
                                       Value numKeyTiles,
                                       int64_t tileKV) const;

  /// The other way round, for kernels that walk query tiles per key tile
  /// (the backward): the row tiles of `blockRows` rows, within
  /// [0, numRowTiles), that hold a row seeing some key of
  /// [firstKey, lastKey]: [begin, end), possibly empty.
  std::pair<Value, Value> getRowTileRange(OpBuilder &b, Location loc,
                                          Value firstKey, Value lastKey,
                                          Value numRowTiles,
                                          int64_t blockRows) const;

  /// Whether keys [firstKey, lastKey] are all visible to every row of
  /// [firstRow, lastRow] (an i1): such a tile needs no structural mask.
  /// `given` (an i1, or null) is a further condition ANDed in first, such
  /// as the tile lying within the key length.
  Value coversKeys(OpBuilder &b, Location loc, Value firstRow, Value lastRow,
                   Value firstKey, Value lastKey,
                   Value given = nullptr) const;

private:
  Value lastFromDiagonal(OpBuilder &b, Location loc, Value diag) const;

  MaskKind kind;
  Value offset, windowLeft, windowRight;
};

} // namespace mlir::flash

#endif // FLASH_DIALECT_FLASH_IR_KEYBAND_H
