//===- MmaSync.cpp - The mma.sync products of the forward kernel ----------===//

#include "ForwardKernelEmitter.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

/// ldmatrix x4 at `indices` of `smem`, as four packed i32 registers.
Fragment ForwardKernelEmitter::ldmatrix(Value smem, ValueRange indices,
                                        bool transpose) {
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

/// D = A B + C with mma.sync m16n8k16.
Fragment ForwardKernelEmitter::mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                                   ArrayRef<Value> c) {
  MLIRContext *ctx = b.getContext();
  auto resultType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  NVVM::MMATypes ptxType = spec.elementType == KernelElementType::F16
                               ? NVVM::MMATypes::f16
                               : NVVM::MMATypes::bf16;
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
      ArrayRef<int64_t>{16, 8, 16},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Fragment out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

/// S = Q Kᵀ with mma.sync: per 16-row slice, n-tiles of 8 keys, loaded in
/// pairs (ldmatrix x4 covers 16 keys by 16 head-dim columns); each K
/// fragment serves every slice of the warp.
ForwardKernelEmitter::Scores ForwardKernelEmitter::computeScores(Value stage) {
  int64_t keyTiles8 = plan.blockKV / 8;
  int64_t slices = plan.slicesPerWarp;
  Scores s(slices, SmallVector<Fragment>(keyTiles8, Fragment(4, f32c(0.0))));
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  // k-steps outermost: each Q fragment is read (or re-read from shared
  // memory) once per tile.
  for (int64_t ks = 0; ks < headSteps; ++ks) {
    SmallVector<Fragment> qa;
    for (int64_t mt = 0; mt < slices; ++mt)
      qa.push_back(queryFragment(mt, ks));
    Value chunk = add(idx(2 * ks), laneQuarter);
    for (int64_t np = 0; np < keyTiles8 / 2; ++np) {
      Value key = add(idx(16 * np), add(mul(laneHalf, 8), laneRow8));
      Fragment kr = ldmatrix(sK, {stage, key, swizzledColumn(key, chunk)},
                             /*transpose=*/false);
      for (int64_t mt = 0; mt < slices; ++mt) {
        s[mt][2 * np] = mma(qa[mt], {kr[0], kr[1]}, s[mt][2 * np]);
        s[mt][2 * np + 1] = mma(qa[mt], {kr[2], kr[3]}, s[mt][2 * np + 1]);
      }
    }
  }
  return s;
}

/// O += P V with mma.sync: P's accumulators become A fragments without data
/// movement; V is read transposed, each fragment serving every slice.
void ForwardKernelEmitter::accumulateValues(Value stage, const Scores &p,
                                            WarpState &state) {
  int64_t slices = plan.slicesPerWarp;
  Value laneRow8 = remu(lane, 8);
  Value laneHalf = divu(lane, 16);
  Value laneQuarter = remu(divu(lane, 8), 2);
  for (int64_t kk = 0; kk < plan.blockKV / 16; ++kk) {
    SmallVector<Fragment> a;
    for (int64_t mt = 0; mt < slices; ++mt)
      a.push_back(probabilityFragment(p, mt, kk));
    Value key = add(idx(16 * kk), add(mul(laneQuarter, 8), laneRow8));
    for (int64_t dp = 0; dp < headSteps; ++dp) {
      Value chunk = add(idx(2 * dp), laneHalf);
      Fragment vr = ldmatrix(sV, {stage, key, swizzledColumn(key, chunk)},
                             /*transpose=*/true);
      for (int64_t mt = 0; mt < slices; ++mt)
        for (int64_t half = 0; half < 2; ++half) {
          Fragment &acc = state.acc[mt * accTilesPerSlice + 2 * dp + half];
          acc = mma(a[mt], {vr[2 * half], vr[2 * half + 1]}, acc);
        }
    }
  }
}
