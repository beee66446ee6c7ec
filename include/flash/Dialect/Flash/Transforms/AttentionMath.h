//===- AttentionMath.h - Score math shared by flash lowerings ---*- C++ -*-===//
//
// Building blocks that every lowering of the flash ops shares, so that the
// naive decomposition and the tiled form compute the same function: the
// per-element score transformation (scale, softcap, masks), the dense tile
// state of a block-sparse layout, and small linalg helpers.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_DIALECT_FLASH_TRANSFORMS_ATTENTIONMATH_H
#define FLASH_DIALECT_FLASH_TRANSFORMS_ATTENTIONMATH_H

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "flash/Dialect/Flash/IR/KeyBand.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>
#include <type_traits>

namespace mlir::flash {

/// Per-tile state of a block-sparse layout, as stored in the dense i8 tensor
/// built by `buildTileStates`.
enum class TileState : int8_t { Dead = 0, Partial = 1, Full = 2 };

/// The element-wise part of attention: turns a raw dot product q·k into the
/// score the softmax sees, or -inf where the key is hidden.
struct ScoreTransform {
  double scale = 1.0;
  std::optional<double> softcap;
  MaskKind kind = MaskKind::None;
  int64_t windowLeft = 0, windowRight = 0;
  /// Whether the mask operand is boolean (hides keys) or additive.
  bool booleanMask = false;
  /// The finite score of keys hidden by the element masks (the op's
  /// masked_score), or none for -inf.
  std::optional<double> maskedScore;
  /// A factor applied to the final score, folded into the scale (and the
  /// softcap): log2(e) lets the tiled form use exp2 instead of exp.
  double outputScale = 1.0;

  template <typename OpT>
  static ScoreTransform get(OpT op) {
    ScoreTransform t;
    t.scale = op.getScaleValue();
    if (std::optional<APFloat> cap = op.getSoftcap())
      t.softcap = cap->convertToDouble();
    t.kind = op.getMaskKind();
    if (std::optional<ArrayRef<int64_t>> w = op.getWindow()) {
      t.windowLeft = (*w)[0];
      t.windowRight = (*w)[1];
    }
    if (Value mask = op.getMask())
      t.booleanMask =
          cast<ShapedType>(mask.getType()).getElementType().isInteger(1);
    if constexpr (std::is_same_v<OpT, AttentionOp>)
      if (std::optional<APFloat> fill = op.getMaskedScore())
        t.maskedScore = fill->convertToDouble();
    return t;
  }

  /// Whether a key hidden by the element masks still takes part in the
  /// softmax (a finite masked_score): then no tile may be skipped for the
  /// structural mask alone.
  bool hiddenKeysCount() const { return maskedScore.has_value(); }

  /// Whether any element mask (structural or operand) applies at all.
  bool hasElementMask(bool hasMaskOperand) const {
    return hasMaskOperand || kind != MaskKind::None;
  }

  /// scale and softcap applied to a raw f32 dot product, times outputScale.
  Value emitScaled(OpBuilder &b, Location loc, Value dot) const;

  /// The band of keys `kind` leaves visible, for lengths `queryLen` and
  /// `keyLen` (index values) and `offset` = Lk - Lq; window sides clamped
  /// to Lq + Lk.
  KeyBand getKeyBand(OpBuilder &b, Location loc, Value offset, Value queryLen,
                     Value keyLen) const;

  /// Whether key `j` is visible to query `i` under `band` (this transform's,
  /// getKeyBand). Returns an i1, or null when every key is visible.
  Value emitStructuralVisible(OpBuilder &b, Location loc, Value i, Value j,
                              const KeyBand &band) const;

  /// The full transformation of a raw f32 dot product, under the key band
  /// `band` (getKeyBand). `maskElem` is the
  /// mask operand's element at (i, j) or null; `tileState` the i8 state of
  /// the tile holding (i, j) or null when there is no layout;
  /// `applyElementMask` false skips the element masks (a tile known to be
  /// entirely visible); `inBounds` is an extra i1 visibility or null.
  Value emit(OpBuilder &b, Location loc, Value dot, Value i, Value j,
             const KeyBand &band, Value maskElem, Value tileState,
             bool applyElementMask, Value inBounds) const;
};

/// Builds the dense per-tile state [Bl, Hl, NQ, NKV] (i8, see TileState) of
/// a block-sparse layout from its CSR lists. `fullNum`/`fullIdx` may be null.
/// Out-of-range indices are ignored.
Value buildTileStates(OpBuilder &b, Location loc, Value numBlocks,
                      Value indices, Value fullNum, Value fullIdx,
                      Value numKeyTiles);

/// Builds a linalg.generic with one result from dimension lists: `inDims[k]`
/// lists, for input k, the loop dimension indexing each of its axes, or -1
/// for an axis of extent 1 (broadcast, indexed by 0). `body` receives the
/// block arguments (inputs, then the output) and returns the yielded value.
Value buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<SmallVector<int64_t>> inDims, Value init,
    ArrayRef<int64_t> outDims, ArrayRef<utils::IteratorType> iterators,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// An `arith.constant` of `value` in the float type `type`.
Value floatConstant(OpBuilder &b, Location loc, Type type, double value);

/// `v`, or 0 where `v` is -inf: a row maximum or log-sum-exp that is safe to
/// subtract for rows that see no key.
Value zeroIfNegInf(OpBuilder &b, Location loc, Value v);

/// Extends or truncates a float scalar to `type` (no-op if equal).
Value castFloat(OpBuilder &b, Location loc, Value v, Type type);

/// `tensor.empty` shaped like `shape` (static extents, or the values in
/// `dynamicSizes` for dynamic ones) filled with `value`.
Value buildFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> shape,
                  Type elementType, Value value);

/// Replaces `op` with `values`, inserting a tensor.cast where a value's type
/// is more or less static than the op's result type.
void replaceOpWithCasts(RewriterBase &rewriter, Operation *op,
                        ValueRange values);

/// The extents of a ranked tensor value as OpFoldResults.
SmallVector<OpFoldResult> getDims(OpBuilder &b, Location loc, Value tensor);

} // namespace mlir::flash

#endif // FLASH_DIALECT_FLASH_TRANSFORMS_ATTENTIONMATH_H
