//===- TileUtils.cpp - Tile-level builders for the tiled form -------------===//

#include "TileUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"

using namespace mlir;
using namespace mlir::flash;
using utils::IteratorType;

Value mlir::flash::toIndex(OpBuilder &b, Location loc, OpFoldResult v) {
  return getValueOrCreateConstantIndexOp(b, loc, v);
}

TiledExtents mlir::flash::getTiledExtents(
    OpBuilder &b, Location loc, Value query, Value key, Value value,
    std::optional<ArrayRef<int64_t>> layoutBlockSizes, int64_t tileQ,
    int64_t tileKV) {
  TiledExtents e;
  e.queryDims = getDims(b, loc, query);
  e.keyDims = getDims(b, loc, key);
  e.valueDims = getDims(b, loc, value);
  e.queryLen = e.queryDims[2];
  e.keyLen = e.keyDims[2];
  e.groups = arith::DivUIOp::create(b, loc, toIndex(b, loc, e.queryDims[1]),
                                    toIndex(b, loc, e.keyDims[1]));
  e.offset = arith::SubIOp::create(b, loc, toIndex(b, loc, e.keyLen),
                                   toIndex(b, loc, e.queryLen));
  e.tileQ = layoutBlockSizes ? (*layoutBlockSizes)[0] : tileQ;
  e.tileKV = layoutBlockSizes ? (*layoutBlockSizes)[1] : tileKV;
  auto ceilDiv = [&](OpFoldResult len, int64_t block) -> Value {
    return arith::CeilDivUIOp::create(
        b, loc, toIndex(b, loc, len),
        arith::ConstantIndexOp::create(b, loc, block));
  };
  e.numQueryTiles = ceilDiv(e.queryLen, e.tileQ);
  e.numKeyTiles = ceilDiv(e.keyLen, e.tileKV);
  return e;
}

TileSpan mlir::flash::getTileSpan(OpBuilder &b, Location loc, Value tile,
                                  OpFoldResult length, int64_t tileSize) {
  TileSpan span;
  span.tileSize = tileSize;
  span.start = arith::MulIOp::create(
      b, loc, tile, arith::ConstantIndexOp::create(b, loc, tileSize));
  std::optional<int64_t> staticLen = getConstantIntValue(length);
  if (staticLen && *staticLen % tileSize == 0) {
    span.size = b.getIndexAttr(tileSize);
    return span;
  }
  Value rest = arith::SubIOp::create(b, loc, toIndex(b, loc, length),
                                     span.start);
  span.size = arith::MinSIOp::create(
                  b, loc, rest, arith::ConstantIndexOp::create(b, loc, tileSize))
                  .getResult();
  return span;
}

/// Zero-pads the leading `rank`-2 axis of `slice` up to `tileSize` rows.
static Value padRows(OpBuilder &b, Location loc, Value slice,
                     ArrayRef<int64_t> paddedShape) {
  auto type = cast<RankedTensorType>(slice.getType());
  if (type.getShape() == paddedShape)
    return slice;
  auto paddedType = RankedTensorType::get(paddedShape, type.getElementType());
  Value zero = arith::ConstantOp::create(
      b, loc, type.getElementType(),
      b.getZeroAttr(type.getElementType()));
  return tensor::createPadHighOp(paddedType, slice, zero, /*nofold=*/false,
                                 loc, b);
}

Value mlir::flash::loadTile(OpBuilder &b, Location loc, Value src, Value bIdx,
                            Value hIdx, const TileSpan &span) {
  auto srcType = cast<RankedTensorType>(src.getType());
  // A head_dim (or value dim) of 0 gives tiles without elements; the slice
  // verifier would reject an offset into the empty axis.
  if (srcType.getDimSize(3) == 0)
    return tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{span.tileSize, 0},
                                   srcType.getElementType());
  OpFoldResult one = b.getIndexAttr(1);
  OpFoldResult width = tensor::getMixedSize(b, loc, src, 3);
  SmallVector<OpFoldResult> offsets = {bIdx, hIdx, span.start,
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {one, one, span.size, width};
  SmallVector<OpFoldResult> strides(4, one);
  auto sliceType = tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
      2, srcType, sizes);
  Value slice = tensor::ExtractSliceOp::create(b, loc, sliceType, src, offsets,
                                               sizes, strides);
  return padRows(b, loc, slice, {span.tileSize, srcType.getDimSize(3)});
}

Value mlir::flash::loadRowVector(OpBuilder &b, Location loc, Value src,
                                 Value bIdx, Value hIdx, const TileSpan &span) {
  auto srcType = cast<RankedTensorType>(src.getType());
  OpFoldResult one = b.getIndexAttr(1);
  SmallVector<OpFoldResult> offsets = {bIdx, hIdx, span.start};
  SmallVector<OpFoldResult> sizes = {one, one, span.size};
  SmallVector<OpFoldResult> strides(3, one);
  auto sliceType = tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
      1, srcType, sizes);
  Value slice = tensor::ExtractSliceOp::create(b, loc, sliceType, src, offsets,
                                               sizes, strides);
  return padRows(b, loc, slice, {span.tileSize});
}

Value mlir::flash::loadMaskTile(OpBuilder &b, Location loc, Value mask,
                                Value bIdx, Value hIdx, const TileSpan &rows,
                                const TileSpan &cols) {
  auto type = cast<RankedTensorType>(mask.getType());
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  auto unit = [&](unsigned d) { return type.getDimSize(d) == 1; };
  SmallVector<OpFoldResult> offsets = {
      unit(0) ? zero : OpFoldResult(bIdx), unit(1) ? zero : OpFoldResult(hIdx),
      unit(2) ? zero : OpFoldResult(rows.start),
      unit(3) ? zero : OpFoldResult(cols.start)};
  SmallVector<OpFoldResult> sizes = {one, one, unit(2) ? one : rows.size,
                                     unit(3) ? one : cols.size};
  SmallVector<OpFoldResult> strides(4, one);
  SmallVector<int64_t> sliceShape;
  for (unsigned d = 2; d < 4; ++d) {
    std::optional<int64_t> s = getConstantIntValue(sizes[d]);
    sliceShape.push_back(s ? *s : ShapedType::kDynamic);
  }
  auto sliceType = RankedTensorType::get(sliceShape, type.getElementType());
  Value slice = tensor::ExtractSliceOp::create(b, loc, sliceType, mask, offsets,
                                               sizes, strides);
  return padRows(b, loc, slice,
                 {unit(2) ? 1 : rows.tileSize, unit(3) ? 1 : cols.tileSize});
}

Value mlir::flash::storeTile(OpBuilder &b, Location loc, Value tile, Value dst,
                             Value bIdx, Value hIdx, const TileSpan &span) {
  auto tileType = cast<RankedTensorType>(tile.getType());
  auto dstType = cast<RankedTensorType>(dst.getType());
  // A destination with a value dim of 0 has nothing to store.
  if (dstType.getRank() == 4 && dstType.getDimSize(3) == 0)
    return dst;
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  // Trim the padding rows.
  SmallVector<OpFoldResult> tileSizes = {span.size};
  SmallVector<OpFoldResult> tileOffsets = {zero};
  if (tileType.getRank() == 2) {
    tileSizes.push_back(tensor::getMixedSize(b, loc, tile, 1));
    tileOffsets.push_back(zero);
  }
  SmallVector<OpFoldResult> tileStrides(tileType.getRank(), one);
  Value valid = tensor::ExtractSliceOp::create(b, loc, tile, tileOffsets,
                                               tileSizes, tileStrides);
  SmallVector<OpFoldResult> offsets = {bIdx, hIdx, span.start};
  SmallVector<OpFoldResult> sizes = {one, one, span.size};
  if (dstType.getRank() == 4) {
    offsets.push_back(zero);
    sizes.push_back(tileSizes[1]);
  }
  SmallVector<OpFoldResult> strides(dstType.getRank(), one);
  return tensor::InsertSliceOp::create(b, loc, valid, dst, offsets, sizes,
                                       strides);
}

Value mlir::flash::tileMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs,
                              Value acc, bool transposeA, bool transposeB) {
  Type f32 = b.getF32Type();
  // Loop dims: 0 m, 1 n, 2 k.
  SmallVector<int64_t> lhsDims = transposeA ? SmallVector<int64_t>{2, 0}
                                            : SmallVector<int64_t>{0, 2};
  SmallVector<int64_t> rhsDims = transposeB ? SmallVector<int64_t>{1, 2}
                                            : SmallVector<int64_t>{2, 1};
  if (!acc) {
    OpFoldResult m = tensor::getMixedSize(b, loc, lhs, transposeA ? 1 : 0);
    OpFoldResult n = tensor::getMixedSize(b, loc, rhs, transposeB ? 0 : 1);
    acc = buildFilled(b, loc, {m, n}, f32, floatConstant(b, loc, f32, 0.0));
  }
  return buildGeneric(
      b, loc, {lhs, rhs}, {lhsDims, rhsDims}, acc, {0, 1},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value prod = arith::MulFOp::create(nb, nl, castFloat(nb, nl, args[0], f32),
                                           castFloat(nb, nl, args[1], f32));
        return arith::AddFOp::create(nb, nl, args[2], prod);
      });
}

Value mlir::flash::buildTileScores(OpBuilder &b, Location loc,
                                   const ScoreTransform &transform, Value dots,
                                   Value mask, Value bIdx, Value hIdx,
                                   const TileSpan &rows, const TileSpan &cols,
                                   const KeyBand &band, Value tileState,
                                   bool applyElementMask) {
  SmallVector<Value> inputs = {dots};
  SmallVector<SmallVector<int64_t>> inDims = {{0, 1}};
  if (mask && applyElementMask) {
    Value maskTile = loadMaskTile(b, loc, mask, bIdx, hIdx, rows, cols);
    auto maskType = cast<ShapedType>(maskTile.getType());
    inputs.push_back(maskTile);
    inDims.push_back({maskType.getDimSize(0) == 1 ? -1 : 0,
                      maskType.getDimSize(1) == 1 ? -1 : 1});
  }
  // Padding columns of a tail tile are hidden.
  bool needsBoundsCheck = !isa<Attribute>(cols.size);
  Value init =
      tensor::EmptyOp::create(b, loc, getDims(b, loc, dots), b.getF32Type());
  return buildGeneric(
      b, loc, inputs, inDims, init, {0, 1},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value ii = linalg::IndexOp::create(nb, nl, 0);
        Value jj = linalg::IndexOp::create(nb, nl, 1);
        Value i = arith::AddIOp::create(nb, nl, rows.start, ii);
        Value j = arith::AddIOp::create(nb, nl, cols.start, jj);
        Value inBounds;
        if (needsBoundsCheck)
          inBounds = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                           jj, toIndex(nb, nl, cols.size));
        Value maskElem = inputs.size() > 1 ? args[1] : Value();
        return transform.emit(nb, nl, args[0], i, j, band, maskElem,
                              tileState, applyElementMask, inBounds);
      });
}

Value mlir::flash::tileMap(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<bool> rowInputs,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  Value first = inputs.front();
  auto type = cast<RankedTensorType>(first.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> all = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  SmallVector<SmallVector<int64_t>> dims;
  for (auto [idx, in] : llvm::enumerate(inputs))
    dims.push_back(idx < rowInputs.size() && rowInputs[idx]
                       ? SmallVector<int64_t>{0}
                       : all);
  Value init = tensor::EmptyOp::create(b, loc, getDims(b, loc, first),
                                       b.getF32Type());
  return buildGeneric(b, loc, inputs, dims, init, all,
                      SmallVector<IteratorType>(rank, IteratorType::parallel),
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return fn(nb, nl, args.drop_back());
                      });
}

Value mlir::flash::tileReduceRows(
    OpBuilder &b, Location loc, Value tile, Value init,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  return buildGeneric(b, loc, {tile}, {{0, 1}}, init, {0},
                      {IteratorType::parallel, IteratorType::reduction},
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return combine(nb, nl, args[0], args[1]);
                      });
}

KeyBand mlir::flash::getKeyBand(OpBuilder &b, Location loc,
                                const ScoreTransform &transform,
                                const TiledExtents &extents) {
  return transform.getKeyBand(b, loc, extents.offset,
                              toIndex(b, loc, extents.queryLen),
                              toIndex(b, loc, extents.keyLen));
}

/// The last row of `rows`.
static Value lastOf(OpBuilder &b, Location loc, const TileSpan &span) {
  return arith::SubIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, span.start, toIndex(b, loc, span.size)),
      arith::ConstantIndexOp::create(b, loc, 1));
}

std::pair<Value, Value> mlir::flash::getKeyTileBand(OpBuilder &b, Location loc,
                                                    const KeyBand &band,
                                                    const TileSpan &rows,
                                                    Value numKeyTiles,
                                                    int64_t tileKV) {
  if (band.isEverything())
    return {arith::ConstantIndexOp::create(b, loc, 0), numKeyTiles};
  return band.getTileRange(b, loc, rows.start, lastOf(b, loc, rows),
                           numKeyTiles, tileKV);
}

Value mlir::flash::isTileFullyVisible(OpBuilder &b, Location loc,
                                      const KeyBand &band,
                                      const TileSpan &rows,
                                      const TileSpan &cols) {
  if (band.isEverything())
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  return band.coversKeys(b, loc, rows.start, lastOf(b, loc, rows), cols.start,
                         lastOf(b, loc, cols));
}
