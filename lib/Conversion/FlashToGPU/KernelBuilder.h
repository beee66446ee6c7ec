//===- KernelBuilder.h - The vocabulary of the GPU kernels' IR --*- C++ -*-===//
//
// Small builders that every part of a generated kernel uses: index and
// float constants and arithmetic, the NVVM special functions (exp2 and
// log2 without libdevice), warp shuffles and scf.if with results. The
// kernel emitters and the MMA flavours (MmaFlavor.h) build their IR through
// it, so that each reads as the arithmetic it emits.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_KERNELBUILDER_H
#define LIB_CONVERSION_FLASHTOGPU_KERNELBUILDER_H

#include "flash/Conversion/FlashToGPU/KernelABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <limits>

namespace mlir::flash::detail {

/// A fragment of four f32 accumulators, or of four packed 16-bit pairs.
using Fragment = SmallVector<Value, 4>;

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc)
      : b(b), loc(loc), f32(b.getF32Type()), i32(b.getI32Type()) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32c(int32_t v) { return arith::ConstantIntOp::create(b, loc, i32, v); }
  Value i64c(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
  }
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

  /// `v` (an index or i64) through an identity the compiler cannot see through.
  /// Addresses derived from it inside a loop are then computed where they
  /// are used instead of hoisted out of the loop, where dozens of them would
  /// hold 64-bit registers for the whole loop.
  Value opaque(Value v);

  /// Inline PTX with side effects, so that it is neither moved nor dropped.
  LLVM::InlineAsmOp inlinePTX(TypeRange results, ValueRange operands,
                              StringRef text, StringRef constraints);

  /// The GPU-scope memory-model operations on a u32 in global memory at
  /// the device address `address` (i64), for flags between CTAs: a load
  /// that acquires, a store that releases, a plain store, and the fence
  /// that orders a thread's earlier accesses before its later ones.
  Value loadAcquire(Value address);
  void storeRelease(Value address, Value value);
  void storeRelaxed(Value address, Value value);
  void fenceAcqRel();
  /// The f32 pair at global address `address` += (x0, x1), as one vector
  /// reduction (sm_90, PTX 8.1).
  void reduceAddPair(Value address, Value x0, Value x1);

  /// Builds an scf.if with results; the callbacks return the yielded values.
  SmallVector<Value> emitIf(Value cond, TypeRange types,
                            function_ref<SmallVector<Value>()> thenFn,
                            function_ref<SmallVector<Value>()> elseFn);

  /// The argument types of a kernel taking `params` (KernelABI.h): f32 and
  /// i64 scalars as they are, memrefs as `memrefType(position, rank)` says.
  SmallVector<Type>
  getParamTypes(ArrayRef<KernelParam> params,
                function_ref<Type(unsigned position, int64_t rank)> memrefType);

  OpBuilder &b;
  Location loc;
  Type f32, i32;
};

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_KERNELBUILDER_H
