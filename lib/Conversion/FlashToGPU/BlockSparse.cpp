//===- BlockSparse.cpp - The block-sparse key loop of the forward kernel --===//

#include "ForwardKernelEmitter.h"

#include "flash/Conversion/FlashToGPU/KernelABI.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

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
  // layoutArgs are the kernel's arguments past the dense ones (KernelABI.h).
  auto layoutArg = [&](ForwardParam param) {
    return layoutArgs[param - kNumDenseForwardParams];
  };
  Value layoutBlockQ =
      maxsi(cast(indexType, layoutArg(kLayoutBlockQ)), idx(1));
  Value layoutBlockKV =
      maxsi(cast(indexType, layoutArg(kLayoutBlockKV)), idx(1));
  Value tilesPerBlock = maxsi(divu(layoutBlockKV, plan.ctaKV), idx(1));
  Value numBlocks = arith::CeilDivUIOp::create(b, loc, keyLen, layoutBlockKV);
  Value layoutTile = divu(tileRow0, layoutBlockQ);

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
  ListRow full =
      readList(layoutArg(kFullKvNumBlocks), layoutArg(kFullKvIndices));
  ListRow partial = readList(layoutArg(kKvNumBlocks), layoutArg(kKvIndices));

  // Shared memory past the K and V stages (KernelABI.h): the staged tiles
  // (every kernel tile of the NKV blocks, and the final -1), then the two
  // bitmaps.
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto wordsType =
      MemRefType::get({ShapedType::kDynamic}, i32, nullptr, workgroup);
  LayoutStaging staging = getLayoutStaging(b, loc, numBlocks, tilesPerBlock);
  Value capacity = staging.tileWords;
  Value words = staging.bitmapWords;
  Value base = idx(plan.getSharedMemoryBytes());
  sTiles = memref::ViewOp::create(b, loc, wordsType, smem, base,
                                  ValueRange{capacity});
  Value bits = memref::ViewOp::create(
      b, loc, wordsType, smem,
      add(base, mul(capacity, LayoutStaging::kWordBytes)),
      ValueRange{mul(words, LayoutStaging::kNumBitmaps)});

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
      b, loc, marked, cmpi(P::slt, mul(tile, plan.ctaKV), keyLen));
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

/// The block-sparse key loop over the staged tiles, up to their final -1,
/// prefetching tile i + 1 while tile i is folded. It carries the position
/// (i32) and nothing else: no trip count, no layout pointers.
SmallVector<Value> ForwardKernelEmitter::emitSparseLoop(ValueRange init) {
  auto stageOf = [&](Value pos) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                      remu(pos, i32c(plan.stages)));
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
