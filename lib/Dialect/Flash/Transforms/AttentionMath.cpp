//===- AttentionMath.cpp - Score math shared by flash lowerings -----------===//

#include "flash/Dialect/Flash/Transforms/AttentionMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::flash;

Value mlir::flash::floatConstant(OpBuilder &b, Location loc, Type type,
                                 double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value mlir::flash::zeroIfNegInf(OpBuilder &b, Location loc, Value v) {
  Type type = v.getType();
  Value isNegInf = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OEQ, v,
      floatConstant(b, loc, type, -std::numeric_limits<double>::infinity()));
  return arith::SelectOp::create(b, loc, isNegInf,
                                 floatConstant(b, loc, type, 0.0), v);
}

Value mlir::flash::castFloat(OpBuilder &b, Location loc, Value v, Type type) {
  Type from = v.getType();
  if (from == type)
    return v;
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, type, v);
  return arith::TruncFOp::create(b, loc, type, v);
}

void mlir::flash::replaceOpWithCasts(RewriterBase &rewriter, Operation *op,
                                     ValueRange values) {
  SmallVector<Value> results;
  for (auto [value, type] : llvm::zip_equal(values, op->getResultTypes()))
    results.push_back(value.getType() == type
                          ? value
                          : tensor::CastOp::create(rewriter, op->getLoc(), type,
                                                   value)
                                .getResult());
  rewriter.replaceOp(op, results);
}

SmallVector<OpFoldResult> mlir::flash::getDims(OpBuilder &b, Location loc,
                                               Value tensor) {
  return tensor::getMixedSizes(b, loc, tensor);
}

Value mlir::flash::buildFilled(OpBuilder &b, Location loc,
                               ArrayRef<OpFoldResult> shape, Type elementType,
                               Value value) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, elementType);
  return linalg::FillOp::create(b, loc, value, empty).getResult(0);
}

/// Builds a linalg.generic with one result from dimension lists: `inDims[k]`
/// lists, for input k, the loop dimension indexing each of its axes, or -1
/// for an axis of extent 1 (broadcast, indexed by 0).
Value mlir::flash::buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<SmallVector<int64_t>> inDims, Value init,
    ArrayRef<int64_t> outDims, ArrayRef<utils::IteratorType> iterators,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  unsigned numLoops = iterators.size();
  auto toMap = [&](ArrayRef<int64_t> dims) {
    SmallVector<AffineExpr> exprs;
    for (int64_t d : dims)
      exprs.push_back(d < 0 ? getAffineConstantExpr(0, ctx)
                            : getAffineDimExpr(d, ctx));
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  SmallVector<AffineMap> maps;
  for (ArrayRef<int64_t> dims : inDims)
    maps.push_back(toMap(dims));
  maps.push_back(toMap(outDims));
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args));
      });
  return generic.getResult(0);
}

static Value andOrNull(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  if (!lhs)
    return rhs;
  if (!rhs)
    return lhs;
  return arith::AndIOp::create(b, loc, lhs, rhs);
}

Value ScoreTransform::emitScaled(OpBuilder &b, Location loc, Value dot) const {
  Type f32 = dot.getType();
  if (!softcap)
    return arith::MulFOp::create(b, loc, dot,
                                 floatConstant(b, loc, f32, scale * outputScale));
  Value inner = arith::MulFOp::create(
      b, loc, dot, floatConstant(b, loc, f32, scale / *softcap));
  Value t = math::TanhOp::create(b, loc, inner);
  return arith::MulFOp::create(
      b, loc, t, floatConstant(b, loc, f32, *softcap * outputScale));
}

KeyBand ScoreTransform::getKeyBand(OpBuilder &b, Location loc, Value offset,
                                   Value queryLen, Value keyLen) const {
  if (kind != MaskKind::SlidingWindow)
    return KeyBand(kind, offset);
  auto [left, right] = clampWindowSides(
      b, loc, arith::ConstantIndexOp::create(b, loc, windowLeft),
      arith::ConstantIndexOp::create(b, loc, windowRight), queryLen, keyLen);
  return KeyBand(kind, offset, left, right);
}

Value ScoreTransform::emitStructuralVisible(OpBuilder &b, Location loc, Value i,
                                            Value j,
                                            const KeyBand &band) const {
  using arith::CmpIPredicate;
  if (band.isEverything())
    return nullptr;
  auto [first, last] = band.getKeys(b, loc, i);
  Value visible = arith::CmpIOp::create(b, loc, CmpIPredicate::sle, j, last);
  if (!first)
    return visible;
  return arith::AndIOp::create(
      b, loc, visible,
      arith::CmpIOp::create(b, loc, CmpIPredicate::sge, j, first));
}

Value ScoreTransform::emit(OpBuilder &b, Location loc, Value dot, Value i,
                           Value j, const KeyBand &band, Value maskElem,
                           Value tileState, bool applyElementMask,
                           Value inBounds) const {
  Type f32 = dot.getType();
  Value base = emitScaled(b, loc, dot);
  Value masked = base;
  Value elementVisible;
  if (applyElementMask) {
    if (maskElem && booleanMask)
      elementVisible = maskElem;
    else if (maskElem) {
      Value bias = castFloat(b, loc, maskElem, f32);
      if (outputScale != 1.0)
        bias = arith::MulFOp::create(b, loc, bias,
                                     floatConstant(b, loc, f32, outputScale));
      masked = arith::AddFOp::create(b, loc, base, bias);
    }
    elementVisible = andOrNull(b, loc, elementVisible,
                               emitStructuralVisible(b, loc, i, j, band));
  }

  Value score = masked;
  Value visible = elementVisible;
  if (maskedScore && elementVisible) {
    // Keys hidden by the element masks score the finite fill.
    score = arith::SelectOp::create(
        b, loc, elementVisible, masked,
        floatConstant(b, loc, f32, *maskedScore * outputScale));
    visible = nullptr;
  }
  if (tileState) {
    // Full tiles skip the element masks; dead tiles hide everything.
    Type i8 = tileState.getType();
    Value full = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, tileState,
        arith::ConstantIntOp::create(b, loc, i8,
                                     static_cast<int64_t>(TileState::Full)));
    Value live = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, tileState,
        arith::ConstantIntOp::create(b, loc, i8,
                                     static_cast<int64_t>(TileState::Dead)));
    if (score != base)
      score = arith::SelectOp::create(b, loc, full, base, score);
    if (visible)
      visible = arith::OrIOp::create(b, loc, full, visible);
    visible = andOrNull(b, loc, visible, live);
  }
  visible = andOrNull(b, loc, visible, inBounds);
  if (!visible)
    return score;
  Value negInf =
      floatConstant(b, loc, f32, -std::numeric_limits<double>::infinity());
  return arith::SelectOp::create(b, loc, visible, score, negInf);
}

/// Marks the tiles listed in one CSR pair with `state`.
static Value markTiles(OpBuilder &b, Location loc, Value states, Value num,
                       Value indices, TileState state) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> ubs;
  for (unsigned d = 0; d < 3; ++d)
    ubs.push_back(tensor::DimOp::create(b, loc, num, d));
  Value maxListed = tensor::DimOp::create(b, loc, indices, 3);
  Value numKeyTiles = tensor::DimOp::create(b, loc, states, 3);
  Type i8 = b.getI8Type();
  Type indexType = b.getIndexType();
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, {zero, zero, zero}, ubs, {one, one, one}, {states},
      [&](OpBuilder &nb, Location nl, ValueRange ivs,
          ValueRange args) -> scf::ValueVector {
        Value count = arith::IndexCastOp::create(
            nb, nl, indexType, tensor::ExtractOp::create(nb, nl, num, ivs));
        Value bound = arith::MinSIOp::create(nb, nl, count, maxListed);
        auto listLoop = scf::ForOp::create(
            nb, nl, zero, bound, one, args,
            [&](OpBuilder &lb, Location ll, Value n, ValueRange inner) {
              SmallVector<Value> at(ivs);
              at.push_back(n);
              Value idx = arith::IndexCastOp::create(
                  lb, ll, indexType,
                  tensor::ExtractOp::create(lb, ll, indices, at));
              Value inRange = arith::AndIOp::create(
                  lb, ll,
                  arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::sge, idx,
                                        zero),
                  arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::slt, idx,
                                        numKeyTiles));
              auto ifOp = scf::IfOp::create(
                  lb, ll, inRange,
                  [&](OpBuilder &tb, Location tl) {
                    SmallVector<Value> dst(ivs);
                    dst.push_back(idx);
                    Value mark = arith::ConstantIntOp::create(
                        tb, tl, i8, static_cast<int64_t>(state));
                    Value updated =
                        tensor::InsertOp::create(tb, tl, mark, inner[0], dst);
                    scf::YieldOp::create(tb, tl, updated);
                  },
                  [&](OpBuilder &eb, Location el) {
                    scf::YieldOp::create(eb, el, inner[0]);
                  });
              scf::YieldOp::create(lb, ll, ifOp.getResult(0));
            });
        return {listLoop.getResult(0)};
      });
  return nest.results.front();
}

Value mlir::flash::buildTileStates(OpBuilder &b, Location loc, Value numBlocks,
                                   Value indices, Value fullNum, Value fullIdx,
                                   Value numKeyTiles) {
  SmallVector<OpFoldResult> shape = getDims(b, loc, numBlocks);
  shape.push_back(numKeyTiles);
  Type i8 = b.getI8Type();
  Value dead = arith::ConstantIntOp::create(b, loc, i8,
                                            static_cast<int64_t>(TileState::Dead));
  Value states = buildFilled(b, loc, shape, i8, dead);
  states = markTiles(b, loc, states, numBlocks, indices, TileState::Partial);
  if (fullNum)
    states = markTiles(b, loc, states, fullNum, fullIdx, TileState::Full);
  return states;
}
