//===- TileAttentionGrad.cpp - The tiled, recomputing backward ------------===//
//
// Tiles flash.attention_grad the way FlashAttention-2's backward does: key
// tiles outermost, so that dK and dV accumulate in tile-sized f32 buffers;
// for each query tile (of every query head sharing the key/value head) the
// probabilities are recomputed from the saved log-sum-exp,
// P = exp(S - lse), never stored; dQ accumulates in an f32 [B, Hq, Lq, D]
// buffer. No Lq × Lk value is formed.
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "flash/Dialect/Flash/Transforms/AttentionMath.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"


using namespace mlir;
using namespace mlir::flash;
using utils::IteratorType;

namespace {

/// Casts every element of an f32 tensor to `elt`.
Value castTensor(OpBuilder &b, Location loc, Value t, Type elt) {
  auto type = cast<RankedTensorType>(t.getType());
  if (type.getElementType() == elt)
    return t;
  SmallVector<int64_t> dims =
      llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
  Value init = tensor::EmptyOp::create(b, loc, getDims(b, loc, t), elt);
  return buildGeneric(b, loc, {t}, {dims}, init, dims,
                      SmallVector<IteratorType>(type.getRank(),
                                                IteratorType::parallel),
                      [&](OpBuilder &nb, Location nl, ValueRange a) {
                        return castFloat(nb, nl, a[0], elt);
                      });
}

struct TileAttentionGradOp : OpRewritePattern<AttentionGradOp> {
  TileAttentionGradOp(MLIRContext *ctx, int64_t tileQ, int64_t tileKV)
      : OpRewritePattern(ctx), tileQ(tileQ), tileKV(tileKV) {}

  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    Value out = op.getOutput(), dOut = op.getGradOutput();
    ScoreTransform transform = ScoreTransform::get(op);
    bool hasMaskOperand = static_cast<bool>(op.getMask());
    bool applyElementMask = transform.hasElementMask(hasMaskOperand);

    TiledExtents e = getTiledExtents(rewriter, loc, q, k, v,
                                     op.getBlockSizes(), tileQ, tileKV);
    SmallVector<OpFoldResult> &qDims = e.queryDims, &kDims = e.keyDims,
                              &vDims = e.valueDims;
    OpFoldResult queryLen = e.queryLen, keyLen = e.keyLen;
    Value groups = e.groups;
    Value numQueryTiles = e.numQueryTiles, numKeyTiles = e.numKeyTiles;
    int64_t tileQ = e.tileQ, tileKV = e.tileKV;
    Value zeroF = floatConstant(rewriter, loc, f32, 0.0);

    // D = rowsum(dO ∘ O), [B, Hq, Lq]: linear in L, computed up front.
    SmallVector<OpFoldResult> rowShape(qDims.begin(), qDims.begin() + 3);
    Value dRow = buildGeneric(
        rewriter, loc, {dOut, out}, {{0, 1, 2, 3}, {0, 1, 2, 3}},
        buildFilled(rewriter, loc, rowShape, f32, zeroF), {0, 1, 2},
        {IteratorType::parallel, IteratorType::parallel,
         IteratorType::parallel, IteratorType::reduction},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value prod = arith::MulFOp::create(b, l, castFloat(b, l, a[0], f32),
                                             castFloat(b, l, a[1], f32));
          return arith::AddFOp::create(b, l, a[2], prod);
        });

    KeyBand band = getKeyBand(rewriter, loc, transform, e);
    Value tileStates = buildTileStatesOf(rewriter, loc, op, numKeyTiles);

    Value dQInit = buildFilled(rewriter, loc, qDims, f32, zeroF);
    Value dKInit = tensor::EmptyOp::create(
        rewriter, loc, kDims, cast<ShapedType>(k.getType()).getElementType());
    Value dVInit = tensor::EmptyOp::create(
        rewriter, loc, vDims, cast<ShapedType>(v.getType()).getElementType());

    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    scf::LoopNest outer = scf::buildLoopNest(
        rewriter, loc, {zero, zero, zero},
        {toIndex(rewriter, loc, kDims[0]), toIndex(rewriter, loc, kDims[1]),
         numKeyTiles},
        {one, one, one}, {dQInit, dKInit, dVInit},
        [&](OpBuilder &b, Location l, ValueRange ivs,
            ValueRange acc) -> scf::ValueVector {
          Value batch = ivs[0], kvHead = ivs[1], keyTile = ivs[2];
          TileSpan cols = getTileSpan(b, l, keyTile, keyLen, tileKV);
          Value kTile = loadTile(b, l, k, batch, kvHead, cols);
          Value vTile = loadTile(b, l, v, batch, kvHead, cols);
          Value dKAcc = buildFilled(
              b, l, {b.getIndexAttr(tileKV), kDims[3]}, f32, zeroF);
          Value dVAcc = buildFilled(
              b, l, {b.getIndexAttr(tileKV), vDims[3]}, f32, zeroF);

          scf::LoopNest inner = scf::buildLoopNest(
              b, l, {zero, zero}, {groups, numQueryTiles}, {one, one},
              {acc[0], dKAcc, dVAcc},
              [&](OpBuilder &ib, Location il, ValueRange jvs,
                  ValueRange args) -> scf::ValueVector {
                Value head = arith::AddIOp::create(
                    ib, il, arith::MulIOp::create(ib, il, kvHead, groups),
                    jvs[0]);
                TileSpan rows = getTileSpan(ib, il, jvs[1], queryLen, tileQ);
                // Skip tiles that no visible key reaches.
                Value state, live;
                if (tileStates) {
                  auto statesType = cast<ShapedType>(tileStates.getType());
                  Value bl = statesType.getDimSize(0) == 1 ? zero : batch;
                  Value hl = statesType.getDimSize(1) == 1 ? zero : head;
                  state = tensor::ExtractOp::create(
                      ib, il, tileStates, ValueRange{bl, hl, jvs[1], keyTile});
                  live = arith::CmpIOp::create(
                      ib, il, arith::CmpIPredicate::ne, state,
                      arith::ConstantIntOp::create(ib, il, ib.getI8Type(), 0));
                } else {
                  auto [begin, end] = getKeyTileBand(ib, il, band, rows,
                                                     numKeyTiles, tileKV);
                  live = arith::AndIOp::create(
                      ib, il,
                      arith::CmpIOp::create(ib, il, arith::CmpIPredicate::sge,
                                            keyTile, begin),
                      arith::CmpIOp::create(ib, il, arith::CmpIPredicate::slt,
                                            keyTile, end));
                }
                auto ifOp = scf::IfOp::create(
                    ib, il, live,
                    [&](OpBuilder &tb, Location tl) {
                      scf::YieldOp::create(
                          tb, tl,
                          foldQueryTile(tb, tl, op, transform, batch, head,
                                        rows, cols, kTile, vTile, state,
                                        applyElementMask, band, dRow,
                                        args));
                    },
                    [&](OpBuilder &eb, Location el) {
                      scf::YieldOp::create(eb, el, args);
                    });
                return scf::ValueVector(ifOp.getResults().begin(),
                                        ifOp.getResults().end());
              });
          Value dQ = inner.results[0];
          Value dK = storeTile(
              b, l,
              castTensor(b, l, inner.results[1],
                         cast<ShapedType>(k.getType()).getElementType()),
              acc[1], batch, kvHead, cols);
          Value dV = storeTile(
              b, l,
              castTensor(b, l, inner.results[2],
                         cast<ShapedType>(v.getType()).getElementType()),
              acc[2], batch, kvHead, cols);
          return {dQ, dK, dV};
        });

    Value dQ = castTensor(rewriter, loc, outer.results[0],
                          cast<ShapedType>(q.getType()).getElementType());
    replaceOpWithCasts(rewriter, op,
                       {dQ, outer.results[1], outer.results[2]});
    return success();
  }

  /// The contribution of one (query tile, key tile) pair: returns the new
  /// (dQ buffer, dK tile accumulator, dV tile accumulator).
  static SmallVector<Value>
  foldQueryTile(OpBuilder &b, Location loc, AttentionGradOp op,
                const ScoreTransform &transform, Value batch, Value head,
                const TileSpan &rows, const TileSpan &cols, Value kTile,
                Value vTile, Value tileState, bool applyElementMask,
                const KeyBand &band, Value dRow,
                ValueRange acc) {
    Value qTile = loadTile(b, loc, op.getQuery(), batch, head, rows);
    Value dOTile = loadTile(b, loc, op.getGradOutput(), batch, head, rows);
    Value lseRows = loadRowVector(b, loc, op.getLse(), batch, head, rows);
    Value dRows = loadRowVector(b, loc, dRow, batch, head, rows);
    Value dots = tileMatmul(b, loc, qTile, kTile, nullptr, false, true);

    Value scores =
        buildTileScores(b, loc, transform, dots, op.getMask(), batch, head,
                        rows, cols, band, tileState, applyElementMask);
    // P = exp(s - lse); a row that sees no key has lse = -inf and s = -inf.
    Value probs = tileMap(
        b, loc, {scores, lseRows}, {false, true},
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value shifted =
              arith::SubFOp::create(nb, nl, a[0], zeroIfNegInf(nb, nl, a[1]));
          return math::ExpOp::create(nb, nl, shifted);
        });
    Value dVAcc = tileMatmul(b, loc, probs, dOTile, acc[2], /*transposeA=*/true,
                             /*transposeB=*/false);
    Value dP = tileMatmul(b, loc, dOTile, vTile, nullptr, false, true);

    SmallVector<Value> dsInputs = {probs, dP, dRows};
    SmallVector<bool> rowInputs = {false, false, true};
    if (transform.softcap) {
      dsInputs.push_back(tileMap(b, loc, {dots}, {},
                                 [&](OpBuilder &nb, Location nl, ValueRange a) {
                                   return transform.emitScaled(nb, nl, a[0]);
                                 }));
      rowInputs.push_back(false);
    }
    Value dS = tileMap(
        b, loc, dsInputs, rowInputs,
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Type t = a[0].getType();
          Value ds = arith::MulFOp::create(
              nb, nl, a[0], arith::SubFOp::create(nb, nl, a[1], a[2]));
          ds = arith::MulFOp::create(nb, nl, ds,
                                     floatConstant(nb, nl, t, transform.scale));
          if (!transform.softcap)
            return ds;
          Value ratio = arith::MulFOp::create(
              nb, nl, a[3], floatConstant(nb, nl, t, 1.0 / *transform.softcap));
          Value deriv = arith::SubFOp::create(
              nb, nl, floatConstant(nb, nl, t, 1.0),
              arith::MulFOp::create(nb, nl, ratio, ratio));
          return arith::MulFOp::create(nb, nl, ds, deriv);
        });

    Value dQTile = loadTile(b, loc, acc[0], batch, head, rows);
    dQTile = tileMatmul(b, loc, dS, kTile, dQTile, false, false);
    Value dQ = storeTile(b, loc, dQTile, acc[0], batch, head, rows);
    Value dKAcc = tileMatmul(b, loc, dS, qTile, acc[1], /*transposeA=*/true,
                             /*transposeB=*/false);
    return {dQ, dKAcc, dVAcc};
  }

  int64_t tileQ, tileKV;
};

} // namespace

void mlir::flash::populateTileAttentionGradPatterns(RewritePatternSet &patterns,
                                                    int64_t tileQ,
                                                    int64_t tileKV) {
  patterns.add<TileAttentionGradOp>(patterns.getContext(), tileQ, tileKV);
}
