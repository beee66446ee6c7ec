//===- ForwardKernel.cpp - The tensor-core forward attention kernel -------===//
//
// Emits the FlashAttention-2 forward schedule at the gpu/nvgpu/nvvm level:
//
//   one CTA per (query tile, query head, batch), causal grids starting
//   their longest tiles first (scheduleCausalTile); each warp owns
//   `slicesPerWarp` consecutive 16-row slices of the tile, so that every K
//   and V fragment it reads from shared memory feeds that many mma.sync;
//   Q is copied to shared memory once (cp.async) and kept in registers as
//   mma A fragments (ldmatrix);
//   K and V tiles stream through `stages` shared-memory buffers with
//   cp.async, prefetching tile t + stages - 1 while tile t is computed,
//   with one barrier per tile; each thread addresses its copies with byte
//   pointers that only the tile's first row moves (copyWholeRows);
//   S = Q Kᵀ and O += P V run on tensor cores (mma.sync m16n8k16, f32
//   accumulators); the online softmax stays in registers (exp2 via
//   ex2.approx, row maxima reduced over the lane quad with shuffles, O
//   rescaled only when a row maximum of the warp grows by more than 2^8);
//   P is converted in registers into the A operand of P V;
//   tiles entirely inside the visible band skip the element mask, and the
//   scale is folded into the exponent (one fma per score);
//   the output is normalized once and stored, with the log-sum-exp.
//
// Shared memory rows are XOR-swizzled in 16-byte chunks, within 128-byte
// groups, so that ldmatrix and cp.async hit distinct banks.
//
// On sm_90a the plan may ask for warpgroup MMAs (wgmma) instead: each group
// of four warps computes 64-row slices; Q, K and V are read by the tensor
// cores from shared memory, where each tile is stored as 64-column chunks
// of 128-byte rows with the hardware's 128-byte swizzle (the same XOR, on
// 1024-byte aligned chunks); P stays in registers. Each warp's part of a
// wgmma accumulator has the layout of its mma.sync accumulators, so the
// softmax, the masks and the epilogue are shared. Where the plan says so
// (scoresBeforeCopies), a tile's Q Kᵀ is issued before the next tile's
// copies and waited for after them.
//
// Fragment layouts (lane = 32-lane index, g = lane / 4, c = lane % 4): an
// accumulator holds (row g, cols 2c, 2c+1) in [0, 1] and (row g + 8, same
// cols) in [2, 3]; an A fragment holds (row g, k 2c..) (row g+8, k 2c..)
// (row g, k 2c+8..) (row g+8, k 2c+8..), each two packed 16-bit values.
//
//===----------------------------------------------------------------------===//

#include "flash/Conversion/FlashToGPU/ForwardKernel.h"

#include "ForwardKernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::flash;

namespace {

/// q, k, v, o, lse, scale·log2(e), window left and right; block-sparse
/// kernels take their layout after these.
constexpr unsigned kNumDenseArgs = 8;

/// How far (base-2 exponent) a row's scores may exceed its running maximum
/// before the maximum, and with it the O accumulators, are rescaled.
constexpr double kRescaleHeadroom = 8.0;

} // namespace

using namespace mlir::flash::detail;

SmallVector<Value>
ForwardKernelEmitter::emitIf(Value cond, TypeRange types,
                             function_ref<SmallVector<Value>()> thenFn,
                             function_ref<SmallVector<Value>()> elseFn) {
  auto ifOp = scf::IfOp::create(b, loc, types, cond, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  for (auto [block, fn] : {std::make_pair(ifOp.thenBlock(), thenFn),
                           std::make_pair(ifOp.elseBlock(), elseFn)}) {
    if (!block->empty())
      block->back().erase();
    b.setInsertionPointToEnd(block);
    SmallVector<Value> values = fn();
    scf::YieldOp::create(b, loc, values);
  }
  return SmallVector<Value>(ifOp.getResults());
}

/// Column (in elements) of 16-byte chunk `chunk` of shared-memory row `row`:
/// the chunk index is XORed with row % 8 inside its group of eight.
Value ForwardKernelEmitter::swizzledColumn(Value row, Value chunk) {
  Value group = mul(divu(chunk, 8), 8);
  Value within = arith::XOrIOp::create(b, loc, remu(chunk, 8), remu(row, 8));
  return mul(add(group, within), 8);
}

/// The indices of 16-byte chunk `chunk` of tile row `row` in a tile view
/// ([stage,] rows, Dp) for mma.sync, ([stage,] Dp / 64, rows, 64) for
/// warpgroup MMAs: both XOR the chunk with row % 8 within its 128 bytes.
SmallVector<Value> ForwardKernelEmitter::tileIndices(Value stage, Value row,
                                                     Value chunk) {
  SmallVector<Value> indices;
  if (stage)
    indices.push_back(stage);
  if (!plan.warpgroupMMA) {
    indices.append({row, swizzledColumn(row, chunk)});
    return indices;
  }
  Value within = arith::XOrIOp::create(b, loc, remu(chunk, 8), remu(row, 8));
  indices.append({divu(chunk, 8), row, mul(within, 8)});
  return indices;
}

/// Issues the cp.async copies of rows [row0, row0 + rows) of
/// src[batch, head, :, :] (length `len`) into `dst` ([stage,] rows, Dp).
/// Columns past the head dim are zero-filled, and so are rows past `len`
/// unless `inBounds` promises there are none. K and V tiles take byte
/// pointers where the plan says so and the threads cover whole rows
/// (copyWholeRows); Q, copied once, keeps the indexed form, whose registers
/// the kernels with the largest accumulators need in their prologue.
void ForwardKernelEmitter::copyTile(Value src, Value srcHead, Value row0,
                                    Value len, Value dst, Value stage,
                                    int64_t rows, bool inBounds) {
  int64_t chunksPerRow = plan.paddedHeadDim / 8;
  int64_t total = rows * chunksPerRow;
  int64_t threads = plan.getThreads();
  assert(total % threads == 0 && "tile copies must split evenly");
  // Copy `it` moves chunk tid + it · threads of the tile. When the threads
  // cover whole rows, that is row r0 + it · rowsPerCopy, chunk c: the same
  // column for every copy of a thread (and, with rowsPerCopy a multiple of
  // 8, the same swizzle), which keeps the addresses cheap.
  bool wholeRows = threads % chunksPerRow == 0;
  int64_t rowsPerCopy = threads / chunksPerRow;
  Value r0 = divu(tid, chunksPerRow);
  Value c0 = remu(tid, chunksPerRow);
  bool isKeyTile = stage != nullptr;
  if (plan.copyPointers && isKeyTile && wholeRows && rowsPerCopy % 8 == 0) {
    copyWholeRows(src, srcHead, row0, len, dst, stage, total / threads, r0, c0,
                  rowsPerCopy, inBounds);
    return;
  }
  for (int64_t it = 0; it < total / threads; ++it) {
    Value r = add(r0, idx(it * rowsPerCopy)), c = c0;
    if (!wholeRows) {
      Value chunk = add(tid, idx(it * threads));
      r = divu(chunk, chunksPerRow);
      c = remu(chunk, chunksPerRow);
    }
    Value globalRow = add(row0, r);
    Value srcRow = globalRow, srcCol = mul(c, 8), count = idx(8);
    Value valid;
    if (!inBounds) {
      valid = cmpi(arith::CmpIPredicate::slt, globalRow, len);
      srcRow = select(valid, globalRow, idx(0));
    }
    if (plan.paddedHeadDim != spec.headDim) {
      Value colValid =
          cmpi(arith::CmpIPredicate::slt, srcCol, idx(spec.headDim));
      valid = valid ? arith::AndIOp::create(b, loc, valid, colValid)
                    : colValid;
      srcCol = select(colValid, srcCol, idx(0));
    }
    if (valid)
      count = select(valid, idx(8), idx(0));
    SmallVector<Value> dstIdx = tileIndices(stage, r, c);
    nvgpu::DeviceAsyncCopyOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), dst, dstIdx,
        src, ValueRange{batch, srcHead, srcRow, srcCol}, b.getIndexAttr(8),
        count, b.getUnitAttr());
  }
}

/// The copies of copyTile where each thread moves one chunk column of
/// `copies` rows `rowsPerCopy` apart (a multiple of 8, so every row of the
/// thread has the same swizzle). The addresses are byte pointers: the
/// thread's column in src[batch, head] and its chunk in the stage, which do
/// not depend on the tile, moved by its first row times the row stride,
/// then by one step per copy. Indexing the 4-D view instead multiplies
/// every row by the stride anew and keeps more 64-bit values live across
/// the key loop. Rows past `len` (unless `inBounds`) read row0, which every
/// tile holds, and copy nothing.
void ForwardKernelEmitter::copyWholeRows(Value src, Value srcHead, Value row0,
                                         Value len, Value dst, Value stage,
                                         int64_t copies, Value r0, Value c0,
                                         int64_t rowsPerCopy, bool inBounds) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type(), i8 = b.getI8Type();
  auto toI64 = [&](Value v) {
    return arith::IndexCastOp::create(b, loc, i64, v).getResult();
  };
  auto pointerOf = [&](Value memref, unsigned addressSpace) {
    return LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, addressSpace),
        alignedAddress(memref));
  };
  auto advance = [&](Value pointer, Value bytes) {
    return LLVM::GEPOp::create(b, loc, pointer.getType(), i8, pointer,
                               ValueRange{bytes})
        .getResult();
  };

  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, src);
  ValueRange strides = meta.getStrides();
  Value col = mul(c0, 8);
  Value colValid;
  if (plan.paddedHeadDim != spec.headDim) {
    colValid = cmpi(arith::CmpIPredicate::slt, col, idx(spec.headDim));
    col = select(colValid, col, idx(0));
  }
  Value columnElement = add(add(meta.getOffset(), mul(batch, strides[0])),
                            add(mul(srcHead, strides[1]), col));
  Value rowBytes = toI64(mul(strides[2], 2));
  Value column = advance(
      LLVM::AddrSpaceCastOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 1),
                                    pointerOf(src, 0)),
      toI64(mul(columnElement, 2)));
  auto rowPointer = [&](Value row) {
    return advance(column, arith::MulIOp::create(b, loc, toI64(row), rowBytes));
  };
  Value from = rowPointer(add(row0, r0));
  Value copyBytes = arith::MulIOp::create(b, loc, rowBytes, i64c(rowsPerCopy));

  auto dstType = cast<MemRefType>(dst.getType());
  SmallVector<int64_t> dstStrides;
  int64_t dstBase;
  if (failed(dstType.getStridesAndOffset(dstStrides, dstBase)))
    llvm_unreachable("the shared-memory tiles have static strides");
  Value dstElement = idx(dstBase);
  for (auto [index, stride] :
       llvm::zip_equal(tileIndices(stage, r0, c0), dstStrides))
    dstElement = add(dstElement, mul(index, stride));
  Value to = advance(pointerOf(dst, 3), toI64(mul(dstElement, 2)));
  // The row dimension is the second to last in both layouts of the tiles.
  int64_t dstRowBytes = 2 * dstStrides[dstStrides.size() - 2];

  auto cacheGlobal = NVVM::LoadCacheModifierKindAttr::get(
      ctx, NVVM::LoadCacheModifierKind::CG);
  Value firstRow = inBounds ? Value() : rowPointer(row0);
  for (int64_t it = 0; it < copies; ++it) {
    if (it > 0)
      from = advance(from, copyBytes);
    Value source = from, valid = colValid;
    if (!inBounds) {
      Value inRange = cmpi(arith::CmpIPredicate::slt,
                           add(row0, add(r0, idx(it * rowsPerCopy))), len);
      source = LLVM::SelectOp::create(b, loc, inRange, from, firstRow);
      valid = valid ? arith::AndIOp::create(b, loc, valid, inRange).getResult()
                    : inRange;
    }
    Value bytes = valid ? select(valid, i32c(16), i32c(0)) : Value();
    NVVM::CpAsyncOp::create(
        b, loc, advance(to, i64c(it * rowsPerCopy * dstRowBytes)), source,
        b.getI32IntegerAttr(16), cacheGlobal, bytes);
  }
}

/// Two f32 values rounded to the element type and packed into an i32, the
/// first in the low half.
Value ForwardKernelEmitter::pack(Value lo, Value hi) {
  Value pair = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, f32), ValueRange{lo, hi});
  Value narrow =
      arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
  Value asInt =
      vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), narrow);
  return vector::ExtractOp::create(b, loc, asInt, 0);
}

/// The keys visible to query `row`: [lo, hi], with hi clamped to the last
/// key and lo null when there is no lower bound. Where `band` (i1, null:
/// true) is false, only the key length bounds them: the full tiles of a
/// block-sparse layout skip the structural mask.
std::pair<Value, Value> ForwardKernelEmitter::visibleKeys(Value row,
                                                          Value band) {
  Value last = sub(keyLen, idx(1));
  if (spec.mask == MaskKind::None)
    return {nullptr, last};
  Value diag = spec.mask == MaskKind::CausalTopLeft ? row : add(row, offset);
  Value hi = diag;
  if (spec.mask == MaskKind::SlidingWindow)
    hi = add(hi, windowRight);
  Value lo;
  if (spec.mask == MaskKind::SlidingWindow)
    lo = sub(diag, windowLeft);
  hi = minsi(hi, last);
  if (band) {
    hi = select(band, hi, last);
    if (lo)
      lo = select(band, lo, idx(0));
  }
  return {lo, hi};
}

ForwardKernelEmitter::TileCoverage
ForwardKernelEmitter::coverTile(Value keyTile) {
  using P = arith::CmpIPredicate;
  Value firstKey = mul(keyTile, plan.blockKV);
  Value lastKey = add(firstKey, idx(plan.blockKV - 1));
  Value whole = cmpi(P::slt, lastKey, keyLen);
  Value full = whole;
  if (spec.mask != MaskKind::None) {
    Value hi = add(tileRow0, diagOffset);
    if (spec.mask == MaskKind::SlidingWindow)
      hi = add(hi, windowRight);
    full = arith::AndIOp::create(b, loc, full, cmpi(P::sle, lastKey, hi));
  }
  if (spec.mask == MaskKind::SlidingWindow) {
    Value lo = sub(add(lastRow, diagOffset), windowLeft);
    full = arith::AndIOp::create(b, loc, full, cmpi(P::sge, firstKey, lo));
  }
  return {whole, full};
}

ForwardKernelEmitter::KeyVisit ForwardKernelEmitter::visitDense(Value keyTile) {
  return {keyTile, coverTile(keyTile).inBand, nullptr};
}

Value ForwardKernelEmitter::i32c(int32_t v) {
  return arith::ConstantIntOp::create(b, loc, i32, v);
}

/// Issues the copies of K and V tile `keyTile` into `stage`; only a tile
/// that reaches past the key length takes the guarded copies.
void ForwardKernelEmitter::prefetchTile(Value keyTile, Value stage) {
  Value row0 = mul(keyTile, plan.blockKV);
  Value whole = cmpi(arith::CmpIPredicate::sle,
                     add(row0, idx(plan.blockKV)), keyLen);
  auto copy = [&](bool inBounds) {
    copyTile(k, kvHead, row0, keyLen, sK, stage, plan.blockKV, inBounds);
    copyTile(v, kvHead, row0, keyLen, sV, stage, plan.blockKV, inBounds);
    return SmallVector<Value>{};
  };
  emitIf(whole, {}, [&] { return copy(true); }, [&] { return copy(false); });
}

/// One key-loop iteration: waits for the tile in `stage`, issues the copies
/// of the tile `stages` - 1 ahead (`prefetchNext`), folds what `visitFn`
/// says into the warp state `carried`, and returns the new state. One
/// barrier both publishes the tile and tells that every warp is done with
/// the previous one, whose stage the prefetch then overwrites while this
/// tile is computed. (The block-sparse loop has two stages.)
SmallVector<Value>
ForwardKernelEmitter::foldTile(ValueRange carried, Value stage,
                               function_ref<void()> prefetchNext,
                               function_ref<KeyVisit()> visitFn) {
  // Groups are committed one per tile in order, and the prefetch runs
  // stages - 1 tiles ahead: all but the last stages - 2 groups hold this
  // tile or older ones.
  NVVM::CpAsyncWaitGroupOp::create(b, loc, plan.stages - 2);
  // The tensor cores read warpgroup MMA operands through the async proxy:
  // the copies must be made visible to it before the barrier.
  if (plan.warpgroupMMA)
    NVVM::FenceProxyOp::create(
        b, loc, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
  gpu::BarrierOp::create(b, loc);
  // The tensor cores may run Q Kᵀ while the warps issue the next tile's
  // copies.
  SmallVector<Value> pendingScores;
  if (plan.scoresBeforeCopies)
    pendingScores = issueScoresWarpgroup(stage);
  prefetchNext();
  // Commit every iteration, even empty, so the wait count stays right.
  NVVM::CpAsyncCommitGroupOp::create(b, loc);

  KeyVisit visit = visitFn();
  std::optional<Scores> scores;
  if (plan.scoresBeforeCopies)
    scores = collectScoresWarpgroup(pendingScores);
  SmallVector<Type> types = llvm::to_vector(carried.getTypes());
  auto step = [&](bool masked) {
    WarpState s = WarpState::unflatten(carried, 2 * plan.slicesPerWarp);
    computeTile(stage, visit.tile, masked, s, visit.band,
                scores ? &*scores : nullptr);
    return s.flatten();
  };
  return emitIf(
      visit.unmasked, types, [&] { return step(/*masked=*/false); },
      [&] { return step(/*masked=*/true); });
}

/// The dense key loop over [tileBegin, tileEnd), prefetching tile
/// t + stages - 1 while tile t is folded.
SmallVector<Value> ForwardKernelEmitter::emitDenseLoop(ValueRange init) {
  auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, idx(1), init);
  OpBuilder::InsertionGuard loopGuard(b);
  Block *body = loop.getBody();
  if (!body->empty())
    body->back().erase();
  b.setInsertionPointToEnd(body);
  Value keyTile = loop.getInductionVar();
  Value stage = remu(sub(keyTile, tileBegin), plan.stages);
  auto prefetchNext = [&] {
    Value next = add(keyTile, idx(plan.stages - 1));
    emitIf(cmpi(arith::CmpIPredicate::slt, next, tileEnd), {}, [&] {
      prefetchTile(next, remu(sub(next, tileBegin), plan.stages));
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
  };
  SmallVector<Value> updated =
      foldTile(loop.getRegionIterArgs(), stage, prefetchNext,
               [&] { return visitDense(keyTile); });
  scf::YieldOp::create(b, loc, updated);
  return SmallVector<Value>(loop.getResults());
}

/// Folds key tile `keyTile`, held in shared-memory stage `stage`, into the
/// warp's softmax state.
void ForwardKernelEmitter::computeTile(Value stage, Value keyTile, bool masked,
                                       WarpState &state, Value band,
                                       const Scores *scores) {
  int64_t keyTiles8 = plan.blockKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Scores s = scores              ? *scores
             : plan.warpgroupMMA ? collectScoresWarpgroup(
                                       issueScoresWarpgroup(stage))
                                 : computeScores(stage);

  // Mask the raw scores; the scale is folded into the exponent below.
  // Per row, the visible keys are [lo, hi] (hi already clamped to the key
  // length), so each element costs one or two compares.
  Value keyBase = mul(keyTile, plan.blockKV);
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

  if (plan.warpgroupMMA)
    accumulateValuesWarpgroup(stage, s, state);
  else
    accumulateValues(stage, s, state);
}

/// Under a causal mask query tile t sees t + 1 tiles of keys (top-left), so
/// the grid should run the longest tiles first, of all heads, and leave the
/// shortest to fill its tail. CTAs start in the order of their linear id
/// (x fastest), which this maps to (query tile, head, batch): the (batch,
/// head) pairs are taken in sections of SMs / getSMsPerCausalSectionPair(),
/// and within a section the tiles go from the last to the first, the
/// section's pairs innermost. One section of all pairs was up to 21% slower
/// than reversing each head's tiles where there are many short heads (B·H =
/// 256, L = 1k): fewer of a head's CTAs run together to share its K and V
/// in L2 (docs/performance.md). The arithmetic is 32-bit: a grid of 2^32
/// CTAs of at least 64 query rows would need more memory than GPUs have.
Value ForwardKernelEmitter::scheduleCausalTile() {
  auto i32Of = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, i32, v).getResult();
  };
  auto grid = [&](gpu::Dimension dim) {
    return i32Of(gpu::GridDimOp::create(b, loc, dim));
  };
  auto block = [&](gpu::Dimension dim) {
    return i32Of(gpu::BlockIdOp::create(b, loc, dim));
  };
  // One value per statement: the IR's order does not depend on the order
  // in which the compiler evaluates arguments.
  Value tiles = grid(gpu::Dimension::x);
  Value heads = grid(gpu::Dimension::y);
  Value batches = grid(gpu::Dimension::z);
  Value tile = block(gpu::Dimension::x);
  Value headId = block(gpu::Dimension::y);
  Value batchId = block(gpu::Dimension::z);
  Value pairs = mul(heads, batches);
  Value linear = add(tile, mul(tiles, add(headId, mul(heads, batchId))));
  Value sms = NVVM::SmDimOp::create(b, loc, i32);
  Value share =
      divu(sms, i32c(static_cast<int32_t>(plan.getSMsPerCausalSectionPair())));
  Value sectionPairs = arith::MaxUIOp::create(b, loc, share, i32c(1));
  Value sectionCtas = mul(sectionPairs, tiles);
  Value first = mul(divu(linear, sectionCtas), sectionPairs);
  Value within = remu(linear, sectionCtas);
  Value inSection =
      arith::MinUIOp::create(b, loc, sectionPairs, sub(pairs, first));
  Value pair = add(first, remu(within, inSection));
  Value rank = divu(within, inSection);
  auto index = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), v)
        .getResult();
  };
  head = index(remu(pair, heads));
  batch = index(divu(pair, heads));
  return index(sub(sub(tiles, i32c(1)), rank));
}

gpu::GPUFuncOp ForwardKernelEmitter::emit() {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic;
  auto strided4 = StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, dyn, 1});
  auto tensorType = MemRefType::get({dyn, dyn, dyn, dyn}, elt, strided4);
  auto lseType = MemRefType::get({dyn, dyn, dyn}, f32,
                                 StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, 1}));
  SmallVector<Type> argTypes = {tensorType, tensorType, tensorType,
                                tensorType, lseType,    f32,
                                b.getI64Type(), b.getI64Type()};
  if (spec.blockSparse) {
    // kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices (i32,
    // any strides), then the layout's block_q and block_kv.
    auto counts =
        MemRefType::get({dyn, dyn, dyn}, i32,
                        StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, dyn}));
    auto indices =
        MemRefType::get({dyn, dyn, dyn, dyn}, i32,
                        StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, dyn, dyn}));
    argTypes.append(
        {counts, indices, counts, indices, b.getI64Type(), b.getI64Type()});
  }
  auto funcType = b.getFunctionType(argTypes, {});
  auto func = gpu::GPUFuncOp::create(b, loc, spec.getName(), funcType);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
      {static_cast<int32_t>(plan.getThreads()), 1, 1}));
  // .minnctapersm: without it ptxas may trade registers for occupancy and
  // spill (seen at D = 96 on sm_80); the plan asks for more where the
  // registers of that many CTAs suffice.
  func->setAttr("nvvm.minctasm", b.getI32IntegerAttr(plan.minCTAsPerSM));

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&func.getBody().front());
  ValueRange args = func.getArguments();
  q = args[0];
  k = args[1];
  v = args[2];
  o = args[3];
  lse = args[4];
  scaleLog2 = args[5];
  windowLeft = arith::IndexCastOp::create(b, loc, b.getIndexType(), args[6]);
  windowRight = arith::IndexCastOp::create(b, loc, b.getIndexType(), args[7]);

  tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  lane = remu(tid, 32);
  warp = divu(tid, 32);
  groupRow = divu(lane, 4);
  groupCol = remu(lane, 4);
  // A warpgroup's slices are 64 rows apart, and its warps 16.
  warpRow0 = plan.warpgroupMMA
                 ? add(mul(divu(warp, 4), 64 * plan.slicesPerWarp),
                       mul(remu(warp, 4), 16))
                 : mul(warp, 16 * plan.slicesPerWarp);
  bool causal = spec.mask == MaskKind::CausalTopLeft ||
                spec.mask == MaskKind::CausalBottomRight;
  Value queryTile;
  if (causal) {
    queryTile = scheduleCausalTile();
  } else {
    queryTile = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  }
  Value queryHeads = memref::DimOp::create(b, loc, q, 1);
  Value kvHeads = memref::DimOp::create(b, loc, k, 1);
  kvHead = divu(head, divu(queryHeads, kvHeads));
  queryLen = memref::DimOp::create(b, loc, q, 2);
  keyLen = memref::DimOp::create(b, loc, k, 2);
  offset = sub(keyLen, queryLen);
  if (spec.mask == MaskKind::SlidingWindow) {
    // A window side of Lq + Lk or more already sees every key; clamping it
    // keeps the band arithmetic below from overflowing (INT64_MAX is a
    // valid "unbounded").
    Value widest = add(queryLen, keyLen);
    windowLeft = minsi(windowLeft, widest);
    windowRight = minsi(windowRight, widest);
  }
  tileRow0 = mul(queryTile, plan.blockQ);

  // Shared memory: Q, then the K stages, then the V stages.
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value smem = gpu::DynamicSharedMemoryOp::create(
      b, loc, MemRefType::get({dyn}, b.getI8Type(), nullptr, workgroup));
  int64_t dp = plan.paddedHeadDim;
  auto tileType = [&](ArrayRef<int64_t> stages, int64_t rows) {
    SmallVector<int64_t> shape(stages);
    if (plan.warpgroupMMA)
      shape.append({dp / 64, rows, 64});
    else
      shape.append({rows, dp});
    return MemRefType::get(shape, elt, nullptr, workgroup);
  };
  int64_t qBytes = plan.blockQ * dp * 2;
  int64_t kvBytes = plan.stages * getStageBytes();
  // Warpgroup MMA operands start on 1024-byte boundaries (the swizzle
  // pattern repeats every 8 rows of 128 bytes), within the plan's slack.
  Value base = idx(0);
  if (plan.warpgroupMMA) {
    Value address =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
    base = remu(sub(idx(1024), remu(address, 1024)), 1024);
  }
  sQ = memref::ViewOp::create(b, loc, tileType({}, plan.blockQ), smem, base,
                              ValueRange{});
  sK = memref::ViewOp::create(b, loc, tileType({plan.stages}, plan.blockKV),
                              smem, add(base, idx(qBytes)), ValueRange{});
  sV = memref::ViewOp::create(b, loc, tileType({plan.stages}, plan.blockKV),
                              smem, add(base, idx(qBytes + kvBytes)),
                              ValueRange{});
  if (plan.warpgroupMMA) {
    // K-major Q and K: 8-row groups 1024 bytes apart (the leading offset is
    // unused). MN-major V: 8-key groups 1024 bytes apart, 64-column chunks
    // blockKV rows of 128 bytes apart.
    Value warpgroupRows = mul(divu(warp, 4), 64 * plan.slicesPerWarp * 128);
    qDesc = matrixDescriptor(
        add(alignedAddress(sQ),
            arith::IndexCastOp::create(b, loc, b.getI64Type(), warpgroupRows)),
        16, 1024);
    kDesc = matrixDescriptor(alignedAddress(sK), 16, 1024);
    vDesc = matrixDescriptor(alignedAddress(sV), plan.blockKV * 128, 1024);
  }

  // Key tiles that can hold a visible key: [begin, end).
  Value numKeyTiles = arith::CeilDivUIOp::create(b, loc, keyLen,
                                                 idx(plan.blockKV));
  lastRow = sub(minsi(add(tileRow0, idx(plan.blockQ)), queryLen), idx(1));
  tileBegin = idx(0);
  tileEnd = numKeyTiles;
  auto clampTiles = [&](Value t) {
    return minsi(maxsi(t, idx(0)), numKeyTiles);
  };
  diagOffset = spec.mask == MaskKind::CausalTopLeft ? idx(0) : offset;
  if (spec.mask != MaskKind::None) {
    Value hi = add(lastRow, diagOffset);
    if (spec.mask == MaskKind::SlidingWindow)
      hi = add(hi, windowRight);
    tileEnd = clampTiles(
        add(arith::FloorDivSIOp::create(b, loc, hi, idx(plan.blockKV)), idx(1)));
  }
  if (spec.mask == MaskKind::SlidingWindow) {
    Value lo = sub(add(tileRow0, diagOffset), windowLeft);
    tileBegin =
        clampTiles(arith::FloorDivSIOp::create(b, loc, lo, idx(plan.blockKV)));
  }

  // Prologue: Q (one group), then the first stages - 1 K/V tiles (a group
  // each, empty past the last tile).
  copyTile(q, head, tileRow0, queryLen, sQ, nullptr, plan.blockQ,
           /*inBounds=*/false);
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  if (spec.blockSparse) {
    stageSparseRow(func.getArguments().drop_front(kNumDenseArgs), smem);
    // The staging's stores are read by every thread from here on.
    gpu::BarrierOp::create(b, loc);
    prefetchStaged(loadStagedTile(i32c(0)), idx(0));
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
  } else {
    for (int64_t ahead = 0; ahead < plan.stages - 1; ++ahead) {
      Value tile = add(tileBegin, idx(ahead));
      emitIf(cmpi(arith::CmpIPredicate::slt, tile, tileEnd), {}, [&] {
        prefetchTile(tile, idx(ahead));
        return SmallVector<Value>{};
      }, [] { return SmallVector<Value>{}; });
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    }
  }
  if (plan.queryInRegisters) {
    NVVM::CpAsyncWaitGroupOp::create(b, loc, plan.stages - 1);
    gpu::BarrierOp::create(b, loc);
    for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
      for (int64_t ks = 0; ks < headSteps; ++ks)
        qFrags.push_back(loadQueryFragment(mt, ks));
  }

  // The key loop (an iteration is foldTile), carrying the warp state.
  int64_t rowsPerThread = 2 * plan.slicesPerWarp;
  WarpState initState;
  initState.rowMax.assign(rowsPerThread, negInf());
  initState.rowSum.assign(rowsPerThread, f32c(0.0));
  initState.acc.assign(plan.slicesPerWarp * accTilesPerSlice,
                       Fragment(4, f32c(0.0)));
  SmallVector<Value> init = initState.flatten();
  SmallVector<Value> results =
      spec.blockSparse ? emitSparseLoop(init) : emitDenseLoop(init);
  WarpState state = WarpState::unflatten(results, rowsPerThread);

  // Epilogue: full row sums, normalization, stores.
  auto pairType = VectorType::get({2}, elt);
  for (int64_t r = 0; r < rowsPerThread; ++r) {
    int64_t mt = r / 2, half = r % 2;
    Value row = threadRow(r);
    Value l = state.rowSum[r];
    l = fadd(l, shuffleXor(l, 1));
    l = fadd(l, shuffleXor(l, 2));
    Value empty =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, f32c(0.0));
    Value inv = select(empty, f32c(0.0),
                       arith::DivFOp::create(b, loc, f32c(1.0), l));
    Value inRange = cmpi(arith::CmpIPredicate::slt, row, queryLen);
    Value lseValue = fmul(fadd(safeMax(state.rowMax[r]), log2(l)),
                          f32c(llvm::numbers::ln2));
    emitIf(inRange, {}, [&] {
      for (int64_t n = 0; n < spec.headDim / 8; ++n) {
        const Fragment &acc = state.acc[mt * accTilesPerSlice + n];
        Value lo = fmul(acc[2 * half], inv);
        Value hi = fmul(acc[2 * half + 1], inv);
        Value pair = vector::FromElementsOp::create(
            b, loc, VectorType::get({2}, f32), ValueRange{lo, hi});
        Value narrow = arith::TruncFOp::create(b, loc, pairType, pair);
        Value col = add(idx(8 * n), mul(groupCol, 2));
        vector::StoreOp::create(b, loc, narrow, o,
                                ValueRange{batch, head, row, col},
                                /*nontemporal=*/false, llvm::Align(4));
      }
      emitIf(cmpi(arith::CmpIPredicate::eq, groupCol, idx(0)), {}, [&] {
        memref::StoreOp::create(b, loc, lseValue, lse,
                                ValueRange{batch, head, row});
        return SmallVector<Value>{};
      }, [] { return SmallVector<Value>{}; });
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
  }
  gpu::ReturnOp::create(b, loc);
  return func;
}

gpu::GPUFuncOp mlir::flash::buildForwardKernel(OpBuilder &builder,
                                               Location loc,
                                               const KernelSpec &spec,
                                               const KernelPlan &plan) {
  return ForwardKernelEmitter(builder, loc, spec, plan).emit();
}
