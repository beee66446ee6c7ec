//===- Wgmma.cpp - Hopper's warpgroup MMA and its operands ----------------===//

#include "Wgmma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::flash::detail;

SmallVector<Value> Wgmma::getChunkIndices(Value stage, Value row,
                                          Value chunk) {
  SmallVector<Value> indices;
  if (stage)
    indices.push_back(stage);
  Value within = arith::XOrIOp::create(b, loc, remu(chunk, 8), remu(row, 8));
  indices.append({divu(chunk, 8), row, mul(within, 8)});
  return indices;
}

Value Wgmma::getTilesOffset(Value smem) {
  Value address =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
  return remu(sub(idx(1024), remu(address, 1024)), 1024);
}

void Wgmma::fenceSharedStores() {
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(b.getContext(),
                                 NVVM::SharedSpace::shared_cta));
}

/// The address in 16-byte units (bits 0-13), the leading and stride byte
/// offsets (bits 16-29 and 32-45) and the 128-byte swizzle (bits 62-63).
Value Wgmma::descriptor(Value address, int64_t leadingBytes,
                        int64_t strideBytes) {
  int64_t fixed = (int64_t{1} << 62) | ((strideBytes >> 4) << 32) |
                  ((leadingBytes >> 4) << 16);
  Value field = arith::ShRUIOp::create(
      b, loc, arith::AndIOp::create(b, loc, address, i64c(0x3FFFF)), i64c(4));
  return arith::OrIOp::create(b, loc, field, i64c(fixed));
}

Value Wgmma::offset(Value descriptor, int64_t bytes, Value stage,
                    int64_t stageBytes) {
  Value moved = add(descriptor, i64c(bytes >> 4));
  if (!stage)
    return moved;
  Value stageUnits = mul(arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                                    stage),
                         i64c(stageBytes >> 4));
  return add(moved, stageUnits);
}

Type Wgmma::getAccumulatorType(int64_t n) {
  return LLVM::LLVMStructType::getLiteral(b.getContext(),
                                          SmallVector<Type>(n / 2, f32));
}

Value Wgmma::mmaShared(Value acc, Value a, Major aMajor, Value bDesc,
                       Major bMajor, int64_t n) {
  MLIRContext *ctx = b.getContext();
  auto operandType = NVVM::WGMMATypesAttr::get(
      ctx, elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16);
  auto scaleIn = NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one);
  Type accType = getAccumulatorType(n);
  bool zero = !acc;
  if (zero)
    acc = LLVM::PoisonOp::create(b, loc, accType);
  // The op's "row" A and "col" B are the K-major forms.
  auto layout = [&](bool kMajor) {
    return NVVM::MMALayoutAttr::get(ctx, kMajor ? NVVM::MMALayout::row
                                                : NVVM::MMALayout::col);
  };
  return NVVM::WgmmaMmaAsyncOp::create(
      b, loc, accType, acc, a, bDesc, NVVM::MMAShapeAttr::get(ctx, 64, n, 16),
      operandType, operandType,
      NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
      NVVM::WGMMAScaleOutAttr::get(ctx, zero ? NVVM::WGMMAScaleOut::zero
                                             : NVVM::WGMMAScaleOut::one),
      scaleIn, scaleIn, layout(aMajor == Major::K),
      layout(bMajor != Major::K), /*satfinite=*/nullptr);
}

Value Wgmma::mmaRegisterA(ArrayRef<Value> acc, ArrayRef<Value> a, Value bDesc,
                          Major bMajor, int64_t n) {
  int64_t numAcc = n / 2;
  assert(static_cast<int64_t>(acc.size()) == numAcc && a.size() == 4 &&
         "an m64 x n accumulator and a 16 x 16 A block");
  std::string typeName = elt.isF16() ? "f16" : "bf16";
  std::string asmString;
  {
    llvm::raw_string_ostream os(asmString);
    os << "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
       << "wgmma.mma_async.sync.aligned.m64n" << n << "k16.f32." << typeName
       << "." << typeName << " {";
    for (int64_t i = 0; i < numAcc; ++i)
      os << (i ? ", " : "") << "$" << i;
    os << "}, {";
    for (int64_t i = 0; i < 4; ++i)
      os << (i ? ", " : "") << "$" << 2 * numAcc + i;
    // Scale D by 1 (p), A and B by 1; B transposed when MN-major.
    os << "}, $" << 2 * numAcc + 4 << ", p, 1, 1, "
       << (bMajor == Major::MN ? 1 : 0) << ";\n}";
  }
  std::string constraints;
  for (int64_t i = 0; i < numAcc; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < numAcc; ++i)
    constraints += std::to_string(i) + ",";
  constraints += "r,r,r,r,l";
  SmallVector<Value> args(acc);
  args.append(a.begin(), a.end());
  args.push_back(bDesc);
  return inlinePTX(getAccumulatorType(n), args, asmString, constraints)
      .getResult(0);
}

SmallVector<Value> Wgmma::getValues(Value acc, int64_t n) {
  SmallVector<Value> values;
  for (int64_t i = 0; i < n / 2; ++i)
    values.push_back(LLVM::ExtractValueOp::create(b, loc, acc, i));
  return values;
}

SmallVector<Fragment> Wgmma::getFragments(Value acc, int64_t n) {
  SmallVector<Fragment> fragments;
  for (int64_t j = 0; j < n / 8; ++j) {
    Fragment f;
    for (int64_t e = 0; e < 4; ++e)
      f.push_back(LLVM::ExtractValueOp::create(b, loc, acc, 4 * j + e));
    fragments.push_back(f);
  }
  return fragments;
}

void Wgmma::fence() { NVVM::WgmmaFenceAlignedOp::create(b, loc); }

void Wgmma::commit() { NVVM::WgmmaGroupSyncAlignedOp::create(b, loc); }

void Wgmma::wait(int64_t pending) {
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, pending);
}
