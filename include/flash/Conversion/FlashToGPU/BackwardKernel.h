//===- BackwardKernel.h - The tensor-core backward kernels ------*- C++ -*-===//
//
// The gradient of flash.attention as three GPU kernels launched in order
// (KernelABI.h lists their parameters, docs/kernel-abi.md the launch):
//
//   preprocessing  delta = rowsum(dO ∘ O) - dlse per query row, and the f32
//                  dQ workspace zeroed;
//   main           one CTA per (key tile, KV head, batch), K and V held in
//                  shared memory, walking the query tiles of every query
//                  head of its group that see its keys: S and P recomputed
//                  from Q, K and the forward's lse, dV += Pᵀ dO, dP = dO Vᵀ,
//                  dS = P ∘ (dP - delta), dK += dSᵀ Q, and dS K added into
//                  the dQ workspace with f32 atomics (in deterministic
//                  mode in the order of the key tiles); the products on
//                  mma.sync or Hopper's warpgroup MMAs (BackwardProducts.h);
//   dQ             dQ = scale · the workspace, in the element type.
//
// The BackwardPlan says how the main kernel tiles the work; the plan table
// (planBackwardKernel) is the one place where it is chosen.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_BACKWARDKERNEL_H
#define FLASH_CONVERSION_FLASHTOGPU_BACKWARDKERNEL_H

#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/Error.h"

namespace mlir::flash {

struct BackwardPlan {
  /// Keys per CTA: each warp owns ctaKV / warps of them (16-row slices),
  /// whose dK and dV accumulators it keeps in registers.
  int64_t ctaKV;
  /// Query rows per step of the CTA's loop (a multiple of 64: the dS tile
  /// is swizzled in 128-byte rows).
  int64_t ctaQ;
  int64_t warps;
  /// The head dim as laid out in shared memory (a multiple of 64).
  int64_t paddedHeadDim;
  /// Hopper's warpgroup MMAs (two warpgroups of 64 keys) instead of
  /// mma.sync.
  bool warpgroupMMA = false;

  /// Q, dO, the lse and delta are double-buffered: the next query tile's
  /// copies run while this one is computed.
  static constexpr int64_t kStages = 2;

  int64_t getThreads() const { return 32 * warps; }
  int64_t getKeySlicesPerWarp() const { return ctaKV / (16 * warps); }
  /// Dynamic shared memory of the main kernel: K and V (ctaKV rows), the
  /// stages of Q and dO (ctaQ rows each), dS (ctaKV x ctaQ), and the
  /// stages of the lse and delta of ctaQ rows; with warpgroup MMAs, the
  /// slack that aligns the tiles to 1024 bytes.
  int64_t getSharedMemoryBytes() const {
    return 2 * (2 * ctaKV + 2 * kStages * ctaQ) * paddedHeadDim +
           2 * ctaKV * ctaQ + 8 * kStages * ctaQ + (warpgroupMMA ? 1024 : 0);
  }
};

/// Query rows per CTA of the preprocessing and dQ kernels, which launch
/// kBackwardRowThreads threads per CTA over a grid of (ceil(Lq /
/// kBackwardRowsPerCta), Hq, B).
inline constexpr int64_t kBackwardRowsPerCta = 16;
inline constexpr int64_t kBackwardRowThreads = 128;

/// The plan of a backward spec (KernelKind::Backward), from the plan table;
/// an error for what the backward kernels do not cover yet.
llvm::Expected<BackwardPlan> planBackwardKernel(const KernelSpec &spec);

/// Builds the three kernels as gpu.funcs at the builder's insertion point
/// (in a gpu.module): the main kernel named spec.getName()
/// (flash_bwd_...), the preprocessing and dQ kernels with `_preprocess`
/// and `_dq` appended.
void buildBackwardKernels(OpBuilder &builder, Location loc,
                          const KernelSpec &spec, const BackwardPlan &plan);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_BACKWARDKERNEL_H
