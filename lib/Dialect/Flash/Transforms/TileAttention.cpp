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
  Value batch, head, kvHead, offset;
  TileSpan rows;
  Value queryTile; // [bq, D]
  OpFoldResult keyLen;
  int64_t blockKV;
};

/// One step of the online softmax: folds key/value tile `keyTile` into the
/// state. `applyElementMask` is false for tiles known to be fully visible.
SoftmaxState foldKeyTile(OpBuilder &b, Location loc,
                         const QueryTileContext &ctx, Value keyTile,
                         bool applyElementMask, const SoftmaxState &state) {
  TileSpan cols = getTileSpan(b, loc, keyTile, ctx.keyLen, ctx.blockKV);
  Value kTile = loadTile(b, loc, ctx.key, ctx.batch, ctx.kvHead, cols);
  Value vTile =
      loadTile(b, loc, ctx.value, ctx.batch, ctx.kvHead, cols);
  Value dots = tileMatmul(b, loc, ctx.queryTile, kTile, /*acc=*/nullptr,
                          /*transposeA=*/false, /*transposeB=*/true);

  Value scores = buildTileScores(b, loc, ctx.transform, dots, ctx.mask,
                                 ctx.batch, ctx.head, ctx.rows, cols,
                                 ctx.offset, /*tileState=*/nullptr,
                                 applyElementMask);

  Value newMax = tileReduceRows(
      b, loc, scores, state.rowMax,
      [](OpBuilder &nb, Location nl, Value x, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, nl, x, acc);
      });
  Value probs = tileMap(
      b, loc, {scores, newMax}, {false, true},
      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        return math::Exp2Op::create(
            nb, nl, arith::SubFOp::create(nb, nl, a[0], zeroIfNegInf(nb, nl, a[1])));
      });
  Value alpha = tileMap(
      b, loc, {state.rowMax, newMax}, {},
      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        return math::Exp2Op::create(
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

/// Folds the key tiles listed in one CSR row of a block-sparse layout.
SoftmaxState foldListedTiles(OpBuilder &b, Location loc,
                             const QueryTileContext &ctx, Value numBlocks,
                             Value indices, Value queryTileIdx,
                             Value numKeyTiles, bool applyElementMask,
                             const SoftmaxState &state) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto layoutType = cast<ShapedType>(numBlocks.getType());
  Value bl = layoutType.getDimSize(0) == 1 ? zero : ctx.batch;
  Value hl = layoutType.getDimSize(1) == 1 ? zero : ctx.head;
  Type indexType = b.getIndexType();
  Value count = arith::IndexCastOp::create(
      b, loc, indexType,
      tensor::ExtractOp::create(b, loc, numBlocks,
                                ValueRange{bl, hl, queryTileIdx}));
  Value bound = arith::MinSIOp::create(
      b, loc, count, tensor::DimOp::create(b, loc, indices, 3));
  auto loop = scf::ForOp::create(
      b, loc, zero, bound, one, state.values(),
      [&](OpBuilder &lb, Location ll, Value n, ValueRange args) {
        Value idx = arith::IndexCastOp::create(
            lb, ll, indexType,
            tensor::ExtractOp::create(lb, ll, indices,
                                      ValueRange{bl, hl, queryTileIdx, n}));
        Value inRange = arith::AndIOp::create(
            lb, ll,
            arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::sge, idx, zero),
            arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::slt, idx,
                                  numKeyTiles));
        auto ifOp = scf::IfOp::create(
            lb, ll, inRange,
            [&](OpBuilder &tb, Location tl) {
              scf::YieldOp::create(tb, tl,
                                   foldKeyTile(tb, tl, ctx, idx,
                                               applyElementMask,
                                               SoftmaxState::from(args))
                                       .values());
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el, args);
            });
        scf::YieldOp::create(lb, ll, ifOp.getResults());
      });
  return SoftmaxState::from(loop.getResults());
}

struct TileAttentionOp : OpRewritePattern<AttentionOp> {
  TileAttentionOp(MLIRContext *ctx, int64_t blockQ, int64_t blockKV)
      : OpRewritePattern(ctx), blockQ(blockQ), blockKV(blockKV) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Type elt = op.getOutput().getType().getElementType();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    ScoreTransform transform = ScoreTransform::get(op);
    transform.outputScale = llvm::numbers::log2e;

    TiledExtents e = getTiledExtents(rewriter, loc, q, k, v,
                                     op.getBlockSizes(), blockQ, blockKV);
    SmallVector<OpFoldResult> &qDims = e.queryDims;
    OpFoldResult queryLen = e.queryLen, keyLen = e.keyLen,
                 valueDim = e.valueDims[3];
    Value groups = e.groups, offset = e.offset;
    Value numQueryTiles = e.numQueryTiles, numKeyTiles = e.numKeyTiles;
    int64_t blockQ = e.blockQ, blockKV = e.blockKV;

    SmallVector<OpFoldResult> outDims(qDims.begin(), qDims.begin() + 3);
    SmallVector<Value> inits;
    if (op.getLse())
      inits.push_back(tensor::EmptyOp::create(rewriter, loc, outDims, f32));
    outDims.push_back(valueDim);
    inits.insert(inits.begin(),
                 tensor::EmptyOp::create(rewriter, loc, outDims, elt));

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
          ctx.offset = offset;
          ctx.rows = getTileSpan(b, l, ivs[2], queryLen, blockQ);
          ctx.queryTile = loadTile(b, l, q, ctx.batch, ctx.head, ctx.rows);
          ctx.keyLen = keyLen;
          ctx.blockKV = blockKV;

          SoftmaxState state;
          state.rowMax = buildFilled(b, l, {b.getIndexAttr(blockQ)}, f32,
                                     floatConstant(b, l, f32, kNegInf));
          state.rowSum = buildFilled(b, l, {b.getIndexAttr(blockQ)}, f32,
                                     floatConstant(b, l, f32, 0.0));
          state.acc = buildFilled(b, l, {b.getIndexAttr(blockQ), valueDim},
                                  f32, floatConstant(b, l, f32, 0.0));
          bool hasMaskOperand = static_cast<bool>(op.getMask());
          if (Value numBlocks = op.getKvNumBlocks()) {
            // Block-sparse: visit the live tiles only.
            state = foldListedTiles(
                b, l, ctx, numBlocks, op.getKvIndices(), ivs[2], numKeyTiles,
                transform.hasElementMask(hasMaskOperand), state);
            if (Value fullNum = op.getFullKvNumBlocks())
              state = foldListedTiles(b, l, ctx, fullNum, op.getFullKvIndices(),
                                      ivs[2], numKeyTiles,
                                      /*applyElementMask=*/false, state);
          } else {
            // Dense: visit the tiles of the visible band; mask only where
            // the band's edge crosses a tile.
            auto [begin, end] = getKeyTileBand(b, l, transform, ctx.rows,
                                               numKeyTiles, blockKV, offset);
            auto loop = scf::ForOp::create(
                b, l, begin, end, one, state.values(),
                [&](OpBuilder &lb, Location ll, Value kt, ValueRange args) {
                  SoftmaxState s = SoftmaxState::from(args);
                  if (transform.kind == MaskKind::None || hasMaskOperand) {
                    s = foldKeyTile(lb, ll, ctx, kt,
                                    transform.hasElementMask(hasMaskOperand), s);
                  } else {
                    TileSpan cols = getTileSpan(lb, ll, kt, keyLen, blockKV);
                    Value full = isTileFullyVisible(lb, ll, transform, ctx.rows,
                                                    cols, offset);
                    s = foldKeyTileMaybeMasked(lb, ll, ctx, kt, full, s);
                  }
                  scf::YieldOp::create(lb, ll, s.values());
                });
            state = SoftmaxState::from(loop.getResults());
          }

          // Epilogue: O = acc / l (0 for rows that saw no key) and
          // lse = (m + log2 l) · ln 2.
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
            Value lseTile = tileMap(
                b, l, {state.rowMax, state.rowSum}, {},
                [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
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

  int64_t blockQ, blockKV;
};

struct FlashTileAttentionPass
    : flash::impl::FlashTileAttentionBase<FlashTileAttentionPass> {
  using FlashTileAttentionBase::FlashTileAttentionBase;

  void runOnOperation() override {
    if (blockQ <= 0 || blockKV <= 0) {
      getOperation()->emitError()
          << "flash-tile-attention: block-q and block-kv must be positive, got "
          << blockQ << " and " << blockKV;
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttentionOp>(&getContext(), blockQ, blockKV);
    populateTileAttentionGradPatterns(patterns, blockQ, blockKV);
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
