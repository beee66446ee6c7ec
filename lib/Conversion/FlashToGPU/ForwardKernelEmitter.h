//===- ForwardKernelEmitter.h - The forward kernel's emitter -*- C++ -*-===//
//
// The emitter of the forward kernel (ForwardKernel.cpp describes the
// schedule), shared by the files that build its parts: the key loop, the
// softmax and the epilogue (ForwardKernel.cpp), the mma.sync products
// (MmaSync.cpp), the warpgroup-MMA products (WarpgroupMMA.cpp) and the
// block-sparse staging and loop (BlockSparse.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H
#define LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H

#include "flash/Conversion/FlashToGPU/KernelPlan.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

namespace mlir::flash::detail {

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
  Value divu(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value divu(Value x, int64_t y) { return divu(x, idx(y)); }
  Value remu(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value remu(Value x, int64_t y) { return remu(x, idx(y)); }
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
  /// The address (i64) of `memref`'s aligned buffer, from which its offset
  /// counts: the first element of the shared-memory tile views.
  Value alignedAddress(Value memref) {
    Value address =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), address);
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
  void copyWholeRows(Value src, Value head, Value row0, Value len, Value dst,
                     Value stage, int64_t copies, Value r0, Value c0,
                     int64_t rowsPerCopy, bool inBounds);
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
    return add(add(tileRow0, add(warpRow0, idx(plan.getSliceRows() * (r / 2) +
                                                8 * (r % 2)))),
               groupRow);
  }
  using Scores = SmallVector<SmallVector<Fragment>>;
  /// S = Q Kᵀ of the tile in `stage`: per slice, per 8-key n-tile.
  Scores computeScores(Value stage);
  SmallVector<Value> issueScoresWarpgroup(Value stage);
  Scores collectScoresWarpgroup(ArrayRef<Value> acc);
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
  /// Bytes of one stage of K (or of V) in shared memory.
  int64_t getStageBytes() const {
    return plan.blockKV * plan.paddedHeadDim * 2;
  }
  // Warpgroup MMA helpers.
  Value i64c(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
  }
  Value matrixDescriptor(Value address, int64_t leadingBytes,
                         int64_t strideBytes);
  Value offsetDescriptor(Value descriptor, Value stage, int64_t stageBytes,
                         int64_t bytes);
  /// Folds the tile in `stage` into `state`; `scores` are its Q Kᵀ when
  /// already computed (KernelPlan::scoresBeforeCopies).
  void computeTile(Value stage, Value keyTile, bool masked, WarpState &state,
                   Value band = nullptr, const Scores *scores = nullptr);

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

  /// A causal kernel's CTA: sets `head` and `batch` and returns the query
  /// tile, so that the grid runs the longest tiles first across heads.
  Value scheduleCausalTile();

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
  // 8-column tiles of O per slice.
  int64_t accTilesPerSlice;

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

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H
