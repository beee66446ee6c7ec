//===- TileAttention.cpp - The IO-aware tiled form of flash ops -----------===//
//
// Rewrites flash.attention into the online-softmax loop nest of the
// FlashAttention paper: for each (batch, head, query tile), stream the key
// and value tiles, keeping a running row maximum m, row sum l and f32
// accumulator; rescale them as each tile arrives; normalize once at the end.
// Scores live in base-2 units (scale · log2(e) folded into the scale) so the
// exponentials are exp2. No value of size Lq × Lk is ever formed.
//
// flash.attention_grad is tiled by populateTileAttentionGradPatterns
// (TileAttentionGrad.cpp).
//
//===----------------------------------------------------------------------===//

#include "TileUtils.h"
#include "UnraisedAttention.h"

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "flash/Dialect/Flash/Transforms/AttentionMath.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace mlir::flash {
#define GEN_PASS_DEF_FLASHTILEATTENTION
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;
using namespace mlir::flash;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();


/// Scores are in base-2 units (outputScale log2(e)) unless a finite
/// masked_score is set: that fill times log2(e) may not be representable in
/// f32 (e.g. finfo(f32).min), so such ops stay in natural units.
bool usesBase2(const ScoreTransform &transform) {
  return transform.outputScale != 1.0;
}

/// exp2(x) in base-2 units, exp(x) in natural units.
Value emitExponential(OpBuilder &b, Location loc,
                      const ScoreTransform &transform, Value x) {
  if (usesBase2(transform))
    return math::Exp2Op::create(b, loc, x);
  return math::ExpOp::create(b, loc, x);
}

/// The state carried across key tiles for one query tile.
struct SoftmaxState {
  Value rowMax; // [bq], base-2 units
  Value rowSum; // [bq]
  Value acc;    // [bq, Dv], f32, unnormalized
  SmallVector<Value> values() const { return {rowMax, rowSum, acc}; }
  static SoftmaxState from(ValueRange v) { return {v[0], v[1], v[2]}; }
};

/// Everything the per-tile step needs to know about one query tile.
struct QueryTileContext {
  Value key, value, mask;
  ScoreTransform transform;
  Value batch, head, kvHead;
  KeyBand band{MaskKind::None, nullptr};
  TileSpan rows;
  Value queryTile; // [bq, D]
  OpFoldResult keyLen;
  int64_t tileKV;
};

/// One step of the online softmax: folds key/value tile `keyTile` into the
/// state. `applyElementMask` is false for tiles known to be fully visible.
SoftmaxState foldKeyTile(OpBuilder &b, Location loc,
                         const QueryTileContext &ctx, Value keyTile,
                         bool applyElementMask, const SoftmaxState &state) {
  TileSpan cols = getTileSpan(b, loc, keyTile, ctx.keyLen, ctx.tileKV);
  Value kTile = loadTile(b, loc, ctx.key, ctx.batch, ctx.kvHead, cols);
  Value vTile =
      loadTile(b, loc, ctx.value, ctx.batch, ctx.kvHead, cols);
  Value dots = tileMatmul(b, loc, ctx.queryTile, kTile, /*acc=*/nullptr,
                          /*transposeA=*/false, /*transposeB=*/true);

  Value scores = buildTileScores(b, loc, ctx.transform, dots, ctx.mask,
                                 ctx.batch, ctx.head, ctx.rows, cols,
                                 ctx.band, /*tileState=*/nullptr,
                                 applyElementMask);

  auto exponential = [&](OpBuilder &nb, Location nl, Value x) -> Value {
    return emitExponential(nb, nl, ctx.transform, x);
  };
  Value newMax = tileReduceRows(
      b, loc, scores, state.rowMax,
      [](OpBuilder &nb, Location nl, Value x, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, nl, x, acc);
      });
  Value probs = tileMap(
      b, loc, {scores, newMax}, {false, true},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        return exponential(
            nb, nl, arith::SubFOp::create(nb, nl, a[0], zeroIfNegInf(nb, nl, a[1])));
      });
  Value alpha = tileMap(
      b, loc, {state.rowMax, newMax}, {},
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        return exponential(
            nb, nl, arith::SubFOp::create(nb, nl, a[0], zeroIfNegInf(nb, nl, a[1])));
      });
  auto scaleByAlpha = [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
    return arith::MulFOp::create(nb, nl, a[0], a[1]);
  };
  Value sumScaled = tileMap(b, loc, {state.rowSum, alpha}, {}, scaleByAlpha);
  Value newSum = tileReduceRows(
      b, loc, probs, sumScaled,
      [](OpBuilder &nb, Location nl, Value x, Value acc) -> Value {
        return arith::AddFOp::create(nb, nl, x, acc);
      });
  Value accScaled =
      tileMap(b, loc, {state.acc, alpha}, {false, true}, scaleByAlpha);
  Value newAcc = tileMatmul(b, loc, probs, vTile, accScaled,
                            /*transposeA=*/false, /*transposeB=*/false);
  return {newMax, newSum, newAcc};
}

/// Folds either the masked or the unmasked step, chosen at run time.
SoftmaxState foldKeyTileMaybeMasked(OpBuilder &b, Location loc,
                                    const QueryTileContext &ctx, Value keyTile,
                                    Value fullyVisible,
                                    const SoftmaxState &state) {
  auto ifOp = scf::IfOp::create(
      b, loc, fullyVisible,
      [&](OpBuilder &tb, Location tl) {
        scf::YieldOp::create(
            tb, tl, foldKeyTile(tb, tl, ctx, keyTile, false, state).values());
      },
      [&](OpBuilder &eb, Location el) {
        scf::YieldOp::create(
            eb, el, foldKeyTile(eb, el, ctx, keyTile, true, state).values());
      });
  return SoftmaxState::from(ifOp.getResults());
}

/// Folds the live key tiles of one query tile of a block-sparse layout, in
/// increasing order: partial tiles with the element masks, full ones
/// without. `tileStates` is the dense state built from the CSR lists
/// (buildTileStates), so that a repeated index or a tile in both lists
/// counts once, as the dialect says; dead tiles cost a lookup only.
SoftmaxState foldLiveTiles(OpBuilder &b, Location loc,
                           const QueryTileContext &ctx, Value tileStates,
                           Value queryTileIdx, Value numKeyTiles,
                           bool applyElementMask, const SoftmaxState &state) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto statesType = cast<ShapedType>(tileStates.getType());
  Value bl = statesType.getDimSize(0) == 1 ? zero : ctx.batch;
  Value hl = statesType.getDimSize(1) == 1 ? zero : ctx.head;
  Type i8 = b.getI8Type();
  auto isState = [&](OpBuilder &nb, Location nl, Value tileState,
                     TileState expected) -> Value {
    return arith::CmpIOp::create(
        nb, nl, arith::CmpIPredicate::eq, tileState,
        arith::ConstantIntOp::create(nb, nl, i8,
                                     static_cast<int64_t>(expected)));
  };
  auto loop = scf::ForOp::create(
      b, loc, zero, numKeyTiles, one, state.values(),
      [&](OpBuilder &lb, Location ll, Value kt, ValueRange args) {
        Value tileState = tensor::ExtractOp::create(
            lb, ll, tileStates, ValueRange{bl, hl, queryTileIdx, kt});
        auto live = scf::IfOp::create(
            lb, ll, isState(lb, ll, tileState, TileState::Dead),
            [&](OpBuilder &tb, Location tl) {
              scf::YieldOp::create(tb, tl, args);
            },
            [&](OpBuilder &eb, Location el) {
              Value full = isState(eb, el, tileState, TileState::Full);
              SoftmaxState s = SoftmaxState::from(args);
              if (applyElementMask)
                s = foldKeyTileMaybeMasked(eb, el, ctx, kt, full, s);
              else
                s = foldKeyTile(eb, el, ctx, kt, false, s);
              scf::YieldOp::create(eb, el, s.values());
            });
        scf::YieldOp::create(lb, ll, live.getResults());
      });
  return SoftmaxState::from(loop.getResults());
}

struct TileAttentionOp : OpRewritePattern<AttentionOp> {
  TileAttentionOp(MLIRContext *ctx, int64_t tileQ, int64_t tileKV)
      : OpRewritePattern(ctx), tileQ(tileQ), tileKV(tileKV) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Type elt = op.getOutput().getType().getElementType();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    ScoreTransform transform = ScoreTransform::get(op);
    if (!transform.maskedScore)
      transform.outputScale = llvm::numbers::log2e;

    TiledExtents e = getTiledExtents(rewriter, loc, q, k, v,
                                     op.getBlockSizes(), tileQ, tileKV);
    SmallVector<OpFoldResult> &qDims = e.queryDims;
    OpFoldResult queryLen = e.queryLen, keyLen = e.keyLen,
                 valueDim = e.valueDims[3];
    Value groups = e.groups;
    Value numQueryTiles = e.numQueryTiles, numKeyTiles = e.numKeyTiles;
    int64_t tileQ = e.tileQ, tileKV = e.tileKV;

    SmallVector<OpFoldResult> outDims(qDims.begin(), qDims.begin() + 3);
    SmallVector<Value> inits;
    if (op.getLse())
      inits.push_back(tensor::EmptyOp::create(rewriter, loc, outDims, f32));
    outDims.push_back(valueDim);
    inits.insert(inits.begin(),
                 tensor::EmptyOp::create(rewriter, loc, outDims, elt));

    KeyBand band = getKeyBand(rewriter, loc, transform, e);
    Value tileStates = buildTileStatesOf(rewriter, loc, op, numKeyTiles);

    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    scf::LoopNest nest = scf::buildLoopNest(
        rewriter, loc, {zero, zero, zero},
        {toIndex(rewriter, loc, qDims[0]), toIndex(rewriter, loc, qDims[1]),
         numQueryTiles},
        {one, one, one}, inits,
        [&](OpBuilder &b, Location l, ValueRange ivs,
            ValueRange results) -> scf::ValueVector {
          QueryTileContext ctx;
          ctx.key = k;
          ctx.value = v;
          ctx.mask = op.getMask();
          ctx.transform = transform;
          ctx.batch = ivs[0];
          ctx.head = ivs[1];
          ctx.kvHead = arith::DivUIOp::create(b, l, ivs[1], groups);
          ctx.band = band;
          ctx.rows = getTileSpan(b, l, ivs[2], queryLen, tileQ);
          ctx.queryTile = loadTile(b, l, q, ctx.batch, ctx.head, ctx.rows);
          ctx.keyLen = keyLen;
          ctx.tileKV = tileKV;

          SoftmaxState state;
          state.rowMax = buildFilled(b, l, {b.getIndexAttr(tileQ)}, f32,
                                     floatConstant(b, l, f32, kNegInf));
          state.rowSum = buildFilled(b, l, {b.getIndexAttr(tileQ)}, f32,
                                     floatConstant(b, l, f32, 0.0));
          state.acc = buildFilled(b, l, {b.getIndexAttr(tileQ), valueDim},
                                  f32, floatConstant(b, l, f32, 0.0));
          bool hasMaskOperand = static_cast<bool>(op.getMask());
          if (tileStates) {
            // Block-sparse: compute the live tiles only.
            state = foldLiveTiles(b, l, ctx, tileStates, ivs[2], numKeyTiles,
                                  transform.hasElementMask(hasMaskOperand),
                                  state);
          } else {
            // Dense: visit the tiles of the visible band; mask only where
            // the band's edge crosses a tile. Keys that score a finite
            // masked_score count everywhere: then every tile is visited.
            auto [begin, end] =
                transform.hiddenKeysCount()
                    ? std::pair<Value, Value>(zero, numKeyTiles)
                    : getKeyTileBand(b, l, band, ctx.rows, numKeyTiles,
                                     tileKV);
            auto loop = scf::ForOp::create(
                b, l, begin, end, one, state.values(),
                [&](OpBuilder &lb, Location ll, Value kt, ValueRange args) {
                  SoftmaxState s = SoftmaxState::from(args);
                  if (transform.kind == MaskKind::None || hasMaskOperand) {
                    s = foldKeyTile(lb, ll, ctx, kt,
                                    transform.hasElementMask(hasMaskOperand), s);
                  } else {
                    TileSpan cols = getTileSpan(lb, ll, kt, keyLen, tileKV);
                    Value full =
                        isTileFullyVisible(lb, ll, band, ctx.rows, cols);
                    s = foldKeyTileMaybeMasked(lb, ll, ctx, kt, full, s);
                  }
                  scf::YieldOp::create(lb, ll, s.values());
                });
            state = SoftmaxState::from(loop.getResults());
          }

          // Epilogue: O = acc / l (0 for rows that saw no key) and
          // lse = (m + log2 l) · ln 2 (m + log l in natural units).
          Value outInit = tensor::EmptyOp::create(
              b, l, getDims(b, l, state.acc), elt);
          Value outTile = buildGeneric(
              b, l, {state.acc, state.rowSum}, {{0, 1}, {0}}, outInit, {0, 1},
              {utils::IteratorType::parallel, utils::IteratorType::parallel},
              [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                Value zeroF = floatConstant(nb, nl, f32, 0.0);
                Value isEmpty = arith::CmpFOp::create(
                    nb, nl, arith::CmpFPredicate::OEQ, a[1], zeroF);
                Value div = arith::DivFOp::create(nb, nl, a[0], a[1]);
                Value r = arith::SelectOp::create(nb, nl, isEmpty, zeroF, div);
                return castFloat(nb, nl, r, elt);
              });
          scf::ValueVector next = {
              storeTile(b, l, outTile, results[0], ctx.batch, ctx.head,
                        ctx.rows)};
          if (results.size() > 1) {
            bool base2 = usesBase2(transform);
            Value lseTile = tileMap(
                b, l, {state.rowMax, state.rowSum}, {},
                [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                  if (!base2)
                    return arith::AddFOp::create(
                        nb, nl, zeroIfNegInf(nb, nl, a[0]),
                        math::LogOp::create(nb, nl, a[1]));
                  Value log2Sum = math::Log2Op::create(nb, nl, a[1]);
                  Value sum = arith::AddFOp::create(
                      nb, nl, zeroIfNegInf(nb, nl, a[0]), log2Sum);
                  return arith::MulFOp::create(
                      nb, nl, sum,
                      floatConstant(nb, nl, a[0].getType(), llvm::numbers::ln2));
                });
            next.push_back(storeTile(b, l, lseTile, results[1], ctx.batch,
                                     ctx.head, ctx.rows));
          }
          return next;
        });
    replaceOpWithCasts(rewriter, op, nest.results);
    return success();
  }

  int64_t tileQ, tileKV;
};

struct FlashTileAttentionPass
    : flash::impl::FlashTileAttentionBase<FlashTileAttentionPass> {
  using FlashTileAttentionBase::FlashTileAttentionBase;

  void runOnOperation() override {
    auto checkTileSize = [&](StringRef name, int64_t size) -> LogicalResult {
      if (isValidTileSize(size))
        return success();
      return getOperation()->emitError()
             << "flash-tile-attention: " << name << " must be in [1, "
             << kMaxTileSize << "], got " << size;
    };
    if (failed(checkTileSize("tile-q", tileQ)) ||
        failed(checkTileSize("tile-kv", tileKV)))
      return signalPassFailure();
    remarkUnraisedAttention(getOperation(), getArgument());
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttentionOp>(&getContext(), tileQ, tileKV);
    populateTileAttentionGradPatterns(patterns, tileQ, tileKV);
    // The rewrite creates no new flash ops: one walk suffices, and folding
    // is left to later canonicalization.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      signalPassFailure();
  }
};

} // namespace
