//===- DecomposeAttention.cpp - flash ops to naive linalg -----------------===//
//
// Rewrites the flash ops into linalg/tensor/arith/math that materialize the
// full score matrix: the executable specification of the dialect.
//
// Grouped-query attention is expressed without gathers: the query (and every
// per-query-head tensor) is viewed as [B, Hkv, G, Lq, *] with G = Hq / Hkv,
// so that query head h = hk * G + g meets key/value head hk through plain
// projected-permutation indexing maps.
//
//===----------------------------------------------------------------------===//

#include "UnraisedAttention.h"

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "flash/Dialect/Flash/Transforms/AttentionMath.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::flash {
#define GEN_PASS_DEF_FLASHDECOMPOSEATTENTION
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;
using namespace mlir::flash;

namespace {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// The extents the decomposition works with, as OpFoldResults.
struct Extents {
  OpFoldResult batch, queryHeads, kvHeads, groups, queryLen, keyLen, headDim,
      valueDim;
  Value offset; // Lk - Lq, an index
};

Extents getExtents(OpBuilder &b, Location loc, Value q, Value k, Value v) {
  Extents e;
  SmallVector<OpFoldResult> qd = getDims(b, loc, q), kd = getDims(b, loc, k),
                            vd = getDims(b, loc, v);
  e.batch = qd[0];
  e.queryHeads = qd[1];
  e.queryLen = qd[2];
  e.headDim = qd[3];
  e.kvHeads = kd[1];
  e.keyLen = kd[2];
  e.valueDim = vd[3];
  std::optional<int64_t> hq = getConstantIntValue(e.queryHeads);
  std::optional<int64_t> hkv = getConstantIntValue(e.kvHeads);
  if (hq && hkv)
    e.groups = b.getIndexAttr(*hq / *hkv);
  else
    e.groups = arith::DivUIOp::create(
                   b, loc, getValueOrCreateConstantIndexOp(b, loc, e.queryHeads),
                   getValueOrCreateConstantIndexOp(b, loc, e.kvHeads))
                   .getResult();
  e.offset = arith::SubIOp::create(
      b, loc, getValueOrCreateConstantIndexOp(b, loc, e.keyLen),
      getValueOrCreateConstantIndexOp(b, loc, e.queryLen));
  return e;
}

/// Views a per-query-head tensor [B, Hq, ...] as [B, Hkv, G, ...].
Value splitHeads(OpBuilder &b, Location loc, Value t, const Extents &e) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> shape = getDims(b, loc, t);
  shape.erase(shape.begin() + 1);
  shape.insert(shape.begin() + 1, {e.kvHeads, e.groups});
  // The split extents are static where they are known constants (the
  // pattern driver may have folded them to constant values: make those
  // attributes, as the op's static sizes must agree with its type); every
  // other extent is the source's, static or not.
  SmallVector<int64_t> staticShape;
  for (auto [d, s] : llvm::enumerate(shape)) {
    std::optional<int64_t> c = getConstantIntValue(s);
    if (d == 1 || d == 2) {
      if (c)
        s = b.getIndexAttr(*c);
      staticShape.push_back(c.value_or(ShapedType::kDynamic));
      continue;
    }
    int64_t size = type.getDimSize(d == 0 ? 0 : d - 1);
    if (!ShapedType::isDynamic(size))
      s = b.getIndexAttr(size);
    staticShape.push_back(size);
  }
  auto resultType = RankedTensorType::get(staticShape, type.getElementType());

  // Hkv and G both dynamic: a tensor.expand_shape would bufferize to a
  // memref.expand_shape with two dynamic sizes in one group, on which MLIR
  // 22's expand-strided-metadata crashes. Copy instead: element
  // [b, hk, g, ...] is t[b, hk * G + g, ...].
  if (resultType.isDynamicDim(1) && resultType.isDynamicDim(2)) {
    Value groups = getValueOrCreateConstantIndexOp(b, loc, e.groups);
    Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
    SmallVector<int64_t> outDims =
        llvm::to_vector(llvm::seq<int64_t>(0, rank + 1));
    return buildGeneric(
        b, loc, /*inputs=*/{}, /*inDims=*/{}, init, outDims,
        SmallVector<IteratorType>(rank + 1, kPar),
        [&](OpBuilder &nb, Location nl, ValueRange) -> Value {
          SmallVector<Value> indices;
          for (int64_t d = 0; d <= rank; ++d)
            indices.push_back(linalg::IndexOp::create(nb, nl, d));
          Value head = arith::AddIOp::create(
              nb, nl, arith::MulIOp::create(nb, nl, indices[1], groups),
              indices[2]);
          indices.erase(indices.begin() + 1, indices.begin() + 3);
          indices.insert(indices.begin() + 1, head);
          return tensor::ExtractOp::create(nb, nl, t, indices);
        });
  }

  // tensor.expand_shape wants the split extent static exactly when both of
  // its parts are: cast it so (Hq may be static while Hkv is not, and a
  // mask's head extent may be static while the query's is not).
  bool staticParts = !resultType.isDynamicDim(1) && !resultType.isDynamicDim(2);
  if (staticParts != !type.isDynamicDim(1)) {
    SmallVector<int64_t> castShape(type.getShape());
    castShape[1] =
        staticParts ? staticShape[1] * staticShape[2] : ShapedType::kDynamic;
    type = RankedTensorType::get(castShape, type.getElementType());
    t = tensor::CastOp::create(b, loc, type, t);
  }
  SmallVector<ReassociationIndices> reassoc = {{0}, {1, 2}};
  for (int64_t d = 2; d < rank; ++d)
    reassoc.push_back({d + 1});
  return tensor::ExpandShapeOp::create(b, loc, resultType, t, reassoc, shape);
}

/// The inverse of splitHeads.
Value mergeHeads(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<ReassociationIndices> reassoc = {{0}, {1, 2}};
  for (int64_t d = 3; d < type.getRank(); ++d)
    reassoc.push_back({d});
  return tensor::CollapseShapeOp::create(b, loc, t, reassoc);
}

bool isUnitDim(Value t, unsigned d) {
  return cast<ShapedType>(t.getType()).getDimSize(d) == 1;
}

/// Masked, transformed scores [B, Hkv, G, Lq, Lk] (f32) from raw dot
/// products: the element-wise part of the attention definition.
template <typename OpT>
Value buildMaskedScores(OpBuilder &b, Location loc, OpT op, Value dots,
                        const Extents &e) {
  ScoreTransform transform = ScoreTransform::get(op);
  KeyBand band = transform.getKeyBand(
      b, loc, e.offset, getValueOrCreateConstantIndexOp(b, loc, e.queryLen),
      getValueOrCreateConstantIndexOp(b, loc, e.keyLen));
  Type f32 = b.getF32Type();
  // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 j.
  SmallVector<Value> inputs = {dots};
  SmallVector<SmallVector<int64_t>> inDims = {{0, 1, 2, 3, 4}};
  Value mask = op.getMask();
  if (mask) {
    // A mask with one head broadcasts over hk and g alike; otherwise its
    // head axis splits like the query's.
    if (isUnitDim(mask, 1)) {
      inputs.push_back(mask);
      inDims.push_back({isUnitDim(mask, 0) ? -1 : 0, -1,
                        isUnitDim(mask, 2) ? -1 : 3,
                        isUnitDim(mask, 3) ? -1 : 4});
    } else {
      inputs.push_back(splitHeads(b, loc, mask, e));
      inDims.push_back({isUnitDim(mask, 0) ? -1 : 0, 1, 2,
                        isUnitDim(mask, 2) ? -1 : 3,
                        isUnitDim(mask, 3) ? -1 : 4});
    }
  }

  Value states;
  int64_t blockQ = 0, blockKV = 0;
  Value layoutNum = op.getKvNumBlocks();
  if (layoutNum) {
    blockQ = (*op.getBlockSizes())[0];
    blockKV = (*op.getBlockSizes())[1];
    Value keyLen = getValueOrCreateConstantIndexOp(b, loc, e.keyLen);
    Value numKeyTiles = arith::CeilDivUIOp::create(
        b, loc, keyLen, arith::ConstantIndexOp::create(b, loc, blockKV));
    states = buildTileStates(b, loc, layoutNum, op.getKvIndices(),
                             op.getFullKvNumBlocks(), op.getFullKvIndices(),
                             numKeyTiles);
  }
  Value groups = getValueOrCreateConstantIndexOp(b, loc, e.groups);

  Value init = tensor::EmptyOp::create(b, loc, getDims(b, loc, dots), f32);
  return buildGeneric(
      b, loc, inputs, inDims, init, {0, 1, 2, 3, 4},
      SmallVector<IteratorType>(5, kPar),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value i = linalg::IndexOp::create(nb, nl, 3);
        Value j = linalg::IndexOp::create(nb, nl, 4);
        Value maskElem = mask ? args[1] : Value();
        Value state;
        if (states) {
          Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
          Value bIdx = isUnitDim(layoutNum, 0)
                           ? zero
                           : linalg::IndexOp::create(nb, nl, 0).getResult();
          Value hIdx = zero;
          if (!isUnitDim(layoutNum, 1)) {
            Value hk = linalg::IndexOp::create(nb, nl, 1);
            Value g = linalg::IndexOp::create(nb, nl, 2);
            hIdx = arith::AddIOp::create(
                nb, nl, arith::MulIOp::create(nb, nl, hk, groups), g);
          }
          Value qt = arith::DivUIOp::create(
              nb, nl, i, arith::ConstantIndexOp::create(nb, nl, blockQ));
          Value kt = arith::DivUIOp::create(
              nb, nl, j, arith::ConstantIndexOp::create(nb, nl, blockKV));
          state = tensor::ExtractOp::create(nb, nl, states,
                                            ValueRange{bIdx, hIdx, qt, kt});
        }
        return transform.emit(nb, nl, args[0], i, j, band, maskElem, state,
                              /*applyElementMask=*/true, /*inBounds=*/nullptr);
      });
}

/// Raw dot products Q Kᵀ, [B, Hkv, G, Lq, Lk] in f32; `q5` is the split
/// query.
Value buildDots(OpBuilder &b, Location loc, Value q5, Value k,
                const Extents &e) {
  Type f32 = b.getF32Type();
  Value zero = floatConstant(b, loc, f32, 0.0);
  SmallVector<OpFoldResult> shape = {e.batch, e.kvHeads, e.groups, e.queryLen,
                                     e.keyLen};
  Value init = buildFilled(b, loc, shape, f32, zero);
  // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 j, 5 d.
  return buildGeneric(
      b, loc, {q5, k}, {{0, 1, 2, 3, 5}, {0, 1, 4, 5}}, init, {0, 1, 2, 3, 4},
      {kPar, kPar, kPar, kPar, kPar, kRed},
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value prod = arith::MulFOp::create(nb, nl, castFloat(nb, nl, args[0], f32),
                                           castFloat(nb, nl, args[1], f32));
        return arith::AddFOp::create(nb, nl, args[2], prod).getResult();
      });
}

/// Reduces the last axis of a rank-5 f32 tensor with `combine`, from `start`.
Value reduceLastAxis(OpBuilder &b, Location loc, Value t, double start,
                     function_ref<Value(OpBuilder &, Location, Value, Value)>
                         combine) {
  Type f32 = b.getF32Type();
  SmallVector<OpFoldResult> shape = getDims(b, loc, t);
  shape.pop_back();
  Value init = buildFilled(b, loc, shape, f32, floatConstant(b, loc, f32, start));
  return buildGeneric(b, loc, {t}, {{0, 1, 2, 3, 4}}, init, {0, 1, 2, 3},
                      {kPar, kPar, kPar, kPar, kRed},
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return combine(nb, nl, args[0], args[1]);
                      });
}


Value addF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}

/// A rank-`rank` tensor.empty like `like` but with element type `elt`.
Value emptyLike(OpBuilder &b, Location loc, Value like, Type elt) {
  return tensor::EmptyOp::create(b, loc, getDims(b, loc, like), elt);
}

struct DecomposeAttentionOp : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Type elt = op.getOutput().getType().getElementType();
    Extents e = getExtents(rewriter, loc, op.getQuery(), op.getKey(),
                           op.getValue());
    Value q5 = splitHeads(rewriter, loc, op.getQuery(), e);
    Value dots = buildDots(rewriter, loc, q5, op.getKey(), e);
    Value scores = buildMaskedScores(rewriter, loc, op, dots, e);

    Value rowMax = reduceLastAxis(
        rewriter, loc, scores, -std::numeric_limits<double>::infinity(),
        [](OpBuilder &b, Location l, Value x, Value acc) -> Value {
          return arith::MaximumFOp::create(b, l, x, acc);
        });
    // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 j.
    Value exps = buildGeneric(
        rewriter, loc, {scores, rowMax}, {{0, 1, 2, 3, 4}, {0, 1, 2, 3}},
        emptyLike(rewriter, loc, scores, f32), {0, 1, 2, 3, 4},
        SmallVector<IteratorType>(5, kPar),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value shifted =
              arith::SubFOp::create(b, l, args[0], zeroIfNegInf(b, l, args[1]));
          return math::ExpOp::create(b, l, shifted);
        });
    Value rowSum = reduceLastAxis(rewriter, loc, exps, 0.0, addF);

    // Unnormalized output: sum_j exp(s_ij - m_i) v_j, then divided by the
    // row sum (rows that see no key have a zero sum and give 0).
    // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 e, 5 j.
    SmallVector<OpFoldResult> outShape = {e.batch, e.kvHeads, e.groups,
                                          e.queryLen, e.valueDim};
    Value accInit = buildFilled(rewriter, loc, outShape, f32,
                                floatConstant(rewriter, loc, f32, 0.0));
    Value acc = buildGeneric(
        rewriter, loc, {exps, op.getValue()}, {{0, 1, 2, 3, 5}, {0, 1, 5, 4}},
        accInit, {0, 1, 2, 3, 4}, {kPar, kPar, kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value prod = arith::MulFOp::create(b, l, args[0],
                                             castFloat(b, l, args[1], f32));
          return arith::AddFOp::create(b, l, args[2], prod);
        });
    Value out5 = buildGeneric(
        rewriter, loc, {acc, rowSum}, {{0, 1, 2, 3, 4}, {0, 1, 2, 3}},
        emptyLike(rewriter, loc, acc, elt), {0, 1, 2, 3, 4},
        SmallVector<IteratorType>(5, kPar),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value zero = floatConstant(b, l, f32, 0.0);
          Value isEmpty = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                                args[1], zero);
          Value div = arith::DivFOp::create(b, l, args[0], args[1]);
          Value r = arith::SelectOp::create(b, l, isEmpty, zero, div);
          return castFloat(b, l, r, args[2].getType());
        });
    SmallVector<Value> results = {mergeHeads(rewriter, loc, out5)};

    if (op.getLse()) {
      Value lse4 = buildGeneric(
          rewriter, loc, {rowMax, rowSum}, {{0, 1, 2, 3}, {0, 1, 2, 3}},
          emptyLike(rewriter, loc, rowMax, f32), {0, 1, 2, 3},
          SmallVector<IteratorType>(4, kPar),
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            // log(0) = -inf for rows that see no key.
            return arith::AddFOp::create(b, l, zeroIfNegInf(b, l, args[0]),
                                         math::LogOp::create(b, l, args[1]));
          });
      results.push_back(mergeHeads(rewriter, loc, lse4));
    }
    replaceOpWithCasts(rewriter, op, results);
    return success();
  }
};

struct DecomposeAttentionGradOp : OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    Extents e = getExtents(rewriter, loc, q, k, v);
    ScoreTransform transform = ScoreTransform::get(op);

    Value q5 = splitHeads(rewriter, loc, q, e);
    Value o5 = splitHeads(rewriter, loc, op.getOutput(), e);
    Value dO5 = splitHeads(rewriter, loc, op.getGradOutput(), e);
    Value lse5 = splitHeads(rewriter, loc, op.getLse(), e);
    Value dots = buildDots(rewriter, loc, q5, k, e);
    Value scores = buildMaskedScores(rewriter, loc, op, dots, e);
    SmallVector<IteratorType> par5(5, kPar);
    SmallVector<int64_t> all5 = {0, 1, 2, 3, 4}, rows = {0, 1, 2, 3};

    // P = exp(s - lse), 0 for rows that see no key.
    Value probs = buildGeneric(
        rewriter, loc, {scores, lse5}, {all5, rows},
        emptyLike(rewriter, loc, scores, f32), all5, par5,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value shifted =
              arith::SubFOp::create(b, l, args[0], zeroIfNegInf(b, l, args[1]));
          return math::ExpOp::create(b, l, shifted);
        });

    // D = rowsum(dO ∘ O).
    Value zero = floatConstant(rewriter, loc, f32, 0.0);
    SmallVector<OpFoldResult> rowShape = {e.batch, e.kvHeads, e.groups,
                                          e.queryLen};
    Value rowInit = buildFilled(rewriter, loc, rowShape, f32, zero);
    Value dRow = buildGeneric(
        rewriter, loc, {dO5, o5}, {all5, all5}, rowInit, rows,
        {kPar, kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value prod = arith::MulFOp::create(b, l, castFloat(b, l, args[0], f32),
                                             castFloat(b, l, args[1], f32));
          return arith::AddFOp::create(b, l, args[2], prod);
        });

    auto mulAdd = [&](OpBuilder &b, Location l, ValueRange args) -> Value {
      Value prod = arith::MulFOp::create(b, l, castFloat(b, l, args[0], f32),
                                         castFloat(b, l, args[1], f32));
      return arith::AddFOp::create(b, l, args[2], prod);
    };
    auto zeros = [&](ArrayRef<OpFoldResult> shape) {
      return buildFilled(rewriter, loc, shape, f32, zero);
    };

    // dV[b,hk,j,e] = sum_{g,i} P[b,hk,g,i,j] dO[b,hk,g,i,e].
    // Loop dims: 0 b, 1 hk, 2 j, 3 e, 4 g, 5 i.
    Value dV = buildGeneric(
        rewriter, loc, {probs, dO5}, {{0, 1, 4, 5, 2}, {0, 1, 4, 5, 3}},
        zeros({e.batch, e.kvHeads, e.keyLen, e.valueDim}), {0, 1, 2, 3},
        {kPar, kPar, kPar, kPar, kRed, kRed}, mulAdd);

    // dP[b,hk,g,i,j] = sum_e dO[b,hk,g,i,e] V[b,hk,j,e].
    // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 j, 5 e.
    Value dP = buildGeneric(
        rewriter, loc, {dO5, v}, {{0, 1, 2, 3, 5}, {0, 1, 4, 5}},
        zeros({e.batch, e.kvHeads, e.groups, e.queryLen, e.keyLen}), all5,
        {kPar, kPar, kPar, kPar, kPar, kRed}, mulAdd);

    // dS = P ∘ (dP − D) · scale, times the softcap's derivative
    // 1 − (s_c / cap)² with s_c the capped (unmasked) score.
    SmallVector<Value> dsInputs = {probs, dP, dRow};
    SmallVector<SmallVector<int64_t>> dsDims = {all5, all5, rows};
    if (transform.softcap) {
      Value capped = buildGeneric(
          rewriter, loc, {dots}, {all5}, emptyLike(rewriter, loc, dots, f32),
          all5, par5, [&](OpBuilder &b, Location l, ValueRange args) {
            return transform.emitScaled(b, l, args[0]);
          });
      dsInputs.push_back(capped);
      dsDims.push_back(all5);
    }
    Value dS = buildGeneric(
        rewriter, loc, dsInputs, dsDims, emptyLike(rewriter, loc, dP, f32),
        all5, par5, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value diff = arith::SubFOp::create(b, l, args[1], args[2]);
          Value ds = arith::MulFOp::create(b, l, args[0], diff);
          ds = arith::MulFOp::create(
              b, l, ds, floatConstant(b, l, f32, transform.scale));
          if (!transform.softcap)
            return ds;
          Value ratio = arith::MulFOp::create(
              b, l, args[3], floatConstant(b, l, f32, 1.0 / *transform.softcap));
          Value sq = arith::MulFOp::create(b, l, ratio, ratio);
          Value deriv =
              arith::SubFOp::create(b, l, floatConstant(b, l, f32, 1.0), sq);
          return arith::MulFOp::create(b, l, ds, deriv);
        });

    // dQ[b,hk,g,i,d] = sum_j dS[b,hk,g,i,j] K[b,hk,j,d].
    // Loop dims: 0 b, 1 hk, 2 g, 3 i, 4 d, 5 j.
    Value dQ5 = buildGeneric(
        rewriter, loc, {dS, k}, {{0, 1, 2, 3, 5}, {0, 1, 5, 4}},
        zeros({e.batch, e.kvHeads, e.groups, e.queryLen, e.headDim}), all5,
        {kPar, kPar, kPar, kPar, kPar, kRed}, mulAdd);
    // dK[b,hk,j,d] = sum_{g,i} dS[b,hk,g,i,j] Q[b,hk,g,i,d].
    // Loop dims: 0 b, 1 hk, 2 j, 3 d, 4 g, 5 i.
    Value dK = buildGeneric(
        rewriter, loc, {dS, q5}, {{0, 1, 4, 5, 2}, {0, 1, 4, 5, 3}},
        zeros({e.batch, e.kvHeads, e.keyLen, e.headDim}), {0, 1, 2, 3},
        {kPar, kPar, kPar, kPar, kRed, kRed}, mulAdd);

    auto toElement = [&](Value t, Type like) {
      Type elt = cast<ShapedType>(like).getElementType();
      if (elt == f32)
        return t;
      SmallVector<int64_t> dims = llvm::to_vector(
          llvm::seq<int64_t>(0, cast<ShapedType>(t.getType()).getRank()));
      return buildGeneric(
          rewriter, loc, {t}, {dims}, emptyLike(rewriter, loc, t, elt), dims,
          SmallVector<IteratorType>(dims.size(), kPar),
          [&](OpBuilder &b, Location l, ValueRange args) {
            return castFloat(b, l, args[0], elt);
          });
    };
    Value dQ = mergeHeads(rewriter, loc, toElement(dQ5, q.getType()));
    replaceOpWithCasts(rewriter, op,
                       {dQ, toElement(dK, k.getType()),
                        toElement(dV, v.getType())});
    return success();
  }
};

struct DecomposeBlockSparseLayoutOp : OpRewritePattern<BlockSparseLayoutOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BlockSparseLayoutOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value mask = op.getTileMask();
    Type i32 = rewriter.getI32Type();
    Value zero32 = arith::ConstantIntOp::create(rewriter, loc, i32, 0);
    SmallVector<OpFoldResult> tileDims = getDims(rewriter, loc, mask);
    Value counts0 = buildFilled(rewriter, loc,
                                ArrayRef<OpFoldResult>(tileDims).drop_back(),
                                i32, zero32);
    Value indices0 = buildFilled(rewriter, loc, tileDims, i32, zero32);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    SmallVector<Value> ubs;
    for (unsigned d = 0; d < 4; ++d)
      ubs.push_back(tensor::DimOp::create(rewriter, loc, mask, d));
    // Walk the tiles in order; each live one is appended to its row's list.
    scf::LoopNest nest = scf::buildLoopNest(
        rewriter, loc, {zero, zero, zero, zero}, ubs, {one, one, one, one},
        {counts0, indices0},
        [&](OpBuilder &b, Location l, ValueRange ivs,
            ValueRange args) -> scf::ValueVector {
          Value live = tensor::ExtractOp::create(b, l, mask, ivs);
          auto ifOp = scf::IfOp::create(
              b, l, live,
              [&](OpBuilder &tb, Location tl) {
                ValueRange row = ivs.take_front(3);
                Value count = tensor::ExtractOp::create(tb, tl, args[0], row);
                SmallVector<Value> at(row);
                at.push_back(arith::IndexCastOp::create(
                    tb, tl, tb.getIndexType(), count));
                Value tile = arith::IndexCastOp::create(tb, tl, i32, ivs[3]);
                Value indices =
                    tensor::InsertOp::create(tb, tl, tile, args[1], at);
                Value next = arith::AddIOp::create(
                    tb, tl, count, arith::ConstantIntOp::create(tb, tl, i32, 1));
                Value counts =
                    tensor::InsertOp::create(tb, tl, next, args[0], row);
                scf::YieldOp::create(tb, tl, ValueRange{counts, indices});
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, args);
              });
          return scf::ValueVector(ifOp.getResults().begin(),
                                  ifOp.getResults().end());
        });
    replaceOpWithCasts(rewriter, op, nest.results);
    return success();
  }
};

struct FlashDecomposeAttentionPass
    : flash::impl::FlashDecomposeAttentionBase<FlashDecomposeAttentionPass> {
  void runOnOperation() override {
    remarkUnraisedAttention(getOperation(), getArgument());
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeAttentionOp, DecomposeAttentionGradOp,
                 DecomposeBlockSparseLayoutOp>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
