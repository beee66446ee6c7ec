//===- KernelPlan.h - What a GPU attention kernel computes and how -*- C++ -*-===//
//
// A KernelSpec says what a generated kernel computes (kind, head dim, element
// type, mask kind, features, chip); a KernelPlan says how (tile sizes, warps,
// pipeline stages). The plan table in KernelPlan.cpp is the one place where
// the schedule is chosen (planKernel, which applies convert-flash-to-gpu's
// overrides); each generated gpu.func carries its plan as the attribute
// flash.kernel_plan.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_KERNELPLAN_H
#define FLASH_CONVERSION_FLASHTOGPU_KERNELPLAN_H

#include "flash/Conversion/FlashToGPU/Chip.h"
#include "flash/Conversion/FlashToGPU/KernelKind.h"
#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/Error.h"

#include <string>

namespace mlir::flash {

enum class KernelElementType { F16, BF16 };

struct KernelSpec {
  KernelKind kind = KernelKind::Forward;
  int64_t headDim = 64;
  KernelElementType elementType = KernelElementType::F16;
  MaskKind mask = MaskKind::None;
  KernelFeatures features;
  Chip chip = Chip::SM80;

  /// The kernel's symbol, {prefix}_d{D}_{dtype}_{mask}[_sparse][_dropout]_
  /// {chip} with the kind's prefix, e.g. flash_fwd_d64_f16_causal_sm_80.
  std::string getName() const;
  /// "f16" or "bf16".
  StringRef getElementTypeName() const;
  /// The element type in `ctx`.
  Type getElementType(MLIRContext *ctx) const;
};

struct KernelPlan {
  int64_t ctaQ;  // query rows one CTA computes
  int64_t ctaKV; // keys per streamed K/V tile
  int64_t warps; // each warp owns ctaQ / warps query rows
  /// Slices per warp (ctaQ = 16 · slicesPerWarp · warps). For mma.sync,
  /// 16-row slices: each K and V fragment read from shared memory feeds
  /// this many mma.sync. For warpgroup MMAs, 64-row slices per warpgroup
  /// (of which each warp holds 16 rows): each K and V tile feeds this many
  /// wgmma.
  int64_t slicesPerWarp;
  int64_t stages;  // cp.async stages for K and V (block-sparse kernels: 2)
  /// The head dim as laid out in shared memory: the spec's, rounded up to a
  /// multiple of 64 so that every row swizzles in whole 128-byte groups.
  int64_t paddedHeadDim;
  /// Whether Q's mma fragments stay in registers for the whole key loop, or
  /// are re-read from shared memory (ldmatrix) at each k-step: the latter
  /// frees 4 · D/16 registers, what large head dims need to avoid spills.
  bool queryInRegisters;
  /// Whether the two products run as Hopper warpgroup MMAs (wgmma, on the
  /// chips that have them: ChipInfo::warpgroupMMA) instead of mma.sync:
  /// each group of four warps computes 64-row slices, reading Q, K and V
  /// straight from shared memory (laid out in 128-byte-swizzled 64-column
  /// chunks) and P from registers.
  bool warpgroupMMA = false;
  /// CTAs that should share an SM: ptxas keeps the registers per thread
  /// within what that many CTAs leave (.minnctapersm). 1 leaves ptxas free.
  int64_t minCTAsPerSM = 1;
  /// Warpgroup MMAs only: whether each key tile's Q Kᵀ is issued before
  /// the copies of the next tile, so that the tensor cores compute it while
  /// the warps work out the copies' addresses. The scores in flight over
  /// the copies cost registers.
  bool scoresBeforeCopies = false;
  /// Whether the K and V copies of a tile take byte pointers advanced from
  /// the thread's first chunk (ForwardKernelEmitter::copyWholeRows), where
  /// each thread copies rows a multiple of 8 apart, instead of indexing the 4-D
  /// views chunk by chunk: fewer instructions per tile, and a few 64-bit
  /// values more live across the key loop.
  bool copyPointers = true;

  int64_t getThreads() const { return 32 * warps; }
  /// Causal kernels launch their longest query tiles first, over sections
  /// of SMs / this many (batch, head) pairs (ForwardKernel.cpp). Measured
  /// on an H100 (docs/performance.md): 2 for CTAs of four warps, two per
  /// SM; 8 for CTAs of eight warps, one per SM.
  int64_t getSMsPerCausalSectionPair() const { return warps > 4 ? 8 : 2; }
  /// Query rows of one slice: 16 for mma.sync, 64 for a warpgroup MMA.
  int64_t getSliceRows() const { return warpgroupMMA ? 64 : 16; }
  /// Dynamic shared memory: the Q tile and `stages` K and V tiles, and for
  /// warpgroup MMAs the slack that aligns them to 1024 bytes.
  int64_t getSharedMemoryBytes() const;
};

/// Checks that a spec is supported, with a message naming the bad field:
/// only forward kernels are generated yet ("no backward kernels are
/// generated yet").
llvm::Error verifyKernelSpec(const KernelSpec &spec);

/// A yes/no choice of the plan that an option of convert-flash-to-gpu can
/// override: Table leaves the plan table's.
enum class PlanFlag { Table, Yes, No };

/// The options of convert-flash-to-gpu (flash/Conversion/Passes.h).
struct ConvertFlashToGPUOptions;

/// The most rows a tile override (cta-q, cta-kv) may have: no chip's shared
/// memory holds more (a row is at least 128 bytes: the head dim is padded to
/// a multiple of 64).
constexpr int64_t kMaxPlanTileRows = 4096;

/// Checks `value`, given for the size override `option` of
/// convert-flash-to-gpu (cta-q, warps, cta-kv, stages or min-ctas-per-sm),
/// against the option's range, e.g. "warps must be in [1, 32], got 0". The
/// ranges keep the plan's arithmetic (16 x warps, shared memory bytes) far
/// from overflowing. 0 is in no range: ConvertFlashToGPUOptions holds 0
/// for an override that was not given, and a user may not write it.
llvm::Error checkPlanSizeOverride(StringRef option, int64_t value);

/// The plan of a supported spec: the plan table's (KernelPlan.cpp), the one
/// place where plans are chosen, with the overrides among `options`
/// (cta-q, warps, cta-kv, stages, min-ctas-per-sm, warpgroup-mma,
/// query-in-registers, scores-before-copies, copy-pointers) applied, and
/// checked that it can be generated. The error names the kernel and the
/// overrides given. `options.chip` is not read: the spec has the chip.
llvm::Expected<KernelPlan> planKernel(const KernelSpec &spec,
                                      const ConvertFlashToGPUOptions &options);

/// Checks that a block-sparse layout of `layoutBlockQ` x `layoutBlockKV`
/// blocks fits the kernel of `plan`: the layout's block_q a multiple of
/// plan.ctaQ (a CTA's rows lie in one layout row) and its block_kv a
/// multiple of plan.ctaKV (a layout key block is whole kernel key tiles).
llvm::Error verifyBlockSizes(const KernelPlan &plan, int64_t layoutBlockQ,
                             int64_t layoutBlockKV);

/// The kernel spec of a flash.attention op for `chip`, or failure with the
/// reason its kernel does not exist yet in `reason`. Whether the op's
/// block-sparse layout fits the kernel's plan is for verifyBlockSizes.
FailureOr<KernelSpec> getKernelSpec(AttentionOp op, Chip chip,
                                    std::string &reason);

/// The backward spec (KernelKind::Backward) of a flash.attention_grad op
/// for `chip`, or failure with the reason its kernels do not exist yet in
/// `reason`: the forward's reasons, and those of verifyKernelSpec for a
/// backward (block-sparse, head dims over 128).
FailureOr<KernelSpec> getKernelSpec(AttentionGradOp op, Chip chip,
                                    std::string &reason);

/// A spec from its spelled fields, as manifests spell them (kind "forward",
/// features "block_sparse", ...), checked by verifyKernelSpec; the error
/// names the bad field and its accepted values.
llvm::Expected<KernelSpec> parseKernelSpec(StringRef kind, int64_t headDim,
                                           StringRef dtype, StringRef mask,
                                           ArrayRef<StringRef> features,
                                           StringRef chip);

/// Parses "f16" / "bf16".
std::optional<KernelElementType> parseKernelElementType(StringRef name);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_KERNELPLAN_H
