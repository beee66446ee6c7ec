//===- KernelPlan.cpp - The schedule table of the GPU kernels -------------===//

#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "flash/Conversion/Passes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <type_traits>

using namespace mlir;
using namespace mlir::flash;

std::string KernelSpec::getName() const {
  std::string name =
      llvm::formatv("{0}_d{1}_{2}_{3}", getKernelSymbolPrefix(kind), headDim,
                    getElementTypeName(), stringifyMaskKind(mask));
  if (features.blockSparse)
    name += "_sparse";
  if (features.dropout)
    name += "_dropout";
  return name + "_" + stringifyChip(chip).str();
}

StringRef KernelSpec::getElementTypeName() const {
  return elementType == KernelElementType::F16 ? "f16" : "bf16";
}

Type KernelSpec::getElementType(MLIRContext *ctx) const {
  if (elementType == KernelElementType::F16)
    return Float16Type::get(ctx);
  return BFloat16Type::get(ctx);
}

/// The spec of a flash.attention or flash.attention_grad op of `kind`: the
/// two share their operands but for the forward's masked_score. When
/// several things rule a kernel out, `reason` names the last checked.
template <typename OpTy>
static FailureOr<KernelSpec> getOpKernelSpec(OpTy op, KernelKind kind,
                                             Chip chip, std::string &reason) {
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  auto v = cast<RankedTensorType>(op.getValue().getType());
  KernelSpec spec;
  spec.kind = kind;
  spec.chip = chip;
  Type elt = q.getElementType();
  if (elt.isF16())
    spec.elementType = KernelElementType::F16;
  else if (elt.isBF16())
    spec.elementType = KernelElementType::BF16;
  else
    reason = "the tensor-core kernels take f16 or bf16, not f32";
  if (q.isDynamicDim(3) || v.isDynamicDim(3))
    reason = "the head dims must be static";
  else if (q.getDimSize(3) != v.getDimSize(3))
    reason = "the value head dim must equal the query's";
  spec.headDim = q.getDimSize(3);
  if (op.getMask())
    reason = "mask operands are not supported by the GPU kernels yet";
  if (op.getSoftcap())
    reason = "softcap is not supported by the GPU kernels yet";
  if constexpr (std::is_same_v<OpTy, AttentionOp>)
    if (op.getMaskedScore() && op.getMaskKind() != MaskKind::None)
      reason = "a finite masked_score is not supported by the GPU kernels "
               "(their masked keys score -inf, and a row whose keys are all "
               "masked gives 0 instead of the mean of V)";
  spec.features.blockSparse = op.getKvNumBlocks() != nullptr;
  if (op.getScaleValue() <= 0)
    reason = "the GPU kernels take a positive scale (they fold it into the "
             "exponent after the row maximum)";
  spec.mask = op.getMaskKind();
  if (reason.empty())
    if (llvm::Error err = verifyKernelSpec(spec))
      reason = llvm::toString(std::move(err));
  if (!reason.empty())
    return failure();
  return spec;
}

FailureOr<KernelSpec> mlir::flash::getKernelSpec(AttentionOp op, Chip chip,
                                                 std::string &reason) {
  return getOpKernelSpec(op, KernelKind::Forward, chip, reason);
}

FailureOr<KernelSpec> mlir::flash::getKernelSpec(AttentionGradOp op, Chip chip,
                                                 std::string &reason) {
  return getOpKernelSpec(op, KernelKind::Backward, chip, reason);
}

llvm::Error mlir::flash::verifyBlockSizes(const KernelPlan &plan,
                                          int64_t layoutBlockQ,
                                          int64_t layoutBlockKV) {
  // A CTA's query rows must lie in one layout row, and a layout key block
  // must split into whole kernel key tiles.
  if (layoutBlockQ <= 0 || layoutBlockQ % plan.ctaQ != 0)
    return llvm::createStringError(
        "the layout's block_q (%lld) must be a positive multiple of the "
        "kernel's cta_q (%lld query rows per CTA)",
        static_cast<long long>(layoutBlockQ),
        static_cast<long long>(plan.ctaQ));
  if (layoutBlockKV <= 0 || layoutBlockKV % plan.ctaKV != 0)
    return llvm::createStringError(
        "the layout's block_kv (%lld) must be a positive multiple of the "
        "kernel's cta_kv (%lld keys per tile)",
        static_cast<long long>(layoutBlockKV),
        static_cast<long long>(plan.ctaKV));
  return llvm::Error::success();
}

std::optional<KernelElementType> mlir::flash::parseKernelElementType(
    StringRef name) {
  return llvm::StringSwitch<std::optional<KernelElementType>>(name)
      .Case("f16", KernelElementType::F16)
      .Case("bf16", KernelElementType::BF16)
      .Default(std::nullopt);
}

llvm::Expected<KernelSpec>
mlir::flash::parseKernelSpec(StringRef kind, int64_t headDim, StringRef dtype,
                             StringRef mask, ArrayRef<StringRef> features,
                             StringRef chip) {
  KernelSpec spec;
  std::optional<KernelKind> parsedKind = parseKernelKind(kind);
  if (!parsedKind)
    return llvm::createStringError(describeKernelKindError(kind));
  spec.kind = *parsedKind;
  spec.headDim = headDim;
  std::optional<KernelElementType> elt = parseKernelElementType(dtype);
  if (!elt)
    return llvm::createStringError("dtype must be f16 or bf16, got '" +
                                   dtype + "'");
  spec.elementType = *elt;
  std::optional<MaskKind> maskKind = symbolizeMaskKind(mask);
  if (!maskKind)
    return llvm::createStringError("mask must be none, causal, "
                                   "causal_bottom_right or sliding_window, "
                                   "got '" +
                                   mask + "'");
  spec.mask = *maskKind;
  llvm::Expected<KernelFeatures> parsedFeatures = parseKernelFeatures(features);
  if (!parsedFeatures)
    return parsedFeatures.takeError();
  spec.features = *parsedFeatures;
  if (llvm::Error err = verifyKernelSpec(spec))
    return std::move(err);
  std::optional<Chip> parsedChip = parseChip(chip);
  if (!parsedChip)
    return llvm::createStringError(describeChipError(chip));
  spec.chip = *parsedChip;
  return spec;
}

llvm::Error mlir::flash::verifyKernelSpec(const KernelSpec &spec) {
  if (spec.kind != KernelKind::Forward && spec.kind != KernelKind::Backward)
    return llvm::createStringError("no " + stringifyKernelKind(spec.kind) +
                                   " kernels are generated yet");
  if (spec.headDim <= 0 || spec.headDim % 8 != 0 || spec.headDim > 256)
    return llvm::createStringError(
        "head_dim must be a positive multiple of 8 up to 256, got %lld",
        static_cast<long long>(spec.headDim));
  if (spec.features.blockSparse && spec.features.dropout)
    return llvm::createStringError(
        "no block-sparse kernels with dropout are generated yet");
  if (spec.kind == KernelKind::Backward) {
    if (spec.features.blockSparse)
      return llvm::createStringError(
          "no block-sparse backward kernels are generated yet");
    if (spec.headDim > 128)
      return llvm::createStringError(
          "backward kernels are generated for head dims up to 128, got %lld",
          static_cast<long long>(spec.headDim));
  }
  return llvm::Error::success();
}

/// The plan of the warpgroup-MMA kernels, measured on an H100
/// (docs/performance.md). Up to D = 128, dense kernels take one warpgroup
/// of two 64-row slices (128 query rows): each K and V tile read by the
/// tensor cores serves both, and two CTAs share an SM, so that one's
/// softmax overlaps the other's products; block-sparse ones a single slice.
/// From D = 192 on, the O accumulators of two slices do not fit in
/// registers: two warpgroups of one slice each. Key tiles are the widest
/// that fit without spills (test/Conversion/FlashToGPU/no-spills.test);
/// block-sparse kernels take powers of two. Q stays in shared memory,
/// where the tensor cores read it. Q Kᵀ goes before the next tile's copies
/// where that measured faster and spills nothing (docs/performance.md).
static KernelPlan selectWarpgroupPlan(const KernelSpec &spec,
                                      int64_t paddedHeadDim) {
  KernelPlan plan;
  plan.paddedHeadDim = paddedHeadDim;
  plan.warpgroupMMA = true;
  plan.queryInRegisters = false;
  plan.stages = 2;
  bool window = spec.mask == MaskKind::SlidingWindow;
  if (spec.features.blockSparse && paddedHeadDim <= 128) {
    // Block-sparse rows are short: 64-row CTAs of one slice, 4 per SM at
    // D = 64, were 5% faster than two slices at density 0.1, L = 8k. The
    // registers of more CTAs per SM, where they fit without spills: five
    // (96 registers) at D = 64 but for the window's band, 3% faster than
    // four unmasked and 5-7% under the causal masks (which fit since the
    // copy pointers); four (128) but for the window's band at D > 64, 7%
    // faster than three for the causal kernels at D = 128.
    plan.warps = 4;
    plan.slicesPerWarp = 1;
    plan.ctaKV = paddedHeadDim <= 64 ? 64 : 32;
    if (paddedHeadDim <= 64 && !window)
      plan.minCTAsPerSM = 5;
    else if (!window || paddedHeadDim <= 64)
      plan.minCTAsPerSM = 4;
    // Unmasked: 3-4% faster at D = 128, 1-2% at D = 64 (where the copy
    // pointers left it the registers); the masked kernels spill with it or
    // gain nothing.
    plan.scoresBeforeCopies = spec.mask == MaskKind::None;
  } else if (paddedHeadDim <= 64) {
    // 96-key tiles: 1.24-1.45x FA2, against 1.20-1.33x with 64 and
    // 1.20-1.40x with 80 (docs/performance.md).
    plan.warps = 4;
    plan.slicesPerWarp = 2;
    plan.ctaKV = 96;
    // Up to 3.5% faster unmasked, within 1% masked.
    plan.scoresBeforeCopies = true;
    // Dropout's random bits take registers: 48-key tiles without the
    // early scores spill nothing (96 keys spilled up to 800 bytes).
    if (spec.features.dropout) {
      plan.ctaKV = 48;
      plan.scoresBeforeCopies = false;
    }
  } else if (paddedHeadDim <= 128) {
    // 48-key tiles: 1.29-1.47x FA2, against 1.12-1.20x with 32; the
    // window's two-sided band needs the registers of 32.
    plan.warps = 4;
    plan.slicesPerWarp = 2;
    plan.ctaKV = window ? 32 : 48;
    // At D = 128, 3% faster unmasked and 6% with the window, but 5-7%
    // slower under the causal masks, whose band leaves no registers for
    // it (at D = 96, 1% slower unmasked, 2% faster with the window).
    plan.scoresBeforeCopies = spec.mask == MaskKind::None || window;
    // The window's band leaves no registers for the copy pointers either
    // (up to 184 bytes of spills).
    plan.copyPointers = !window;
    // With dropout's random bits, two slices spill even with 32-key tiles
    // (24-108 bytes); one slice fits 64 keys.
    if (spec.features.dropout) {
      plan.slicesPerWarp = 1;
      plan.ctaKV = 64;
    }
  } else {
    plan.warps = 8;
    plan.slicesPerWarp = 1;
    plan.ctaKV = paddedHeadDim <= 192 ? 64 : window ? 16 : 32;
    // 13-18% faster at D = 256, whose Q Kᵀ takes 16 wgmmas; 1-2% slower
    // at D = 192.
    plan.scoresBeforeCopies = paddedHeadDim > 192;
  }
  plan.ctaQ = 16 * plan.slicesPerWarp * plan.warps;
  return plan;
}

/// The plan table: the plan of a supported spec, with warpgroup MMAs or
/// mma.sync. Only planKernel asks it.
static KernelPlan selectKernelPlan(const KernelSpec &spec, bool warpgroupMMA) {
  KernelPlan plan;
  plan.paddedHeadDim = (spec.headDim + 63) / 64 * 64;
  if (warpgroupMMA)
    return selectWarpgroupPlan(spec, plan.paddedHeadDim);
  plan.warps = 4;
  plan.stages = 2;
  // Measured on an H100 (docs/performance.md): two 16-row slices per warp
  // (128 query rows per CTA, each K/V fragment feeding two mma.sync) win
  // wherever they fit in registers without spills. Structural masks need a
  // few registers more (the per-row band), hence the single slice of the
  // masked kinds at D = 128. test/Conversion/FlashToGPU/no-spills.test
  // checks every entry with ptxas.
  // Block-sparse kernels take power-of-two key tiles, which the key blocks
  // of layouts (128 keys in FlexAttention's) split into.
  bool masked = spec.mask != MaskKind::None;
  if (plan.paddedHeadDim <= 64) {
    // Q's fragments stay in registers. 80-key tiles amortize the per-tile
    // work best (1.10-1.13x FA2 unmasked, against 1.04-1.08x with 64 and
    // 1.07-1.11x with 96 keys and Q re-read); the sliding window's
    // two-sided band needs the registers of 64-key tiles, and so does
    // dropout's random bits under the bottom-right causal mask (24 bytes of
    // spills with 80).
    plan.slicesPerWarp = 2;
    plan.ctaKV = spec.mask == MaskKind::SlidingWindow ||
                         spec.features.blockSparse || spec.features.dropout
                     ? 64
                     : 80;
    plan.queryInRegisters = true;
  } else if (plan.paddedHeadDim <= 128 && !masked) {
    // The O accumulators of two slices take 128 registers: Q's fragments
    // are re-read from shared memory, and 48-key tiles are the widest
    // that fit (1.05-1.07x FA2, against 0.98x with 32 keys; 64 spill).
    plan.slicesPerWarp = 2;
    plan.ctaKV = spec.features.blockSparse ? 32 : 48;
    plan.queryInRegisters = false;
  } else if (plan.paddedHeadDim <= 128) {
    plan.slicesPerWarp = 1;
    plan.ctaKV = 64;
    plan.queryInRegisters = true;
  } else {
    // From D = 192 on, one slice per warp, Q re-read from shared memory.
    plan.slicesPerWarp = 1;
    plan.ctaKV = 32;
    plan.queryInRegisters = false;
  }
  plan.ctaQ = 16 * plan.slicesPerWarp * plan.warps;
  return plan;
}

/// Checks that `plan` can be generated for `spec`; the message names the
/// options of convert-flash-to-gpu that set what is wrong.
static llvm::Error verifyKernelPlan(const KernelSpec &spec,
                                    const KernelPlan &plan) {
  auto error = [](const Twine &message) {
    return llvm::createStringError(message);
  };
  if (plan.warps <= 0)
    return error("warps must be positive, got " + Twine(plan.warps));
  if (plan.slicesPerWarp <= 0 ||
      plan.ctaQ != 16 * plan.slicesPerWarp * plan.warps)
    return error("cta-q must be a positive multiple of 16 x warps (" +
                 Twine(16 * plan.warps) + "), got " + Twine(plan.ctaQ));
  if (plan.ctaKV <= 0 || plan.ctaKV % 16 != 0)
    return error("cta-kv must be a positive multiple of 16, got " +
                 Twine(plan.ctaKV));
  int64_t chunksPerRow = plan.paddedHeadDim / 8;
  for (auto [option, rows] : {std::pair<StringRef, int64_t>{"cta-q",
                                                            plan.ctaQ},
                              {"cta-kv", plan.ctaKV}})
    if (rows * chunksPerRow % plan.getThreads() != 0)
      return error("a tile of " + option + " = " + Twine(rows) +
                   " rows of " + Twine(chunksPerRow) +
                   " 16-byte chunks must split evenly over the " +
                   Twine(plan.getThreads()) + " threads of " +
                   Twine(plan.warps) + " warps");
  if (plan.stages < 2 || plan.stages > 4)
    return error("stages must be 2, 3 or 4, got " + Twine(plan.stages));
  if (spec.features.blockSparse && plan.stages != 2)
    return error("block-sparse kernels take stages = 2, got " +
                 Twine(plan.stages));
  const ChipInfo &chip = getChipInfo(spec.chip);
  if (plan.getSharedMemoryBytes() > chip.maxSharedMemoryBytes)
    return error("the plan needs " + Twine(plan.getSharedMemoryBytes()) +
                 " bytes of shared memory (cta-q, cta-kv and stages), "
                 "more than the " +
                 Twine(chip.maxSharedMemoryBytes) + " that " + chip.name +
                 " gives a CTA");
  if (plan.minCTAsPerSM < 1 || plan.minCTAsPerSM > 32)
    return error("min-ctas-per-sm must be between 1 and 32, got " +
                 Twine(plan.minCTAsPerSM));
  if (plan.warpgroupMMA) {
    if (!chip.warpgroupMMA)
      return error(
          Twine("warpgroup-mma: warpgroup MMAs need a chip that has them (") +
          listChips([](const ChipInfo &info) { return info.warpgroupMMA; }) +
          "), got '" + chip.name + "'");
    if (plan.warps % 4 != 0)
      return error("warpgroup MMAs need warps to be a multiple of 4, got " +
                   Twine(plan.warps));
    if (plan.ctaKV > 256)
      return error("warpgroup MMAs take cta-kv up to 256, got " +
                   Twine(plan.ctaKV));
    if (plan.queryInRegisters)
      return error("warpgroup MMAs read Q from shared memory: "
                   "query-in-registers must be no");
  } else if (plan.scoresBeforeCopies) {
    return error("scores-before-copies (Q K^T issued before the next tile's "
                 "copies) needs warpgroup MMAs");
  }
  return llvm::Error::success();
}

namespace {
/// The values a size override of convert-flash-to-gpu may take.
struct SizeOverrideRange {
  StringLiteral option;
  int64_t min, max;
};
} // namespace

static constexpr SizeOverrideRange kSizeOverrideRanges[] = {
    {"cta-q", 16, kMaxPlanTileRows},
    // A CTA has at most 1024 threads.
    {"warps", 1, 32},
    {"cta-kv", 16, kMaxPlanTileRows},
    {"stages", 2, 4},
    {"min-ctas-per-sm", 1, 32}};

llvm::Error mlir::flash::checkPlanSizeOverride(StringRef option,
                                               int64_t value) {
  for (const SizeOverrideRange &range : kSizeOverrideRanges) {
    if (range.option != option)
      continue;
    if (value >= range.min && value <= range.max)
      return llvm::Error::success();
    return llvm::createStringError(option + " must be in [" + Twine(range.min) +
                                   ", " + Twine(range.max) + "], got " +
                                   Twine(value));
  }
  llvm_unreachable("not a size override of convert-flash-to-gpu");
}

llvm::Expected<KernelPlan>
mlir::flash::planKernel(const KernelSpec &spec,
                        const ConvertFlashToGPUOptions &options) {
  // The options' parser rejects sizes out of range; options built in C++
  // are checked here, before any arithmetic on them (a huge warps made
  // 16 x warps overflow to 0, a division by zero).
  for (auto [option, value] :
       {std::pair<StringRef, int64_t>{"cta-q", options.ctaQ},
        {"warps", options.warps},
        {"cta-kv", options.ctaKV},
        {"stages", options.stages},
        {"min-ctas-per-sm", options.minCTAsPerSM}})
    if (value != 0)
      if (llvm::Error err = checkPlanSizeOverride(option, value))
        return std::move(err);
  // The overrides given, spelled as the options, for the error message.
  SmallVector<std::string> given;
  auto setFlag = [&](StringRef option, PlanFlag flag, bool &field) {
    if (flag == PlanFlag::Table)
      return;
    field = flag == PlanFlag::Yes;
    given.push_back((option + (field ? "=yes" : "=no")).str());
  };
  auto setSize = [&](StringRef option, int64_t value, int64_t &field) {
    if (value == 0)
      return;
    field = value;
    given.push_back((option + "=" + Twine(value)).str());
  };
  bool warpgroupMMA = getChipInfo(spec.chip).warpgroupMMA;
  setFlag("warpgroup-mma", options.warpgroupMMA, warpgroupMMA);
  KernelPlan plan = selectKernelPlan(spec, warpgroupMMA);
  setSize("warps", options.warps, plan.warps);
  setSize("cta-q", options.ctaQ, plan.ctaQ);
  if (options.warps || options.ctaQ)
    plan.slicesPerWarp =
        std::max<int64_t>(1, plan.ctaQ / (16 * plan.warps));
  setSize("cta-kv", options.ctaKV, plan.ctaKV);
  setSize("stages", options.stages, plan.stages);
  setSize("min-ctas-per-sm", options.minCTAsPerSM, plan.minCTAsPerSM);
  setFlag("query-in-registers", options.queryInRegisters,
          plan.queryInRegisters);
  setFlag("scores-before-copies", options.scoresBeforeCopies,
          plan.scoresBeforeCopies);
  setFlag("copy-pointers", options.copyPointers, plan.copyPointers);
  if (llvm::Error err = verifyKernelPlan(spec, plan))
    return llvm::createStringError(
        "invalid plan for " + spec.getName() +
        (given.empty() ? " from the plan table"
                       : " with " + llvm::join(given, " ")) +
        ": " + llvm::toString(std::move(err)));
  return plan;
}

int64_t KernelPlan::getSharedMemoryBytes() const {
  int64_t rowBytes = paddedHeadDim * 2;
  int64_t tiles = rowBytes * (ctaQ + 2 * stages * ctaKV);
  // The dynamic shared memory is only 16-byte aligned; the swizzle of the
  // warpgroup MMAs' operands needs 1024.
  return warpgroupMMA ? tiles + 1024 : tiles;
}
