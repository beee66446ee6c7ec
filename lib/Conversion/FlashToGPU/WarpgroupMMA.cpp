//===- WarpgroupMMA.cpp - The warpgroup-MMA flavour of a kernel's products ===//
//
// S = Q Kᵀ and O += P V with Hopper's warpgroup MMAs (wgmma, sm_90a): each
// group of four warps computes 64-row slices; Q, K and V are read by the
// tensor cores from shared memory through descriptors, where each tile is
// stored as 64-column chunks of 128-byte rows with the hardware's 128-byte
// swizzle (the XOR of the mma.sync tiles, on 1024-byte aligned chunks); P
// stays in registers. The copies reach the tensor cores through the async
// proxy, hence a proxy fence before each tile's barrier. Q Kᵀ is issued and
// waited for separately, so that the plan can overlap it with the next
// tile's copies (KernelPlan::scoresBeforeCopies).
//
//===----------------------------------------------------------------------===//

#include "MmaFlavor.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

class WarpgroupMmaFlavor final : public MmaFlavor {
public:
  using MmaFlavor::MmaFlavor;

  /// A warpgroup MMA's N spans whole 64-column chunks of V.
  int64_t getAccTilesPerSlice() const override {
    return plan.paddedHeadDim / 8;
  }
  /// A warpgroup's slices are 64 rows apart, and its warps 16.
  Value getWarpFirstRow(Value warp) override {
    return add(mul(divu(warp, 4), 64 * plan.slicesPerWarp),
               mul(remu(warp, 4), 16));
  }
  SmallVector<int64_t> getTileShape(int64_t rows) const override {
    return {plan.paddedHeadDim / 64, rows, 64};
  }
  /// ([stage,] Dp / 64, rows, 64): the chunk XORed with row % 8 within its
  /// 128 bytes, as the hardware's swizzle reads it.
  SmallVector<Value> getChunkIndices(Value stage, Value row,
                                     Value chunk) override {
    SmallVector<Value> indices;
    if (stage)
      indices.push_back(stage);
    Value within = arith::XOrIOp::create(b, loc, remu(chunk, 8), remu(row, 8));
    indices.append({divu(chunk, 8), row, mul(within, 8)});
    return indices;
  }
  /// Operands start on 1024-byte boundaries (the swizzle pattern repeats
  /// every 8 rows of 128 bytes), within the plan's slack.
  Value getTilesOffset(Value smem) override {
    Value address =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
    return remu(sub(idx(1024), remu(address, 1024)), 1024);
  }
  void setOperands(const MmaOperands &ops) override;
  /// The tensor cores read the operands through the async proxy: the
  /// copies must be made visible to it before the barrier.
  void fenceCopies() override {
    NVVM::FenceProxyOp::create(
        b, loc, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
  }
  SmallVector<Value> issueScores(Value stage) override;
  Scores collectScores(ArrayRef<Value> pending) override;
  void accumulateValues(Value stage, const Scores &p,
                        WarpState &state) override;

private:
  Value matrixDescriptor(Value address, int64_t leadingBytes,
                         int64_t strideBytes);
  Value offsetDescriptor(Value descriptor, Value stage, int64_t stageBytes,
                         int64_t bytes);

  /// The shared-memory descriptors of the warpgroup's Q slices and of
  /// stage 0 of K and V.
  Value qDesc, kDesc, vDesc;
};

} // namespace

/// K-major Q and K: 8-row groups 1024 bytes apart (the leading offset is
/// unused). MN-major V: 8-key groups 1024 bytes apart, 64-column chunks
/// ctaKV rows of 128 bytes apart.
void WarpgroupMmaFlavor::setOperands(const MmaOperands &ops) {
  operands = ops;
  Value warpgroupRows =
      mul(divu(ops.warp, 4), 64 * plan.slicesPerWarp * 128);
  qDesc = matrixDescriptor(
      add(alignedAddress(ops.sQ),
          arith::IndexCastOp::create(b, loc, b.getI64Type(), warpgroupRows)),
      16, 1024);
  kDesc = matrixDescriptor(alignedAddress(ops.sK), 16, 1024);
  vDesc = matrixDescriptor(alignedAddress(ops.sV), plan.ctaKV * 128, 1024);
}

/// A wgmma shared-memory matrix descriptor of a 128-byte-swizzled operand
/// at `address`: the leading and stride byte offsets, the address in
/// 16-byte units (bits 0-13) and the swizzle mode (bits 62-63).
Value WarpgroupMmaFlavor::matrixDescriptor(Value address,
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
Value WarpgroupMmaFlavor::offsetDescriptor(Value descriptor, Value stage,
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
/// ctaKV x k16 wgmma per head-dim step, Q and K both K-major in shared
/// memory; the first step ignores the (undefined) accumulator. Returns the
/// accumulators in flight, one per slice, for collectScores.
SmallVector<Value> WarpgroupMmaFlavor::issueScores(Value stage) {
  MLIRContext *ctx = b.getContext();
  int64_t n = plan.ctaKV;
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
          (ks / 4) * plan.ctaQ * 128 + mt * 64 * 128 + column);
      Value bDesc = offsetDescriptor(kDesc, stage, getStageBytes(),
                                     (ks / 4) * plan.ctaKV * 128 + column);
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

/// Waits for the products of issueScores and returns S.
Scores WarpgroupMmaFlavor::collectScores(ArrayRef<Value> acc) {
  int64_t n = plan.ctaKV;
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
void WarpgroupMmaFlavor::accumulateValues(Value stage, const Scores &p,
                                          WarpState &state) {
  MLIRContext *ctx = b.getContext();
  int64_t n = plan.paddedHeadDim;
  int64_t numAcc = n / 2;
  int64_t accTilesPerSlice = getAccTilesPerSlice();
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
    for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk)
      a[mt].push_back(probabilityFragment(p, mt, kk));
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  SmallVector<Value> structs;
  for (int64_t mt = 0; mt < plan.slicesPerWarp; ++mt) {
    SmallVector<Value> operands;
    for (int64_t j = 0; j < accTilesPerSlice; ++j)
      operands.append(state.acc[mt * accTilesPerSlice + j]);
    Value d;
    for (int64_t kk = 0; kk < plan.ctaKV / 16; ++kk) {
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

std::unique_ptr<MmaFlavor>
mlir::flash::detail::createWarpgroupMmaFlavor(const KernelBuilder &builder,
                                              const KernelSpec &spec,
                                              const KernelPlan &plan) {
  return std::make_unique<WarpgroupMmaFlavor>(builder, spec, plan);
}
