//===- KernelABI.h - The launch parameters of the kernels -------*- C++ -*-===//
//
// The parameters of the generated forward kernels, in launch order
// (docs/kernel-abi.md), written once: the lowering builds the gpu.func
// signature and reads its arguments by them, and flash-aot and the C API
// describe them in the manifest from them. The runtime links no MLIR and
// keeps its own copy (lib/Runtime/Manifest.cpp), against which it checks
// every manifest it opens; test/tools/flash-aot/abi.test opens a library
// described from this one there.
//
// The shared memory in which a block-sparse kernel stages its row of the
// layout is part of the ABI too: the launch passes it. It is written once,
// getLayoutStaging, for the kernel (which lays the row out in it) and the
// launch (which sizes it); the runtime's copy is sparseSharedMemory
// (lib/Runtime/Validate.cpp), which abi.test compares with it.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_KERNELABI_H
#define FLASH_CONVERSION_FLASHTOGPU_KERNELABI_H

#include "flash/Conversion/FlashToGPU/KernelKind.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mlir::flash {

/// How a parameter is passed: a strided memref of rank 4 or 3 (expanded to
/// its pointers, offset, sizes and strides), or a scalar.
enum class KernelParamKind { Memref4, Memref3, F32, I64 };

struct KernelParam {
  KernelParamKind kind;
  const char *name;
};

/// The forward kernels' parameters, by position.
enum ForwardParam : unsigned {
  kQuery,
  kKey,
  kValue,
  kOutput,
  kLse,
  kScaleLog2,
  kWindowLeft,
  kWindowRight,
  // Block-sparse kernels only: the layout's CSR lists and block sizes.
  kKvNumBlocks,
  kKvIndices,
  kFullKvNumBlocks,
  kFullKvIndices,
  kLayoutBlockQ,
  kLayoutBlockKV,
  kNumSparseForwardParams,
  kNumDenseForwardParams = kKvNumBlocks,
};

inline constexpr KernelParam kForwardParams[kNumSparseForwardParams] = {
    {KernelParamKind::Memref4, "q"},
    {KernelParamKind::Memref4, "k"},
    {KernelParamKind::Memref4, "v"},
    {KernelParamKind::Memref4, "o"},
    {KernelParamKind::Memref3, "lse"},
    {KernelParamKind::F32, "scale_log2"},
    {KernelParamKind::I64, "window_left"},
    {KernelParamKind::I64, "window_right"},
    {KernelParamKind::Memref3, "kv_num_blocks"},
    {KernelParamKind::Memref4, "kv_indices"},
    {KernelParamKind::Memref3, "full_kv_num_blocks"},
    {KernelParamKind::Memref4, "full_kv_indices"},
    {KernelParamKind::I64, "layout_block_q"},
    {KernelParamKind::I64, "layout_block_kv"},
};

/// The parameters that kernels with dropout (KernelFeatures::dropout) take
/// after all others, forward and backward alike: the Philox key
/// (dropout_seed), the counter's last word (the low 32 bits of
/// dropout_offset), and the keep threshold in [0, 65536]: an element is
/// kept when its 16 random bits are below it (Dropout.h).
enum DropoutParam : unsigned {
  kDropoutSeed,
  kDropoutOffset,
  kDropoutKeep,
  kNumDropoutParams,
};

inline constexpr KernelParam kDropoutParams[kNumDropoutParams] = {
    {KernelParamKind::I64, "dropout_seed"},
    {KernelParamKind::I64, "dropout_offset"},
    {KernelParamKind::I64, "dropout_keep"},
};

/// `params`, then those that `features` add after all others (dropout's),
/// forward and backward alike.
inline llvm::SmallVector<KernelParam>
appendFeatureParams(llvm::ArrayRef<KernelParam> params,
                    const KernelFeatures &features) {
  llvm::SmallVector<KernelParam> all(params.begin(), params.end());
  if (features.dropout)
    all.append(std::begin(kDropoutParams), std::end(kDropoutParams));
  return all;
}

/// The parameters of a forward kernel with `features`: the dense ones, the
/// block-sparse layout's, then dropout's.
inline llvm::SmallVector<KernelParam>
getForwardParams(const KernelFeatures &features) {
  return appendFeatureParams(
      llvm::ArrayRef<KernelParam>(kForwardParams)
          .take_front(features.blockSparse ? kNumSparseForwardParams
                                           : kNumDenseForwardParams),
      features);
}

/// The backward kernels' parameters, by position. A backward is three
/// kernels launched in order on one stream, which all take this list and
/// each read what it needs: the preprocessing kernel (delta = rowsum(dO ∘
/// O) - dlse, dq_accum zeroed), the main kernel (dK and dV, dQ added into
/// dq_accum) and the dQ kernel (dq = dq_accum · scale). dlse may be null
/// (no gradient flows into the lse); delta [B, Hq, Lq] and dq_accum [B, Hq,
/// Lq, D] are f32 workspaces. dq_semaphores is the device address of a u32
/// workspace [B, Hq, ceil(Lq / 16)], or 0: with it, the main kernel adds
/// into dq_accum in the order of its key tiles (deterministic mode; the
/// preprocessing kernel zeroes it), without it in any order.
enum BackwardParam : unsigned {
  kGradQuery,
  kGradKey,
  kGradValue,
  kGradOutput,
  kGradOutputGrad,
  kGradLse,
  kGradLseGrad,
  kGradDelta,
  kGradQueryAccum,
  kGradQueryGrad,
  kGradKeyGrad,
  kGradValueGrad,
  kGradScaleLog2,
  kGradWindowLeft,
  kGradWindowRight,
  kGradQuerySemaphores,
  kNumBackwardParams,
};

inline constexpr KernelParam kBackwardParams[kNumBackwardParams] = {
    {KernelParamKind::Memref4, "q"},
    {KernelParamKind::Memref4, "k"},
    {KernelParamKind::Memref4, "v"},
    {KernelParamKind::Memref4, "o"},
    {KernelParamKind::Memref4, "do"},
    {KernelParamKind::Memref3, "lse"},
    {KernelParamKind::Memref3, "dlse"},
    {KernelParamKind::Memref3, "delta"},
    {KernelParamKind::Memref4, "dq_accum"},
    {KernelParamKind::Memref4, "dq"},
    {KernelParamKind::Memref4, "dk"},
    {KernelParamKind::Memref4, "dv"},
    {KernelParamKind::F32, "scale_log2"},
    {KernelParamKind::I64, "window_left"},
    {KernelParamKind::I64, "window_right"},
    {KernelParamKind::I64, "dq_semaphores"},
};

/// The parameters of the backward kernels with `features`.
inline llvm::SmallVector<KernelParam>
getBackwardParams(const KernelFeatures &features) {
  return appendFeatureParams(kBackwardParams, features);
}

/// The manifest's description of a parameter: "memref4:q", "f32:scale_log2".
inline std::string describeKernelParam(const KernelParam &param) {
  static constexpr const char *kinds[] = {"memref4", "memref3", "f32", "i64"};
  return std::string(kinds[static_cast<unsigned>(param.kind)]) + ":" +
         param.name;
}

/// Where a block-sparse kernel stages its CTA's row of the layout, past the
/// dense part of its dynamic shared memory (KernelPlan::getSharedMemoryBytes),
/// in 4-byte words: first the staged tiles, every kernel key tile of the
/// row's NKV layout blocks and an end marker; then two bitmaps of the blocks
/// (full, partial), one bit a block. The runtime's copy of the size is
/// sparseSharedMemory in lib/Runtime/Validate.cpp (it links no MLIR);
/// test/tools/flash-aot/abi.test checks that the two agree.
struct LayoutStaging {
  static constexpr int64_t kWordBytes = 4;
  static constexpr int64_t kBlocksPerBitmapWord = 32;
  static constexpr int64_t kNumBitmaps = 2;

  /// NKV · tilesPerBlock + 1: the staged tiles and the end marker (index).
  Value tileWords;
  /// ceil(NKV / 32): the words of each bitmap (index).
  Value bitmapWords;

  /// The bytes of the whole staging (index): 4 · (tileWords + 2 ·
  /// bitmapWords).
  Value getBytes(OpBuilder &b, Location loc) const;
};

/// The staging of a layout row of `numKeyBlocks` (NKV) blocks of
/// `tilesPerBlock` kernel key tiles each (layout block_kv / plan cta_kv);
/// both are index values.
LayoutStaging getLayoutStaging(OpBuilder &b, Location loc, Value numKeyBlocks,
                               Value tilesPerBlock);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_KERNELABI_H
