//===- TileCopies.cpp - Shared-memory tiles and their copies --------------===//
//
// The cp.async copies that fill the forward kernel's shared-memory tiles
// from global memory: Q once, K and V tile by tile, in 16-byte chunks placed
// where the MMA flavour lays them out (ForwardKernel.cpp describes the
// schedule).
//
//===----------------------------------------------------------------------===//

#include "ForwardKernelEmitter.h"
#include "TileCopies.h"

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
  copyTileChunks(*this,
                 {src, batch, srcHead, row0, len, rows, inBounds, spec.headDim,
                  plan.paddedHeadDim},
                 dst, tid, threads, r0, c0, [&](Value r, Value c) {
                   return mma->getChunkIndices(stage, r, c);
                 });
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
       llvm::zip_equal(mma->getChunkIndices(stage, r0, c0), dstStrides))
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

/// Issues the copies of K and V tile `keyTile` into `stage`; only a tile
/// that reaches past the key length takes the guarded copies.
void ForwardKernelEmitter::prefetchTile(Value keyTile, Value stage) {
  Value row0 = mul(keyTile, plan.ctaKV);
  Value whole = cmpi(arith::CmpIPredicate::sle,
                     add(row0, idx(plan.ctaKV)), keyLen);
  auto copy = [&](bool inBounds) {
    copyTile(k, kvHead, row0, keyLen, sK, stage, plan.ctaKV, inBounds);
    copyTile(v, kvHead, row0, keyLen, sV, stage, plan.ctaKV, inBounds);
    return SmallVector<Value>{};
  };
  emitIf(whole, {}, [&] { return copy(true); }, [&] { return copy(false); });
}


void mlir::flash::detail::copyTileChunks(
    KernelBuilder &kb, const TileRows &tile, Value dst, Value tid,
    int64_t threads, Value r0, Value c0,
    function_ref<SmallVector<Value>(Value, Value)> chunkIndices) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  int64_t chunksPerRow = tile.paddedHeadDim / 8;
  int64_t total = tile.rows * chunksPerRow;
  assert(total % threads == 0 && "tile copies must split evenly");
  bool wholeRows = threads % chunksPerRow == 0;
  int64_t rowsPerCopy = threads / chunksPerRow;
  for (int64_t it = 0; it < total / threads; ++it) {
    Value r = kb.add(r0, kb.idx(it * rowsPerCopy)), c = c0;
    if (!wholeRows) {
      Value chunk = kb.add(tid, kb.idx(it * threads));
      r = kb.divu(chunk, chunksPerRow);
      c = kb.remu(chunk, chunksPerRow);
    }
    Value globalRow = kb.add(tile.row0, r);
    Value srcRow = globalRow, srcCol = kb.mul(c, 8), count = kb.idx(8);
    Value valid;
    if (!tile.inBounds) {
      valid = kb.cmpi(arith::CmpIPredicate::slt, globalRow, tile.len);
      srcRow = kb.select(valid, globalRow, kb.idx(0));
    }
    if (tile.paddedHeadDim != tile.headDim) {
      Value colValid =
          kb.cmpi(arith::CmpIPredicate::slt, srcCol, kb.idx(tile.headDim));
      valid = valid ? arith::AndIOp::create(b, loc, valid, colValid)
                    : colValid;
      srcCol = kb.select(colValid, srcCol, kb.idx(0));
    }
    if (valid)
      count = kb.select(valid, kb.idx(8), kb.idx(0));
    SmallVector<Value> dstIdx = chunkIndices(r, c);
    nvgpu::DeviceAsyncCopyOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), dst, dstIdx,
        tile.src, ValueRange{tile.batch, tile.head, srcRow, srcCol},
        b.getIndexAttr(8), count, b.getUnitAttr());
  }
}
