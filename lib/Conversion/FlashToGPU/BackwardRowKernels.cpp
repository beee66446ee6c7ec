//===- BackwardRowKernels.cpp - The backward's row-wise kernels -----------===//
//
// The kernels around the backward's main kernel, which work row by row:
// each warp of a CTA takes kBackwardRowsPerCta / warps query rows, its lanes
// two adjacent columns of every 64: the preprocessing kernel (delta, and
// the dQ workspace zeroed) and the dQ kernel (the workspace scaled into
// the element type). Both take the backward's common signature.
//
//===----------------------------------------------------------------------===//

#include "BackwardKernels.h"
#include "KernelBuilder.h"

#include "flash/Conversion/FlashToGPU/KernelABI.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

gpu::GPUFuncOp mlir::flash::detail::createBackwardFunc(OpBuilder &b,
                                                       Location loc,
                                                       const KernelSpec &spec,
                                                       StringRef name,
                                                       int64_t threads) {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic;
  Type elt = spec.getElementType(ctx), f32 = b.getF32Type();
  auto rows = [&](Type element, int64_t rank) {
    SmallVector<int64_t> strides(rank - 1, dyn);
    strides.push_back(1);
    return MemRefType::get(SmallVector<int64_t>(rank, dyn), element,
                           StridedLayoutAttr::get(ctx, dyn, strides));
  };
  SmallVector<Type> argTypes = KernelBuilder(b, loc).getParamTypes(
      getBackwardParams(spec.features), [&](unsigned position, int64_t rank) -> Type {
        bool f32Tensor = rank == 3 || position == kGradQueryAccum;
        return rows(f32Tensor ? f32 : elt, rank);
      });
  auto func = gpu::GPUFuncOp::create(b, loc, name,
                                     b.getFunctionType(argTypes, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  b.setInsertionPointToStart(&func.getBody().front());
  return func;
}

namespace {

/// Calls `body(row, lane)` for each query row < Lq of the CTA's warp, with
/// batch and head from the grid, and returns after the kernel's return.
void forEachRow(KernelBuilder &kb, gpu::GPUFuncOp func,
                function_ref<void(Value batch, Value head, Value row,
                                  Value lane)>
                    body) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  Value q = func.getArgument(kGradQuery);
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value lane = kb.remu(tid, 32), warp = kb.divu(tid, 32);
  Value head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value tile = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value queryLen = memref::DimOp::create(b, loc, q, 2);
  int64_t rowsPerWarp = kBackwardRowsPerCta / (kBackwardRowThreads / 32);
  Value firstRow = kb.add(kb.mul(tile, kBackwardRowsPerCta),
                          kb.mul(warp, rowsPerWarp));
  for (int64_t r = 0; r < rowsPerWarp; ++r) {
    Value row = kb.add(firstRow, kb.idx(r));
    kb.emitIf(kb.cmpi(arith::CmpIPredicate::slt, row, queryLen), {}, [&] {
      body(batch, head, row, lane);
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
  }
  gpu::ReturnOp::create(b, loc);
}

/// Calls `body(column)` for the thread's column pairs below the head dim,
/// 2 · lane + 64 · j. With `sums`, body returns an f32 and the result is
/// their sum; otherwise both are null.
Value forEachColumnPair(KernelBuilder &kb, int64_t headDim, Value lane,
                        bool sums, function_ref<Value(Value column)> body) {
  Value sum = sums ? kb.f32c(0.0) : Value();
  for (int64_t j = 0, e = llvm::divideCeil(headDim, 64); j < e; ++j) {
    Value col = kb.add(kb.mul(lane, 2), kb.idx(64 * j));
    auto visit = [&] {
      Value value = body(col);
      return sums ? SmallVector<Value>{value} : SmallVector<Value>{};
    };
    SmallVector<Value> part;
    if (64 * (j + 1) <= headDim) {
      part = visit();
    } else {
      // The last 64 columns are partial.
      part = kb.emitIf(
          kb.cmpi(arith::CmpIPredicate::slt, col, kb.idx(headDim)),
          sums ? TypeRange(kb.f32) : TypeRange(), visit, [&] {
            return sums ? SmallVector<Value>{kb.f32c(0.0)}
                        : SmallVector<Value>{};
          });
    }
    if (sums)
      sum = kb.fadd(sum, part[0]);
  }
  return sum;
}

} // namespace

Value mlir::flash::detail::getQueryGradSemaphore(KernelBuilder &kb,
                                                 Value base, Value batch,
                                                 Value head, Value heads,
                                                 Value queryLen,
                                                 Value rowBlock) {
  Value blocks = kb.divu(kb.add(queryLen, kb.idx(kBackwardRowsPerCta - 1)),
                         kBackwardRowsPerCta);
  Value entry =
      kb.add(kb.mul(kb.add(kb.mul(batch, heads), head), blocks), rowBlock);
  return kb.add(base, arith::IndexCastOp::create(kb.b, kb.loc,
                                                 kb.b.getI64Type(),
                                                 kb.mul(entry, 4)));
}

void mlir::flash::detail::buildBackwardPreprocessKernel(
    OpBuilder &b, Location loc, const KernelSpec &spec, StringRef name) {
  OpBuilder::InsertionGuard guard(b);
  gpu::GPUFuncOp func =
      createBackwardFunc(b, loc, spec, name, kBackwardRowThreads);
  KernelBuilder kb(b, loc);
  Type elt = spec.getElementType(b.getContext());
  auto pairOf = [&](Type type) { return VectorType::get({2}, type); };
  Value o = func.getArgument(kGradOutput);
  Value dO = func.getArgument(kGradOutputGrad);
  Value dlse = func.getArgument(kGradLseGrad);
  Value delta = func.getArgument(kGradDelta);
  Value accum = func.getArgument(kGradQueryAccum);
  Value semaphores = func.getArgument(kGradQuerySemaphores);
  Value deterministic = kb.cmpi(arith::CmpIPredicate::ne, semaphores,
                                kb.i64c(0));
  // A null dlse: no gradient flows into the lse.
  Value hasLseGrad = kb.cmpi(
      arith::CmpIPredicate::ne,
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, dlse), kb.idx(0));
  forEachRow(kb, func, [&](Value batch, Value head, Value row, Value lane) {
    SmallVector<Value, 3> at{batch, head, row};
    Value zeros = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(pairOf(kb.f32), 0.0f));
    Value sum = forEachColumnPair(kb, spec.headDim, lane, /*sums=*/true,
                                  [&](Value col) {
      SmallVector<Value> indices{batch, head, row, col};
      auto load = [&](Value tensor) {
        Value pair = vector::LoadOp::create(b, loc, pairOf(elt), tensor,
                                            indices);
        return arith::ExtFOp::create(b, loc, pairOf(kb.f32), pair).getResult();
      };
      Value product = arith::MulFOp::create(b, loc, load(o), load(dO));
      vector::StoreOp::create(b, loc, zeros, accum, indices);
      return kb.fadd(vector::ExtractOp::create(b, loc, product, 0),
                     vector::ExtractOp::create(b, loc, product, 1));
    });
    for (int32_t offset = 16; offset >= 1; offset /= 2)
      sum = kb.fadd(sum, kb.shuffleXor(sum, offset));
    Value lseGrad = kb.emitIf(
        hasLseGrad, kb.f32,
        [&] {
          return SmallVector<Value>{memref::LoadOp::create(b, loc, dlse, at)};
        },
        [&] { return SmallVector<Value>{kb.f32c(0.0)}; })[0];
    kb.emitIf(kb.cmpi(arith::CmpIPredicate::eq, lane, kb.idx(0)), {}, [&] {
      memref::StoreOp::create(b, loc, kb.fsub(sum, lseGrad), delta, at);
      // The first row of each 16 zeroes their dQ semaphore.
      Value first = kb.cmpi(arith::CmpIPredicate::eq,
                            kb.remu(row, kBackwardRowsPerCta), kb.idx(0));
      kb.emitIf(arith::AndIOp::create(b, loc, deterministic, first), {}, [&] {
        kb.storeRelaxed(
            getQueryGradSemaphore(kb, semaphores, batch, head,
                                  memref::DimOp::create(b, loc, delta, 1),
                                  memref::DimOp::create(b, loc, delta, 2),
                                  kb.divu(row, kBackwardRowsPerCta)),
            kb.i32c(0));
        return SmallVector<Value>{};
      }, [] { return SmallVector<Value>{}; });
      return SmallVector<Value>{};
    }, [] { return SmallVector<Value>{}; });
  });
}

void mlir::flash::detail::buildBackwardQueryGradKernel(
    OpBuilder &b, Location loc, const KernelSpec &spec, StringRef name) {
  OpBuilder::InsertionGuard guard(b);
  gpu::GPUFuncOp func =
      createBackwardFunc(b, loc, spec, name, kBackwardRowThreads);
  KernelBuilder kb(b, loc);
  Type elt = spec.getElementType(b.getContext());
  Value accum = func.getArgument(kGradQueryAccum);
  Value dq = func.getArgument(kGradQueryGrad);
  Value scale =
      kb.fmul(func.getArgument(kGradScaleLog2), kb.f32c(llvm::numbers::ln2));
  auto pairType = VectorType::get({2}, kb.f32);
  Value scales = vector::BroadcastOp::create(b, loc, pairType, scale);
  forEachRow(kb, func, [&](Value batch, Value head, Value row, Value lane) {
    forEachColumnPair(kb, spec.headDim, lane, /*sums=*/false, [&](Value col) {
      SmallVector<Value> indices{batch, head, row, col};
      Value sum = vector::LoadOp::create(b, loc, pairType, accum, indices);
      Value scaled = arith::MulFOp::create(b, loc, sum, scales);
      Value narrow = arith::TruncFOp::create(
          b, loc, VectorType::get({2}, elt), scaled);
      vector::StoreOp::create(b, loc, narrow, dq, indices);
      return Value();
    });
  });
}
