//===- KeyBand.cpp - The keys a structural mask lets a row see ------------===//

#include "flash/Dialect/Flash/IR/KeyBand.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::flash;

std::pair<Value, Value> mlir::flash::clampWindowSides(OpBuilder &b,
                                                      Location loc, Value left,
                                                      Value right,
                                                      Value queryLen,
                                                      Value keyLen) {
  Value widest = arith::AddIOp::create(b, loc, queryLen, keyLen);
  return {arith::MinSIOp::create(b, loc, left, widest),
          arith::MinSIOp::create(b, loc, right, widest)};
}

Value KeyBand::getDiagonal(OpBuilder &b, Location loc, Value row) const {
  if (kind == MaskKind::CausalTopLeft)
    return row;
  return arith::AddIOp::create(b, loc, row, offset);
}

/// The last key visible to the row whose diagonal key is `diag`.
Value KeyBand::lastFromDiagonal(OpBuilder &b, Location loc, Value diag) const {
  if (!hasFirstKey())
    return diag;
  return arith::AddIOp::create(b, loc, diag, windowRight);
}

Value KeyBand::getLastKey(OpBuilder &b, Location loc, Value row) const {
  assert(!isEverything() && "no structural mask: every key is visible");
  return lastFromDiagonal(b, loc, getDiagonal(b, loc, row));
}

Value KeyBand::getFirstKey(OpBuilder &b, Location loc, Value row) const {
  assert(hasFirstKey() && "only a sliding window has a first key");
  return arith::SubIOp::create(b, loc, getDiagonal(b, loc, row), windowLeft);
}

std::pair<Value, Value> KeyBand::getKeys(OpBuilder &b, Location loc,
                                         Value row) const {
  assert(!isEverything() && "no structural mask: every key is visible");
  Value diag = getDiagonal(b, loc, row);
  Value last = lastFromDiagonal(b, loc, diag);
  if (!hasFirstKey())
    return {nullptr, last};
  return {arith::SubIOp::create(b, loc, diag, windowLeft), last};
}

std::pair<Value, Value> KeyBand::getTileRange(OpBuilder &b, Location loc,
                                              Value firstRow, Value lastRow,
                                              Value numKeyTiles,
                                              int64_t tileKV) const {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  if (isEverything())
    return {zero, numKeyTiles};
  auto clamp = [&](Value tile) -> Value {
    return arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, tile, zero), numKeyTiles);
  };
  Value block = arith::ConstantIndexOp::create(b, loc, tileKV);
  Value end = clamp(arith::AddIOp::create(
      b, loc,
      arith::FloorDivSIOp::create(b, loc, getLastKey(b, loc, lastRow), block),
      arith::ConstantIndexOp::create(b, loc, 1)));
  if (!hasFirstKey())
    return {zero, end};
  Value begin = clamp(arith::FloorDivSIOp::create(
      b, loc, getFirstKey(b, loc, firstRow), block));
  return {begin, end};
}

std::pair<Value, Value> KeyBand::getRowTileRange(OpBuilder &b, Location loc,
                                                 Value firstKey, Value lastKey,
                                                 Value numRowTiles,
                                                 int64_t blockRows) const {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  if (isEverything())
    return {zero, numRowTiles};
  auto clamp = [&](Value tile) -> Value {
    return arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, tile, zero), numRowTiles);
  };
  Value block = arith::ConstantIndexOp::create(b, loc, blockRows);
  // Row i's keys are [i + first(0), i + last(0)]: the band is the same
  // distance from every row's diagonal. Rows from firstKey - last(0) on
  // reach firstKey; rows up to lastKey - first(0) reach lastKey.
  Value firstRow =
      arith::SubIOp::create(b, loc, firstKey, getLastKey(b, loc, zero));
  Value begin =
      clamp(arith::FloorDivSIOp::create(b, loc, firstRow, block));
  if (!hasFirstKey())
    return {begin, numRowTiles};
  Value lastRow =
      arith::SubIOp::create(b, loc, lastKey, getFirstKey(b, loc, zero));
  Value end = clamp(arith::AddIOp::create(
      b, loc, arith::FloorDivSIOp::create(b, loc, lastRow, block),
      arith::ConstantIndexOp::create(b, loc, 1)));
  return {begin, end};
}

Value KeyBand::coversKeys(OpBuilder &b, Location loc, Value firstRow,
                          Value lastRow, Value firstKey, Value lastKey,
                          Value given) const {
  using arith::CmpIPredicate;
  auto both = [&](Value known, Value condition) -> Value {
    if (!known)
      return condition;
    return arith::AndIOp::create(b, loc, known, condition);
  };
  if (isEverything())
    return given ? given
                 : arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  // The last key must be visible to the first row ...
  Value covered = both(given, arith::CmpIOp::create(
                                  b, loc, CmpIPredicate::sle, lastKey,
                                  getLastKey(b, loc, firstRow)));
  if (!hasFirstKey())
    return covered;
  // ... and the first key to the last row.
  return both(covered, arith::CmpIOp::create(b, loc, CmpIPredicate::sge,
                                             firstKey,
                                             getFirstKey(b, loc, lastRow)));
}
