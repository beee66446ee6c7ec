//===- WarpgroupMMA.cpp - The warpgroup-MMA products of the kernel --------===//

#include "ForwardKernelEmitter.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

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

/// Issues S = Q Kᵀ with warpgroup MMAs: per 64-row slice, one m64 x
/// blockKV x k16 wgmma per head-dim step, Q and K both K-major in shared
/// memory; the first step ignores the (undefined) accumulator. Returns the
/// accumulators in flight, one per slice, for collectScoresWarpgroup.
SmallVector<Value> ForwardKernelEmitter::issueScoresWarpgroup(Value stage) {
  MLIRContext *ctx = b.getContext();
  int64_t n = plan.blockKV;
  auto accType = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(n / 2, f32));
  auto operandType = NVVM::WGMMATypesAttr::get(
      ctx, spec.elementType == KernelElementType::F16 ? NVVM::WGMMATypes::f16
                                                      : NVVM::WGMMATypes::bf16);
  auto scaleIn = NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one);
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
      Value bDesc = offsetDescriptor(kDesc, stage, getStageBytes(),
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
  return acc;
}

/// Waits for the products of issueScoresWarpgroup and returns S.
ForwardKernelEmitter::Scores
ForwardKernelEmitter::collectScoresWarpgroup(ArrayRef<Value> acc) {
  int64_t n = plan.blockKV;
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
      // The accumulators: the carried fragments, then the previous wgmma's.
      SmallVector<Value> args;
      if (!d)
        args = operands;
      for (int64_t i = 0; d && i < numAcc; ++i)
        args.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
      args.append(a[mt][kk]);
      args.push_back(
          offsetDescriptor(vDesc, stage, getStageBytes(), kk * 2048));
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
