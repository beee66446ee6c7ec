//===- OnlineSoftmax.cpp - One key tile of the online softmax -------------===//
//
// Folds one key tile into a warp's softmax state: the element mask, the
// running row maxima (rescaled lazily), the exponentials in registers and
// O += P V (ForwardKernel.cpp describes the schedule).
//
//===----------------------------------------------------------------------===//

#include "ForwardKernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

/// How far (base-2 exponent) a row's scores may exceed its running maximum
/// before the maximum, and with it the O accumulators, are rescaled.
constexpr double kRescaleHeadroom = 8.0;

} // namespace

/// Folds key tile `keyTile`, held in shared-memory stage `stage`, into the
/// warp's softmax state.
void ForwardKernelEmitter::computeTile(Value stage, Value keyTile, bool masked,
                                       WarpState &state, Value band,
                                       const Scores *scores) {
  int64_t keyTiles8 = plan.ctaKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Scores s = scores ? *scores : mma->collectScores(mma->issueScores(stage));

  // Mask the raw scores; the scale is folded into the exponent below.
  // Per row, the visible keys are [lo, hi] (hi already clamped to the key
  // length), so each element costs one or two compares.
  Value keyBase = mul(keyTile, plan.ctaKV);
  if (masked) {
    Value colBase = add(keyBase, mul(groupCol, 2));
    for (int64_t mt = 0; mt < slices; ++mt) {
      for (int64_t half = 0; half < 2; ++half) {
        auto [lo, hi] = visibleKeys(threadRow(2 * mt + half), band);
        for (int64_t n = 0; n < keyTiles8; ++n)
          for (int64_t e = 2 * half; e < 2 * half + 2; ++e) {
            Value col = add(colBase, idx(8 * n + (e & 1)));
            Value ok = cmpi(arith::CmpIPredicate::sle, col, hi);
            if (lo)
              ok = arith::AndIOp::create(
                  b, loc, ok, cmpi(arith::CmpIPredicate::sge, col, lo));
            s[mt][n][e] = select(ok, s[mt][n][e], negInf());
          }
      }
    }
  }

  // Online softmax, per row r = 2 · slice + (0 for g, 1 for g + 8). The
  // scale c = scale · log2(e) is positive (the launch checks it), so
  // max(c · s) = c · max(s) and p = 2^(c · s - m) is one fma and one ex2.
  //
  // The running maximum m only moves when the tile's maximum exceeds it by
  // more than kRescaleHeadroom: below that, p = 2^(c · s - m) stays under
  // 2^kRescaleHeadroom, which P in f16 or bf16 and the f32 sums hold with
  // unchanged relative precision, and the O accumulators need no
  // rescaling. The warp skips their
  // multiplications unless one of its rows moved.
  SmallVector<Value> alpha(2 * slices), safe(2 * slices);
  Value moved;
  for (int64_t mt = 0; mt < slices; ++mt) {
    for (int64_t half = 0; half < 2; ++half) {
      int64_t r = 2 * mt + half;
      Value raw = fmax(s[mt][0][2 * half], s[mt][0][2 * half + 1]);
      for (int64_t n = 1; n < keyTiles8; ++n)
        raw = fmax(raw, fmax(s[mt][n][2 * half], s[mt][n][2 * half + 1]));
      raw = fmax(raw, shuffleXor(raw, 1));
      raw = fmax(raw, shuffleXor(raw, 2));
      Value old = state.rowMax[r];
      Value candidate = fmax(old, fmul(raw, scaleLog2));
      Value grows =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, candidate,
                                fadd(old, f32c(kRescaleHeadroom)));
      Value m = select(grows, candidate, old);
      moved = moved ? arith::OrIOp::create(b, loc, moved, grows) : grows;
      safe[r] = safeMax(m);
      alpha[r] = exp2(fsub(old, safe[r]));
      state.rowMax[r] = m;
      state.rowSum[r] = fmul(state.rowSum[r], alpha[r]);
    }
  }
  Value allLanes = arith::ConstantIntOp::create(b, loc, i32, -1);
  int64_t accTilesPerSlice = mma->getAccTilesPerSlice();
  Value warpMoved = NVVM::VoteSyncOp::create(b, loc, b.getI1Type(), allLanes,
                                             moved, NVVM::VoteSyncKind::any);
  SmallVector<Value> accValues = state.flattenAcc();
  SmallVector<Type> accTypes(accValues.size(), f32);
  SmallVector<Value> rescaled = emitIf(
      warpMoved, accTypes,
      [&] {
        SmallVector<Value> values;
        for (auto [i, value] : llvm::enumerate(accValues)) {
          // Fragment i belongs to slice i / accTilesPerSlice; its elements
          // alternate two rows g and g + 8.
          int64_t frag = i / 4, e = i % 4;
          values.push_back(
              fmul(value, alpha[2 * (frag / accTilesPerSlice) + e / 2]));
        }
        return values;
      },
      [&] { return accValues; });
  for (auto [i, f] : llvm::enumerate(state.acc))
    f.assign(rescaled.begin() + 4 * i, rescaled.begin() + 4 * i + 4);

  for (int64_t mt = 0; mt < slices; ++mt)
    for (int64_t n = 0; n < keyTiles8; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        int64_t r = 2 * mt + e / 2;
        Value shifted = LLVM::FMAOp::create(
            b, loc, s[mt][n][e], scaleLog2,
            arith::NegFOp::create(b, loc, safe[r]));
        s[mt][n][e] = exp2(shifted);
        state.rowSum[r] = fadd(state.rowSum[r], s[mt][n][e]);
      }

  // Dropout after the row sums: the softmax normalizes by all of them.
  if (dropout)
    dropProbabilities(s, keyBase);
  mma->accumulateValues(stage, s, state);
}

void ForwardKernelEmitter::dropProbabilities(Scores &p, Value keyBase) {
  // A thread's rows g and g + 8 of a slice by its keys 2c, 2c + 1 of two
  // 8-key tiles are one group: one draw each.
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    Value queryGroup = dropout->getQueryGroup(threadRow(2 * mt));
    for (int64_t n0 = 0; n0 < plan.ctaKV / 8; n0 += 2) {
      Value keyGroup = dropout->getKeyGroup(
          add(keyBase, add(idx(8 * n0), mul(groupCol, 2))));
      SmallVector<Value, 4> words = dropout->draw(keyGroup, queryGroup);
      for (int64_t n = n0; n < n0 + 2; ++n)
        for (int64_t e = 0; e < 4; ++e) {
          Value kept = dropout->isKept(words, /*rowHalf=*/e / 2,
                                       /*keyHalf=*/n - n0, i32c(e % 2));
          p[mt][n][e] = select(kept, p[mt][n][e], f32c(0.0));
        }
    }
  }
}

