//===- ForwardKernel.cpp - The tensor-core forward attention kernel -------===//
//
// Emits the FlashAttention-2 forward schedule at the gpu/nvgpu/nvvm level:
//
//   one CTA per (query tile, query head, batch); each warp owns
//   `slicesPerWarp` consecutive 16-row slices of the tile, so that every K
//   and V fragment it reads from shared memory feeds that many mma.sync;
//   Q is copied to shared memory once (cp.async) and kept in registers as
//   mma A fragments (ldmatrix);
//   K and V tiles stream through `stages` shared-memory buffers with
//   cp.async, prefetching tile t + stages - 1 while tile t is computed,
//   with one barrier per tile;
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
// softmax, the masks and the epilogue are shared.
//
// Fragment layouts (lane = 32-lane index, g = lane / 4, c = lane % 4): an
// accumulator holds (row g, cols 2c, 2c+1) in [0, 1] and (row g + 8, same
// cols) in [2, 3]; an A fragment holds (row g, k 2c..) (row g+8, k 2c..)
// (row g, k 2c+8..) (row g+8, k 2c+8..), each two packed 16-bit values.
//
//===----------------------------------------------------------------------===//

#include "flash/Conversion/FlashToGPU/ForwardKernel.h"

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

/// A fragment of four f32 accumulators, or of four packed 16-bit pairs.
using Fragment = SmallVector<Value, 4>;

/// What a warp carries across key tiles: per query row it owns (two per
/// 16-row slice: g and g + 8), the running maximum (base-2 units) and the
/// thread's partial row sum; per slice, the O accumulator fragments.
struct WarpState {
  SmallVector<Value> rowMax, rowSum;
  SmallVector<Fragment> acc;

  /// The O accumulators, fragment by fragment.
  SmallVector<Value> flattenAcc() const {
    SmallVector<Value> values;
    for (const Fragment &f : acc)
      values.append(f);
    return values;
  }
  SmallVector<Value> flatten() const {
    SmallVector<Value> values(rowMax);
    values.append(rowSum);
    values.append(flattenAcc());
    return values;
  }
  static WarpState unflatten(ValueRange values, int64_t rows) {
    WarpState state;
    state.rowMax.assign(values.begin(), values.begin() + rows);
    state.rowSum.assign(values.begin() + rows, values.begin() + 2 * rows);
    for (auto it = values.begin() + 2 * rows; it != values.end(); it += 4)
      state.acc.push_back(Fragment(it, it + 4));
    return state;
  }
};

class ForwardKernelEmitter {
public:
  ForwardKernelEmitter(OpBuilder &b, Location loc, const KernelSpec &spec,
                       const KernelPlan &plan)
      : b(b), loc(loc), spec(spec), plan(plan) {
    MLIRContext *ctx = b.getContext();
    elt = spec.getElementType(ctx);
    f32 = b.getF32Type();
    i32 = b.getI32Type();
    // ceil(D / 16) k-steps of Q Kᵀ and 16-column pairs of O carry data; the
    // padding columns past them are zeros and are skipped.
    headSteps = (spec.headDim + 15) / 16;
    sliceRows = plan.getSliceRows();
    // A warpgroup MMA's N spans whole 64-column chunks of V.
    accTilesPerSlice =
        plan.warpgroupMMA ? plan.paddedHeadDim / 8 : 2 * headSteps;
  }

  gpu::GPUFuncOp emit();

private:
  // Scalar helpers.
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32c(int32_t v);
  Value f32c(double v) {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value mul(Value x, int64_t y) { return mul(x, idx(y)); }
  Value divu(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, idx(y));
  }
  Value remu(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, idx(y));
  }
  Value minsi(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value maxsi(Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  /// 2^x through ex2.approx.ftz (no libdevice).
  Value exp2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, loc, f32, b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"),
               ValueRange{x})
        .getResult(0);
  }
  Value log2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, loc, f32, b.getStringAttr("llvm.nvvm.lg2.approx.ftz.f"),
               ValueRange{x})
        .getResult(0);
  }
  Value negInf() { return f32c(-std::numeric_limits<double>::infinity()); }
  /// `m`, or 0 where m is -inf.
  Value safeMax(Value m) {
    Value empty =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m, negInf());
    return select(empty, f32c(0.0), m);
  }
  Value shuffleXor(Value v, int32_t offset) {
    Value off = arith::ConstantIntOp::create(b, loc, i32, offset);
    Value width = arith::ConstantIntOp::create(b, loc, i32, 32);
    return gpu::ShuffleOp::create(b, loc, v, off, width, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }

  /// Builds an scf.if with results; the callbacks return the yielded values.
  SmallVector<Value> emitIf(Value cond, TypeRange types,
                            function_ref<SmallVector<Value>()> thenFn,
                            function_ref<SmallVector<Value>()> elseFn);

  // Kernel pieces.
  Value swizzledColumn(Value row, Value chunk);
  SmallVector<Value> tileIndices(Value stage, Value row, Value chunk);
  void copyTile(Value src, Value head, Value row0, Value len, Value dst,
                Value stage, int64_t rows, bool inBounds);
  Fragment ldmatrix(Value smem, ValueRange indices, bool transpose);
  Fragment mma(ArrayRef<Value> a, ArrayRef<Value> bFrag, ArrayRef<Value> c);
  /// The A fragment of Q for slice `mt` and k-step `ks`, read from shared
  /// memory.
  Fragment loadQueryFragment(int64_t mt, int64_t ks) {
    Value row = add(add(warpRow0, idx(16 * mt)), remu(lane, 16));
    Value chunk = add(idx(2 * ks), divu(lane, 16));
    return ldmatrix(sQ, {row, swizzledColumn(row, chunk)},
                    /*transpose=*/false);
  }
  /// The A fragment of Q for slice `mt` and k-step `ks`: kept in registers
  /// or re-read, as the plan says.
  Fragment queryFragment(int64_t mt, int64_t ks) {
    return plan.queryInRegisters ? qFrags[mt * headSteps + ks]
                                 : loadQueryFragment(mt, ks);
  }
  Value pack(Value lo, Value hi);
  std::pair<Value, Value> visibleKeys(Value row, Value band);
  /// Query row (within the sequence) of the thread's row `r` = 2 · slice +
  /// (0 for g, 1 for g + 8).
  Value threadRow(int64_t r) {
    return add(add(tileRow0, add(warpRow0, idx(sliceRows * (r / 2) +
                                                8 * (r % 2)))),
               groupRow);
  }
  using Scores = SmallVector<SmallVector<Fragment>>;
  /// S = Q Kᵀ of the tile in `stage`: per slice, per 8-key n-tile.
  Scores computeScores(Value stage);
  Scores computeScoresWarpgroup(Value stage);
  /// O += P V, with P the exponentiated scores `p`.
  void accumulateValues(Value stage, const Scores &p, WarpState &state);
  void accumulateValuesWarpgroup(Value stage, const Scores &p,
                                 WarpState &state);
  /// The A operand of P V for slice `mt` and key step `kk`, packed in
  /// registers.
  Fragment probabilityFragment(const Scores &p, int64_t mt, int64_t kk) {
    const SmallVector<Fragment> &pm = p[mt];
    return {pack(pm[2 * kk][0], pm[2 * kk][1]),
            pack(pm[2 * kk][2], pm[2 * kk][3]),
            pack(pm[2 * kk + 1][0], pm[2 * kk + 1][1]),
            pack(pm[2 * kk + 1][2], pm[2 * kk + 1][3])};
  }
  // Warpgroup MMA helpers.
  Value i64c(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
  }
  Value sharedAddress(Value view);
  Value matrixDescriptor(Value address, int64_t leadingBytes,
                         int64_t strideBytes);
  Value offsetDescriptor(Value descriptor, Value stage, int64_t stageBytes,
                         int64_t bytes);
  void computeTile(Value stage, Value keyTile, bool masked, WarpState &state,
                   Value band = nullptr);

  /// What one iteration of the key loop does: the key tile it visits,
  /// whether that tile skips the element mask (`unmasked`), and whether
  /// masked scores apply the structural band (`band`; null: always).
  struct KeyVisit {
    Value tile, unmasked, band;
  };
  /// Whether key tile `keyTile` ends before the key length (`whole`), and
  /// whether it is moreover inside the structural band for every query row
  /// of the CTA (`inBand`): such a tile needs no element mask.
  struct TileCoverage {
    Value whole, inBand;
  };
  TileCoverage coverTile(Value keyTile);
  /// Dense kernels: iteration `keyTile` visits key tile `keyTile`.
  KeyVisit visitDense(Value keyTile);

  // Block-sparse kernels stage the live key tiles of the CTA's row of the
  // layout in shared memory, then walk them: iteration i visits staged
  // tile i; a -1 ends the list.
  void stageSparseRow(ValueRange layoutArgs, Value smem);
  void compactStagedTiles(Value bits, Value words, Value tilesPerBlock);
  Value compactTile(Value tile, Value marked, Value isFull, Value end);
  Value loadStagedTile(Value pos);
  Value stagedKeyTile(Value staged);
  void prefetchStaged(Value staged, Value stage);
  KeyVisit visitSparse(Value staged);

  // The key loop.
  void prefetchTile(Value keyTile, Value stage);
  SmallVector<Value> foldTile(ValueRange carried, Value stage,
                              function_ref<void()> prefetchNext,
                              function_ref<KeyVisit()> visitFn);
  SmallVector<Value> emitDenseLoop(ValueRange init);
  SmallVector<Value> emitSparseLoop(ValueRange init);

  OpBuilder &b;
  Location loc;
  const KernelSpec &spec;
  const KernelPlan &plan;
  Type elt, f32, i32;
  int64_t headSteps;
  // Rows of a slice (16 or 64), and 8-column tiles of O per slice.
  int64_t sliceRows, accTilesPerSlice;

  // Values of the kernel body.
  Value q, k, v, o, lse, scaleLog2, windowLeft, windowRight;
  Value batch, head, kvHead, tid, lane, warp, groupRow, groupCol;
  Value queryLen, keyLen, offset, tileRow0;
  Value warpRow0; // the warp's first row within the query tile
  // Key tiles that can hold a visible key, [tileBegin, tileEnd), the CTA's
  // last query row, and the diagonal's offset for the structural mask.
  Value tileBegin, tileEnd, lastRow, diagOffset;
  // Block-sparse kernels: the staged tiles (i32 in shared memory).
  Value sTiles;
  Value sQ, sK, sV;
  SmallVector<Fragment> qFrags;
  // Warpgroup MMAs: the shared-memory descriptors of the warpgroup's Q
  // slices and of stage 0 of K and V.
  Value qDesc, kDesc, vDesc;
};

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
/// unless `inBounds` promises there are none: the unguarded form keeps the
/// source addresses affine in row0, so they reduce to one increment per
/// tile.
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

/// ldmatrix x4 at `indices` of `smem`, as four packed i32 registers.
Fragment ForwardKernelEmitter::ldmatrix(Value smem, ValueRange indices,
                                        bool transpose) {
  auto type = VectorType::get({4, 2}, elt);
  Value m = nvgpu::LdMatrixOp::create(b, loc, type, smem, indices,
                                      b.getBoolAttr(transpose),
                                      b.getI32IntegerAttr(4));
  Fragment regs;
  auto pairType = VectorType::get({1}, i32);
  for (int64_t i = 0; i < 4; ++i) {
    Value pair = vector::ExtractOp::create(b, loc, m, i);
    Value asInt = vector::BitCastOp::create(b, loc, pairType, pair);
    regs.push_back(vector::ExtractOp::create(b, loc, asInt, 0));
  }
  return regs;
}

/// D = A B + C with mma.sync m16n8k16.
Fragment ForwardKernelEmitter::mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                                   ArrayRef<Value> c) {
  MLIRContext *ctx = b.getContext();
  auto resultType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  NVVM::MMATypes ptxType = spec.elementType == KernelElementType::F16
                               ? NVVM::MMATypes::f16
                               : NVVM::MMATypes::bf16;
  // Registers are kept as i32; the f16 form of the op takes vector<2xf16>.
  auto asOperands = [&](ArrayRef<Value> regs) {
    SmallVector<Value> operands(regs);
    if (ptxType == NVVM::MMATypes::f16)
      for (Value &r : operands)
        r = LLVM::BitcastOp::create(b, loc, VectorType::get({2}, elt), r);
    return operands;
  };
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, asOperands(a), asOperands(bFrag), c,
      ArrayRef<int64_t>{16, 8, 16},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Fragment out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
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

/// Stages the key tiles of the CTA's row of the layout in shared memory,
/// past the K and V stages of `smem`; `layoutArgs` are kv_num_blocks,
/// kv_indices, full_kv_num_blocks, full_kv_indices and the layout's block_q
/// and block_kv. The lists are read once, with coalesced loads, into two
/// bitmaps over the layout's NKV key blocks (full, partial); a block marked
/// in both is full, and indices outside [0, NKV) or repeated ones mark
/// nothing new, as the op's semantics say. compactStagedTiles then lists
/// the live kernel tiles, so that the key loop keeps no pointers, counts or
/// cursor arithmetic in registers: those are what the larger tiles run
/// short of.
void ForwardKernelEmitter::stageSparseRow(ValueRange layoutArgs, Value smem) {
  using P = arith::CmpIPredicate;
  Type indexType = b.getIndexType();
  auto cast = [&](Type type, Value v) {
    return arith::IndexCastOp::create(b, loc, type, v).getResult();
  };
  // The launch checks that the block sizes are positive multiples of the
  // plan's tiles and that the staged tiles fit in shared memory
  // (docs/kernel-abi.md); clamping only keeps the arithmetic defined
  // whatever the caller passes.
  Value blockQ = maxsi(cast(indexType, layoutArgs[4]), idx(1));
  Value blockKV = maxsi(cast(indexType, layoutArgs[5]), idx(1));
  Value tilesPerBlock = maxsi(divu(blockKV, plan.blockKV), idx(1));
  Value numBlocks = arith::CeilDivUIOp::create(b, loc, keyLen, blockKV);
  Value layoutTile = arith::DivUIOp::create(b, loc, tileRow0, blockQ);

  // One list's row and its count, clamped to the list's capacity N. A list
  // with N = 0 (no full list) is not read at all.
  struct ListRow {
    Value indices;
    SmallVector<Value, 4> at;
    Value count;
  };
  auto readList = [&](Value counts, Value indices) {
    // A batch or head extent of 1 is shared by every CTA (broadcast): the
    // index is clamped rather than trusting a stride of 0.
    auto shared = [&](int64_t dim, Value id) {
      Value extent = memref::DimOp::create(b, loc, counts, dim);
      return select(cmpi(P::eq, extent, idx(1)), idx(0), id);
    };
    ListRow row{indices, {shared(0, batch), shared(1, head), layoutTile}, {}};
    Value capacity = memref::DimOp::create(b, loc, indices, 3);
    row.count = emitIf(
        cmpi(P::sgt, capacity, idx(0)), indexType,
        [&] {
          Value count =
              cast(indexType, memref::LoadOp::create(b, loc, counts, row.at));
          return SmallVector<Value>{minsi(maxsi(count, idx(0)), capacity)};
        },
        [&] { return SmallVector<Value>{idx(0)}; })[0];
    return row;
  };
  ListRow full = readList(layoutArgs[2], layoutArgs[3]);
  ListRow partial = readList(layoutArgs[0], layoutArgs[1]);

  // Shared memory past the K and V stages: the staged tiles (every kernel
  // tile of the NKV blocks, and the final -1), then the two bitmaps.
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto wordsType =
      MemRefType::get({ShapedType::kDynamic}, i32, nullptr, workgroup);
  Value capacity = add(mul(numBlocks, tilesPerBlock), idx(1));
  Value words = arith::CeilDivUIOp::create(b, loc, numBlocks, idx(32));
  Value base = idx(plan.getSharedMemoryBytes());
  sTiles = memref::ViewOp::create(b, loc, wordsType, smem, base,
                                  ValueRange{capacity});
  Value bits = memref::ViewOp::create(b, loc, wordsType, smem,
                                      add(base, mul(capacity, 4)),
                                      ValueRange{mul(words, 2)});

  // Thread t handles items t, t + threads, ... of `count`.
  auto forEachOfThread = [&](Value count, function_ref<void(Value)> fn) {
    scf::ForOp::create(b, loc, tid, count, idx(plan.getThreads()),
                       ValueRange{},
                       [&](OpBuilder &, Location, Value i, ValueRange) {
                         fn(i);
                         scf::YieldOp::create(b, loc);
                       });
  };
  forEachOfThread(mul(words, 2), [&](Value i) {
    memref::StoreOp::create(b, loc, i32c(0), bits, i);
  });
  gpu::BarrierOp::create(b, loc);
  forEachOfThread(add(full.count, partial.count), [&](Value i) {
    Value isFull = cmpi(P::ult, i, full.count);
    auto load = [&](const ListRow &row, Value pos) {
      SmallVector<Value> at(row.at.begin(), row.at.end());
      at.push_back(pos);
      return SmallVector<Value>{
          cast(indexType, memref::LoadOp::create(b, loc, row.indices, at))};
    };
    Value block = emitIf(
        isFull, indexType, [&] { return load(full, i); },
        [&] { return load(partial, sub(i, full.count)); })[0];
    // A negative index compares as a huge unsigned value.
    emitIf(cmpi(P::ult, block, numBlocks), {}, [&] {
      Value word = add(divu(block, 32), select(isFull, idx(0), words));
      Value bit = arith::ShLIOp::create(b, loc, i32c(1),
                                        cast(i32, remu(block, 32)));
      memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::ori, bit, bits,
                                  ValueRange{word});
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
  });
  gpu::BarrierOp::create(b, loc);
  compactStagedTiles(bits, words, tilesPerBlock);
}

/// Lists the live kernel tiles of the marked blocks in the staged tiles,
/// each as 2 · tile + (1 if full), and ends them with -1: a tile is live
/// when its block is marked, it starts before the key length, and, for a
/// partial block, it is inside the structural band. Warp 0 does it alone,
/// one ballot per 32 blocks and tile of a block; the order of the tiles
/// does not matter to the softmax.
void ForwardKernelEmitter::compactStagedTiles(Value bits, Value words,
                                              Value tilesPerBlock) {
  using P = arith::CmpIPredicate;
  emitIf(cmpi(P::eq, warp, idx(0)), {}, [&] {
    Value laneBit = arith::IndexCastOp::create(b, loc, i32, lane);
    auto isMarked = [&](Value word) {
      Value bit = arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, word, laneBit), i32c(1));
      return cmpi(P::ne, bit, i32c(0));
    };
    auto rounds = scf::ForOp::create(
        b, loc, idx(0), words, idx(1), ValueRange{idx(0)},
        [&](OpBuilder &, Location, Value round, ValueRange args) {
          Value block = add(mul(round, 32), lane);
          Value isFull = isMarked(memref::LoadOp::create(b, loc, bits, round));
          Value isPartial = isMarked(
              memref::LoadOp::create(b, loc, bits, add(words, round)));
          Value marked = arith::OrIOp::create(b, loc, isFull, isPartial);
          auto subTiles = scf::ForOp::create(
              b, loc, idx(0), tilesPerBlock, idx(1), args,
              [&](OpBuilder &, Location, Value sub, ValueRange ends) {
                Value tile = add(mul(block, tilesPerBlock), sub);
                Value end =
                    compactTile(tile, marked, isFull, ends[0]);
                scf::YieldOp::create(b, loc, end);
              });
          scf::YieldOp::create(b, loc, subTiles.getResults());
        });
    emitIf(cmpi(P::eq, lane, idx(0)), {}, [&] {
      memref::StoreOp::create(b, loc, i32c(-1), sTiles, rounds.getResult(0));
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
    return SmallVector<Value>{};
  }, [] { return SmallVector<Value>{}; });
}

/// One ballot of compactStagedTiles: the lane's kernel tile `tile`, of a
/// block that is `marked` (and `isFull`), goes to slot `end` + (tiles kept
/// by lower lanes) if it is live. Returns the new end of the list.
Value ForwardKernelEmitter::compactTile(Value tile, Value marked,
                                        Value isFull, Value end) {
  using P = arith::CmpIPredicate;
  Value keep = arith::AndIOp::create(
      b, loc, marked, cmpi(P::slt, mul(tile, plan.blockKV), keyLen));
  if (spec.mask != MaskKind::None) {
    // A partial tile outside the band sees no key.
    Value inBand = arith::AndIOp::create(b, loc, cmpi(P::sge, tile, tileBegin),
                                         cmpi(P::slt, tile, tileEnd));
    keep = arith::AndIOp::create(
        b, loc, keep, arith::OrIOp::create(b, loc, isFull, inBand));
  }
  Value mask = NVVM::VoteSyncOp::create(b, loc, i32, i32c(-1), keep,
                                        NVVM::VoteSyncKind::ballot);
  auto popcount = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                        LLVM::CtPopOp::create(b, loc, i32, v));
  };
  Value before = popcount(arith::AndIOp::create(
      b, loc, mask, NVVM::LaneMaskLtOp::create(b, loc, i32)));
  emitIf(keep, {}, [&] {
    // 2 · tile + 1 fits in an i32: a key length below 2^35 is all that
    // memory holds.
    Value value = add(mul(tile, 2), arith::IndexCastUIOp::create(
                                        b, loc, b.getIndexType(), isFull));
    memref::StoreOp::create(b, loc,
                            arith::IndexCastOp::create(b, loc, i32, value),
                            sTiles, add(end, before));
    return SmallVector<Value>{};
  }, [] { return SmallVector<Value>{}; });
  return add(end, popcount(mask));
}

Value ForwardKernelEmitter::i32c(int32_t v) {
  return arith::ConstantIntOp::create(b, loc, i32, v);
}

/// Staged tile `pos` (i32): always in the list or its final -1.
Value ForwardKernelEmitter::loadStagedTile(Value pos) {
  Value at = arith::IndexCastOp::create(b, loc, b.getIndexType(), pos);
  return memref::LoadOp::create(b, loc, sTiles, at);
}

/// The key tile of staged tile `staged`.
Value ForwardKernelEmitter::stagedKeyTile(Value staged) {
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      arith::ShRSIOp::create(b, loc, staged, i32c(1)));
}

/// Prefetches staged tile `staged` into `stage`, unless it is the final -1.
void ForwardKernelEmitter::prefetchStaged(Value staged, Value stage) {
  emitIf(cmpi(arith::CmpIPredicate::sge, staged, i32c(0)), {}, [&] {
    prefetchTile(stagedKeyTile(staged), stage);
    return SmallVector<Value>{};
  }, [] { return SmallVector<Value>{}; });
}

/// What a staged tile visits. Full tiles skip the element mask but for the
/// key length; partial ones take the structural band and the key length.
ForwardKernelEmitter::KeyVisit ForwardKernelEmitter::visitSparse(Value staged) {
  Value tile = stagedKeyTile(staged);
  TileCoverage cover = coverTile(tile);
  // Without a structural mask, both lists mask the key length only.
  if (spec.mask == MaskKind::None)
    return {tile, cover.inBand, nullptr};
  Value isFull = arith::TruncIOp::create(b, loc, b.getI1Type(), staged);
  Value notFull = arith::XOrIOp::create(
      b, loc, isFull, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  return {tile, select(isFull, cover.whole, cover.inBand), notFull};
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
/// of the tile `stages` - 1 ahead (`prefetchNext`), folds what `visitFn` says into the warp
/// state `carried`, and returns the new state. One barrier both publishes
/// the tile and tells that every warp is done with the previous one, whose
/// stage the prefetch then overwrites while this tile is computed. (The
/// block-sparse loop has two stages.)
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
  prefetchNext();
  // Commit every iteration, even empty, so the wait count stays right.
  NVVM::CpAsyncCommitGroupOp::create(b, loc);

  KeyVisit visit = visitFn();
  SmallVector<Type> types = llvm::to_vector(carried.getTypes());
  auto step = [&](bool masked) {
    WarpState s = WarpState::unflatten(carried, 2 * plan.slicesPerWarp);
    computeTile(stage, visit.tile, masked, s, visit.band);
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

/// The block-sparse key loop over the staged tiles, up to their final -1,
/// prefetching tile i + 1 while tile i is folded. It carries the position
/// (i32) and nothing else: no trip count, no layout pointers.
SmallVector<Value> ForwardKernelEmitter::emitSparseLoop(ValueRange init) {
  auto stageOf = [&](Value pos) {
    return arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        arith::RemUIOp::create(b, loc, pos, i32c(plan.stages)));
  };
  SmallVector<Value> operands(init);
  operands.push_back(i32c(0));
  // The after region (and the loop's results) also take the current tile,
  // which the condition has read.
  SmallVector<Type> afterTypes =
      llvm::to_vector(ValueRange(operands).getTypes());
  afterTypes.push_back(i32);
  size_t numState = init.size();
  auto loop = scf::WhileOp::create(
      b, loc, afterTypes, operands,
      [&](OpBuilder &, Location, ValueRange args) {
        Value current = loadStagedTile(args[numState]);
        SmallVector<Value> forwarded(args);
        forwarded.push_back(current);
        scf::ConditionOp::create(
            b, loc, cmpi(arith::CmpIPredicate::sge, current, i32c(0)),
            forwarded);
      },
      [&](OpBuilder &, Location, ValueRange args) {
        Value pos = args[numState], current = args[numState + 1];
        Value next = add(pos, i32c(1));
        SmallVector<Value> updated = foldTile(
            args.take_front(numState), stageOf(pos),
            [&] { prefetchStaged(loadStagedTile(next), stageOf(next)); },
            [&] { return visitSparse(current); });
        updated.push_back(next);
        scf::YieldOp::create(b, loc, updated);
      });
  return SmallVector<Value>(loop.getResults().take_front(numState));
}

/// S = Q Kᵀ with mma.sync: per 16-row slice, n-tiles of 8 keys, loaded in
/// pairs (ldmatrix x4 covers 16 keys by 16 head-dim columns); each K
/// fragment serves every slice of the warp.
ForwardKernelEmitter::Scores ForwardKernelEmitter::computeScores(Value stage) {
  int64_t keyTiles8 = plan.blockKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Scores s(slices, SmallVector<Fragment>(keyTiles8, Fragment(4, f32c(0.0))));
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  // k-steps outermost: each Q fragment is read (or re-read from shared
  // memory) once per tile.
  for (int64_t ks = 0; ks < headSteps; ++ks) {
    SmallVector<Fragment> qa;
    for (int64_t mt = 0; mt < slices; ++mt)
      qa.push_back(queryFragment(mt, ks));
    Value chunk = add(idx(2 * ks), laneQuarter);
    for (int64_t np = 0; np < keyTiles8 / 2; ++np) {
      Value key = add(idx(16 * np), add(mul(laneHalf, 8), laneRow8));
      Fragment kr = ldmatrix(sK, {stage, key, swizzledColumn(key, chunk)},
                             /*transpose=*/false);
      for (int64_t mt = 0; mt < slices; ++mt) {
        s[mt][2 * np] = mma(qa[mt], {kr[0], kr[1]}, s[mt][2 * np]);
        s[mt][2 * np + 1] = mma(qa[mt], {kr[2], kr[3]}, s[mt][2 * np + 1]);
      }
    }
  }
  return s;
}

/// O += P V with mma.sync: P's accumulators become A fragments without data
/// movement; V is read transposed, each fragment serving every slice.
void ForwardKernelEmitter::accumulateValues(Value stage, const Scores &p,
                                            WarpState &state) {
  int64_t slices = plan.slicesPerWarp;
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  for (int64_t kk = 0; kk < plan.blockKV / 16; ++kk) {
    SmallVector<Fragment> a;
    for (int64_t mt = 0; mt < slices; ++mt)
      a.push_back(probabilityFragment(p, mt, kk));
    Value key = add(idx(16 * kk), add(mul(laneQuarter, 8), laneRow8));
    for (int64_t dp = 0; dp < headSteps; ++dp) {
      Value chunk = add(idx(2 * dp), laneHalf);
      Fragment vr = ldmatrix(sV, {stage, key, swizzledColumn(key, chunk)},
                             /*transpose=*/true);
      for (int64_t mt = 0; mt < slices; ++mt)
        for (int64_t half = 0; half < 2; ++half) {
          Fragment &acc = state.acc[mt * accTilesPerSlice + 2 * dp + half];
          acc = mma(a[mt], {vr[2 * half], vr[2 * half + 1]}, acc);
        }
    }
  }
}

/// The shared-memory address (i64) of the first element of `view`.
Value ForwardKernelEmitter::sharedAddress(Value view) {
  Value address =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, view);
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), address);
}

/// A wgmma shared-memory matrix descriptor of a 128-byte-swizzled operand
/// at `address`: the leading and stride byte offsets, the address in
/// 16-byte units (bits 0-13) and the swizzle mode (bits 62-63).
Value ForwardKernelEmitter::matrixDescriptor(Value address,
                                             int64_t leadingBytes,
                                             int64_t strideBytes) {
  int64_t fixed = (int64_t{1} << 62) | ((strideBytes >> 4) << 32) |
                  ((leadingBytes >> 4) << 16);
  Value field = arith::ShRUIOp::create(
      b, loc, arith::AndIOp::create(b, loc, address, i64c(0x3FFFF)), i64c(4));
  return arith::OrIOp::create(b, loc, field, i64c(fixed));
}

/// `descriptor` moved by `stage` · `stageBytes` + `bytes`: the address field
/// is the low bits, and no operand crosses the 256 KiB it spans.
Value ForwardKernelEmitter::offsetDescriptor(Value descriptor, Value stage,
                                             int64_t stageBytes,
                                             int64_t bytes) {
  Value moved = add(descriptor, i64c(bytes >> 4));
  if (!stage)
    return moved;
  Value stageUnits = mul(arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                                    stage),
                         i64c(stageBytes >> 4));
  return add(moved, stageUnits);
}

/// S = Q Kᵀ with warpgroup MMAs: per 64-row slice, one m64 x blockKV x k16
/// wgmma per head-dim step, Q and K both K-major in shared memory. The
/// first step ignores the (undefined) accumulator.
ForwardKernelEmitter::Scores
ForwardKernelEmitter::computeScoresWarpgroup(Value stage) {
  MLIRContext *ctx = b.getContext();
  int64_t n = plan.blockKV;
  auto accType = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(n / 2, f32));
  auto operandType = NVVM::WGMMATypesAttr::get(
      ctx, spec.elementType == KernelElementType::F16 ? NVVM::WGMMATypes::f16
                                                      : NVVM::WGMMATypes::bf16);
  auto scaleIn = NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one);
  int64_t kStageBytes = plan.paddedHeadDim * plan.blockKV * 2;
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  SmallVector<Value> acc;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    Value d = LLVM::PoisonOp::create(b, loc, accType);
    for (int64_t ks = 0; ks < headSteps; ++ks) {
      // Step ks is 16 columns into 64-column chunk ks / 4.
      int64_t column = (ks % 4) * 32;
      Value a = offsetDescriptor(
          qDesc, nullptr, 0,
          (ks / 4) * plan.blockQ * 128 + mt * 64 * 128 + column);
      Value bDesc = offsetDescriptor(kDesc, stage, kStageBytes,
                                     (ks / 4) * plan.blockKV * 128 + column);
      d = NVVM::WgmmaMmaAsyncOp::create(
          b, loc, accType, d, a, bDesc, NVVM::MMAShapeAttr::get(ctx, 64, n, 16),
          operandType, operandType,
          NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
          NVVM::WGMMAScaleOutAttr::get(ctx, ks == 0 ? NVVM::WGMMAScaleOut::zero
                                                    : NVVM::WGMMAScaleOut::one),
          scaleIn, scaleIn,
          NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
          NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
          /*satfinite=*/nullptr);
    }
    acc.push_back(d);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  Scores s(plan.slicesPerWarp);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    for (int64_t j = 0; j < n / 8; ++j) {
      Fragment f;
      for (int64_t e = 0; e < 4; ++e)
        f.push_back(LLVM::ExtractValueOp::create(b, loc, acc[mt], 4 * j + e));
      s[mt].push_back(f);
    }
  return s;
}

/// O += P V with warpgroup MMAs: per slice, one m64 x Dp x k16 wgmma per 16
/// keys, P from registers and V (MN-major) from shared memory. MLIR 22 has
/// no op for the register-A form, hence the inline PTX.
void ForwardKernelEmitter::accumulateValuesWarpgroup(Value stage,
                                                     const Scores &p,
                                                     WarpState &state) {
  MLIRContext *ctx = b.getContext();
  int64_t n = plan.paddedHeadDim;
  int64_t numAcc = n / 2;
  auto accType = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(numAcc, f32));
  std::string asmString;
  {
    llvm::raw_string_ostream os(asmString);
    os << "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
       << "wgmma.mma_async.sync.aligned.m64n" << n << "k16.f32."
       << spec.getElementTypeName() << "." << spec.getElementTypeName()
       << " {";
    for (int64_t i = 0; i < numAcc; ++i)
      os << (i ? ", " : "") << "$" << i;
    os << "}, {";
    for (int64_t i = 0; i < 4; ++i)
      os << (i ? ", " : "") << "$" << 2 * numAcc + i;
    // Scale D by 1 (p), A and B by 1, B transposed (MN-major).
    os << "}, $" << 2 * numAcc + 4 << ", p, 1, 1, 1;\n}";
  }
  std::string constraints;
  for (int64_t i = 0; i < numAcc; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < numAcc; ++i)
    constraints += std::to_string(i) + ",";
  constraints += "r,r,r,r,l";
  int64_t vStageBytes = plan.paddedHeadDim * plan.blockKV * 2;
  // Every P fragment is packed before the fence: registers written between
  // wgmmas that read them would make ptxas serialize the chain.
  SmallVector<SmallVector<Fragment>> a(plan.slicesPerWarp);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    for (int64_t kk = 0; kk < plan.blockKV / 16; ++kk)
      a[mt].push_back(probabilityFragment(p, mt, kk));
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  SmallVector<Value> structs;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    SmallVector<Value> operands;
    for (int64_t j = 0; j < accTilesPerSlice; ++j)
      operands.append(state.acc[mt * accTilesPerSlice + j]);
    Value d;
    for (int64_t kk = 0; kk < plan.blockKV / 16; ++kk) {
      SmallVector<Value> args(operands);
      if (d) {
        args.clear();
        for (int64_t i = 0; i < numAcc; ++i)
          args.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
      }
      args.append(a[mt][kk]);
      args.push_back(offsetDescriptor(vDesc, stage, vStageBytes, kk * 2048));
      d = LLVM::InlineAsmOp::create(
              b, loc, accType, args, asmString, constraints,
              /*has_side_effects=*/true, /*is_align_stack=*/false,
              LLVM::TailCallKind::None,
              LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
              /*operand_attrs=*/ArrayAttr())
              .getResult(0);
    }
    structs.push_back(d);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt)
    for (int64_t j = 0; j < accTilesPerSlice; ++j) {
      Fragment &f = state.acc[mt * accTilesPerSlice + j];
      for (int64_t e = 0; e < 4; ++e)
        f[e] = LLVM::ExtractValueOp::create(b, loc, structs[mt], 4 * j + e);
    }
}

/// Folds key tile `keyTile`, held in shared-memory stage `stage`, into the
/// warp's softmax state.
void ForwardKernelEmitter::computeTile(Value stage, Value keyTile, bool masked,
                                       WarpState &state, Value band) {
  int64_t keyTiles8 = plan.blockKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Scores s = plan.warpgroupMMA ? computeScoresWarpgroup(stage)
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
  // .minnctapersm 1: without it ptxas may trade registers for occupancy
  // and spill (seen at D = 96 on sm_80).
  func->setAttr("nvvm.minctasm", b.getI32IntegerAttr(1));

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
  Value queryTile = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  // Under a causal mask the last query tiles see the most keys: launch
  // them first, so that the short ones fill the tail of the grid.
  if (spec.mask == MaskKind::CausalTopLeft ||
      spec.mask == MaskKind::CausalBottomRight)
    queryTile = sub(sub(gpu::GridDimOp::create(b, loc, gpu::Dimension::x),
                        idx(1)),
                    queryTile);
  head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value queryHeads = memref::DimOp::create(b, loc, q, 1);
  Value kvHeads = memref::DimOp::create(b, loc, k, 1);
  kvHead = arith::DivUIOp::create(
      b, loc, head, arith::DivUIOp::create(b, loc, queryHeads, kvHeads));
  queryLen = memref::DimOp::create(b, loc, q, 2);
  keyLen = memref::DimOp::create(b, loc, k, 2);
  offset = sub(keyLen, queryLen);
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
  int64_t kvBytes = plan.stages * plan.blockKV * dp * 2;
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
        add(sharedAddress(sQ),
            arith::IndexCastOp::create(b, loc, b.getI64Type(), warpgroupRows)),
        16, 1024);
    kDesc = matrixDescriptor(sharedAddress(sK), 16, 1024);
    vDesc = matrixDescriptor(sharedAddress(sV), plan.blockKV * 128, 1024);
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

} // namespace

gpu::GPUFuncOp mlir::flash::buildForwardKernel(OpBuilder &builder,
                                               Location loc,
                                               const KernelSpec &spec,
                                               const KernelPlan &plan) {
  return ForwardKernelEmitter(builder, loc, spec, plan).emit();
}
