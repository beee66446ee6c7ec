//===- WarpMma.cpp - mma.sync m16n8k16 and its operands -------------------===//

#include "WarpMma.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::flash::detail;

Value WarpMma::swizzledColumn(Value row, Value chunk) {
  Value group = mul(divu(chunk, 8), 8);
  Value within = arith::XOrIOp::create(b, loc, remu(chunk, 8), remu(row, 8));
  return mul(add(group, within), 8);
}

Fragment WarpMma::ldmatrix(Value smem, ValueRange indices, bool transpose) {
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

Fragment WarpMma::mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                      ArrayRef<Value> c) {
  MLIRContext *ctx = b.getContext();
  auto resultType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  NVVM::MMATypes ptxType =
      elt.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
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
      ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Fragment out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

Value WarpMma::pack(Value lo, Value hi) {
  Value pair = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, f32), ValueRange{lo, hi});
  Value narrow =
      arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
  Value asInt =
      vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), narrow);
  return vector::ExtractOp::create(b, loc, asInt, 0);
}

Fragment WarpMma::accumulatorsAsA(const Fragment &left, const Fragment &right) {
  return {pack(left[0], left[1]), pack(left[2], left[3]),
          pack(right[0], right[1]), pack(right[2], right[3])};
}

Fragment WarpMma::loadBlock(Value tile, ValueRange prefix, Value row0,
                            Value chunk0, BlockOrder order, bool transpose) {
  assert(lane && "loadBlock needs the lane");
  Value row, chunk;
  if (order == BlockOrder::RowsFirst) {
    row = add(row0, remu(lane, 16));
    chunk = add(chunk0, divu(lane, 16));
  } else {
    row = add(row0, add(mul(divu(lane, 16), 8), remu(lane, 8)));
    chunk = add(chunk0, remu(divu(lane, 8), 2));
  }
  SmallVector<Value> indices(prefix);
  indices.append({row, swizzledColumn(row, chunk)});
  return ldmatrix(tile, indices, transpose);
}
