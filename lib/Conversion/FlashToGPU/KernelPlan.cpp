//===- KernelPlan.cpp - The schedule table of the GPU kernels -------------===//

#include "flash/Conversion/FlashToGPU/KernelPlan.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::flash;

std::string KernelSpec::getName() const {
  std::string name = llvm::formatv("flash_fwd_d{0}_{1}_{2}", headDim,
                                   getElementTypeName(), stringifyMaskKind(mask));
  if (blockSparse)
    name += "_sparse";
  return name + "_" + chip;
}

StringRef KernelSpec::getElementTypeName() const {
  return elementType == KernelElementType::F16 ? "f16" : "bf16";
}

Type KernelSpec::getElementType(MLIRContext *ctx) const {
  if (elementType == KernelElementType::F16)
    return Float16Type::get(ctx);
  return BFloat16Type::get(ctx);
}

std::optional<KernelElementType> mlir::flash::parseKernelElementType(
    StringRef name) {
  return llvm::StringSwitch<std::optional<KernelElementType>>(name)
      .Case("f16", KernelElementType::F16)
      .Case("bf16", KernelElementType::BF16)
      .Default(std::nullopt);
}

llvm::Error mlir::flash::verifyKernelSpec(const KernelSpec &spec) {
  if (spec.headDim <= 0 || spec.headDim % 8 != 0 || spec.headDim > 256)
    return llvm::createStringError(
        "head_dim must be a positive multiple of 8 up to 256, got %lld",
        static_cast<long long>(spec.headDim));
  if (spec.chip != "sm_80" && spec.chip != "sm_86" && spec.chip != "sm_89" &&
      spec.chip != "sm_90" && spec.chip != "sm_90a")
    return llvm::createStringError(
        "chip must be one of sm_80, sm_86, sm_89, sm_90, sm_90a, got '%s'",
        spec.chip.c_str());
  if (spec.blockSparse)
    return llvm::createStringError(
        "block-sparse GPU kernels are not generated yet");
  return llvm::Error::success();
}

KernelPlan mlir::flash::selectKernelPlan(const KernelSpec &spec) {
  KernelPlan plan;
  plan.paddedHeadDim = (spec.headDim + 63) / 64 * 64;
  // One 16-row slice per warp, 4 warps. Larger head dims stream narrower key
  // tiles so that two stages of K and V stay within shared memory and the
  // accumulators within registers.
  plan.warps = 4;
  plan.blockQ = 16 * plan.warps;
  plan.blockKV = plan.paddedHeadDim <= 128 ? 64 : 32;
  plan.stages = 2;
  // From D = 192 on, Q fragments (4 · D/16 registers) plus the O
  // accumulators (4 · D/8) exceed the register file without spills.
  plan.queryInRegisters = plan.paddedHeadDim <= 128;
  return plan;
}

int64_t KernelPlan::getSharedMemoryBytes() const {
  int64_t rowBytes = paddedHeadDim * 2;
  return rowBytes * (blockQ + 2 * stages * blockKV);
}
