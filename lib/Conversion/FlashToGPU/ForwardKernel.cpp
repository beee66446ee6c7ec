//===- ForwardKernel.cpp - The tensor-core forward attention kernel -------===//
//
// Emits the FlashAttention-2 forward schedule at the gpu/nvgpu/nvvm level:
//
//   one CTA per (query tile, query head, batch), causal grids starting
//   their longest tiles first (GridSchedule.h); each warp owns
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
// The products run on an MMA flavour (MmaFlavor.h): mma.sync as above
// (MmaSync.cpp), or on sm_90a, where the plan asks for them, Hopper's
// warpgroup MMAs (WarpgroupMMA.cpp), which read Q, K and V from shared
// memory and may be issued before the next tile's copies
// (scoresBeforeCopies). The flavour lays out the shared-memory tiles; each
// warp's part of an accumulator has the mma.sync layout in both, so the
// softmax, the masks and the epilogue here are shared.
//
// Fragment layouts (lane = 32-lane index, g = lane / 4, c = lane % 4): an
// accumulator holds (row g, cols 2c, 2c+1) in [0, 1] and (row g + 8, same
// cols) in [2, 3]; an A fragment holds (row g, k 2c..) (row g+8, k 2c..)
// (row g, k 2c+8..) (row g+8, k 2c+8..), each two packed 16-bit values.
//
//===----------------------------------------------------------------------===//

#include "flash/Conversion/FlashToGPU/ForwardKernel.h"
#include "flash/Conversion/FlashToGPU/KernelABI.h"

#include "ForwardKernelEmitter.h"
#include "GridSchedule.h"

#include "flash/Dialect/Flash/IR/KeyBand.h"

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

using namespace mlir::flash::detail;

/// The keys visible to query `row`: [lo, hi], with hi clamped to the last
/// key and lo null when there is no lower bound. Where `band` (i1, null:
/// true) is false, only the key length bounds them: the full tiles of a
/// block-sparse layout skip the structural mask.
std::pair<Value, Value> ForwardKernelEmitter::visibleKeys(Value row,
                                                          Value band) {
  Value last = sub(keyLen, idx(1));
  if (keyBand.isEverything())
    return {nullptr, last};
  auto [lo, hi] = keyBand.getKeys(b, loc, row);
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
  Value firstKey = mul(keyTile, plan.ctaKV);
  Value lastKey = add(firstKey, idx(plan.ctaKV - 1));
  Value whole = cmpi(arith::CmpIPredicate::slt, lastKey, keyLen);
  return {whole, keyBand.coversKeys(b, loc, tileRow0, lastRow, firstKey,
                                    lastKey, /*given=*/whole)};
}

ForwardKernelEmitter::KeyVisit ForwardKernelEmitter::visitDense(Value keyTile) {
  return {keyTile, coverTile(keyTile).inBand, nullptr};
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
  mma->fenceCopies();
  gpu::BarrierOp::create(b, loc);
  // The tensor cores may run Q Kᵀ while the warps issue the next tile's
  // copies.
  SmallVector<Value> pendingScores;
  if (plan.scoresBeforeCopies)
    pendingScores = mma->issueScores(stage);
  prefetchNext();
  // Commit every iteration, even empty, so the wait count stays right.
  NVVM::CpAsyncCommitGroupOp::create(b, loc);

  KeyVisit visit = visitFn();
  std::optional<Scores> scores;
  if (plan.scoresBeforeCopies)
    scores = mma->collectScores(pendingScores);
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

gpu::GPUFuncOp ForwardKernelEmitter::emit() {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic;
  auto strided4 = StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, dyn, 1});
  auto tensorType = MemRefType::get({dyn, dyn, dyn, dyn}, elt, strided4);
  auto lseType = MemRefType::get({dyn, dyn, dyn}, f32,
                                 StridedLayoutAttr::get(ctx, dyn, {dyn, dyn, 1}));
  // The element tensors take the kernel's element type, the lse f32 and
  // the layout's lists i32 (any strides); scalars as they are
  // (KernelABI.h).
  auto indexList = [&](int64_t rank) {
    SmallVector<int64_t> shape(rank, dyn);
    return MemRefType::get(
        shape, i32,
        StridedLayoutAttr::get(ctx, dyn, SmallVector<int64_t>(rank, dyn)));
  };
  SmallVector<Type> argTypes = getParamTypes(
      getForwardParams(spec.features),
      [&](unsigned position, int64_t rank) -> Type {
        if (position >= kNumDenseForwardParams)
          return indexList(rank);
        return rank == 4 ? Type(tensorType) : Type(lseType);
      });
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
  q = args[kQuery];
  k = args[kKey];
  v = args[kValue];
  o = args[kOutput];
  lse = args[kLse];
  scaleLog2 = args[kScaleLog2];
  windowLeft = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                          args[kWindowLeft]);
  windowRight = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                           args[kWindowRight]);

  tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  lane = remu(tid, 32);
  warp = divu(tid, 32);
  groupRow = divu(lane, 4);
  groupCol = remu(lane, 4);
  warpRow0 = mma->getWarpFirstRow(warp);
  CtaTile cta = mapCtaToTile(*this, spec, plan);
  Value queryTile = cta.queryTile;
  head = cta.head;
  batch = cta.batch;
  Value queryHeads = memref::DimOp::create(b, loc, q, 1);
  Value kvHeads = memref::DimOp::create(b, loc, k, 1);
  kvHead = divu(head, divu(queryHeads, kvHeads));
  queryLen = memref::DimOp::create(b, loc, q, 2);
  keyLen = memref::DimOp::create(b, loc, k, 2);
  offset = sub(keyLen, queryLen);
  // Window sides clamped to Lq + Lk (KeyBand.h): INT64_MAX is a valid
  // "unbounded".
  if (spec.mask == MaskKind::SlidingWindow)
    std::tie(windowLeft, windowRight) =
        clampWindowSides(b, loc, windowLeft, windowRight, queryLen, keyLen);
  keyBand = KeyBand(spec.mask, offset, windowLeft, windowRight);
  if (spec.features.dropout) {
    dropout = std::make_unique<DropoutMask>(
        *this, args.take_back(kNumDropoutParams));
    dropout->setHead(batch, head, queryHeads);
  }
  tileRow0 = mul(queryTile, plan.ctaQ);

  // Shared memory: Q, then the K stages, then the V stages.
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value smem = gpu::DynamicSharedMemoryOp::create(
      b, loc, MemRefType::get({dyn}, b.getI8Type(), nullptr, workgroup));
  int64_t dp = plan.paddedHeadDim;
  auto tileType = [&](ArrayRef<int64_t> stages, int64_t rows) {
    SmallVector<int64_t> shape(stages);
    shape.append(mma->getTileShape(rows));
    return MemRefType::get(shape, elt, nullptr, workgroup);
  };
  int64_t qBytes = plan.ctaQ * dp * 2;
  int64_t kvBytes = plan.stages * plan.ctaKV * dp * 2;
  Value base = mma->getTilesOffset(smem);
  sQ = memref::ViewOp::create(b, loc, tileType({}, plan.ctaQ), smem, base,
                              ValueRange{});
  sK = memref::ViewOp::create(b, loc, tileType({plan.stages}, plan.ctaKV),
                              smem, add(base, idx(qBytes)), ValueRange{});
  sV = memref::ViewOp::create(b, loc, tileType({plan.stages}, plan.ctaKV),
                              smem, add(base, idx(qBytes + kvBytes)),
                              ValueRange{});
  mma->setOperands({sQ, sK, sV, lane, warp, warpRow0});

  // Key tiles that can hold a visible key: [begin, end).
  Value numKeyTiles = arith::CeilDivUIOp::create(b, loc, keyLen,
                                                 idx(plan.ctaKV));
  lastRow = sub(minsi(add(tileRow0, idx(plan.ctaQ)), queryLen), idx(1));
  std::tie(tileBegin, tileEnd) = keyBand.getTileRange(
      b, loc, tileRow0, lastRow, numKeyTiles, plan.ctaKV);

  // Prologue: Q (one group), then the first stages - 1 K/V tiles (a group
  // each, empty past the last tile).
  copyTile(q, head, tileRow0, queryLen, sQ, nullptr, plan.ctaQ,
           /*inBounds=*/false);
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  if (spec.features.blockSparse) {
    stageSparseRow(func.getArguments().drop_front(kNumDenseForwardParams),
                   smem);
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
    mma->loadQuery();
  }

  // The key loop (an iteration is foldTile), carrying the warp state.
  int64_t rowsPerThread = 2 * plan.slicesPerWarp;
  WarpState initState;
  initState.rowMax.assign(rowsPerThread, negInf());
  initState.rowSum.assign(rowsPerThread, f32c(0.0));
  initState.acc.assign(plan.slicesPerWarp * mma->getAccTilesPerSlice(),
                       Fragment(4, f32c(0.0)));
  SmallVector<Value> init = initState.flatten();
  SmallVector<Value> results =
      spec.features.blockSparse ? emitSparseLoop(init) : emitDenseLoop(init);
  WarpState state = WarpState::unflatten(results, rowsPerThread);

  // Epilogue: full row sums, normalization (and dropout's scale), stores.
  auto pairType = VectorType::get({2}, elt);
  Value keptScale = dropout ? dropout->getKeptScale() : nullptr;
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
    if (keptScale)
      inv = fmul(inv, keptScale);
    Value inRange = cmpi(arith::CmpIPredicate::slt, row, queryLen);
    Value lseValue = fmul(fadd(safeMax(state.rowMax[r]), log2(l)),
                          f32c(llvm::numbers::ln2));
    emitIf(inRange, {}, [&] {
      for (int64_t n = 0; n < spec.headDim / 8; ++n) {
        const Fragment &acc = state.acc[mt * mma->getAccTilesPerSlice() + n];
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
