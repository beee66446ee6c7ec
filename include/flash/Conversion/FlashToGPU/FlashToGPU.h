//===- FlashToGPU.h - What convert-flash-to-gpu generates -------*- C++ -*-===//
//
// The steps of convert-flash-to-gpu that flash-aot and the C API share:
// the kernel of an op (its spec and the plan chosen once, with the pass's
// overrides), building it stamped with its plan, the backward kernels of a
// gradient op, and the pass's options from text, through which flash-aot
// and the C API pass overrides.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_FLASHTOGPU_H
#define FLASH_CONVERSION_FLASHTOGPU_FLASHTOGPU_H

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"
#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "flash/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/Error.h"

#include <string>

namespace mlir::flash {

/// A kernel to generate: what it computes and how.
struct PlannedKernel {
  KernelSpec spec;
  KernelPlan plan;
};

/// The kernel that convert-flash-to-gpu with `options` generates for `op`
/// on `chip` (`options.chip` is not read): the op's spec, the plan of
/// planKernel. Fails with the reason in `reason` for an op that the kernels
/// do not cover (the pass leaves it in place), and with an error emitted on
/// `op` and `reason` empty for a plan that the overrides of `options` make
/// invalid.
FailureOr<PlannedKernel>
planAttentionKernel(AttentionOp op, Chip chip,
                    const ConvertFlashToGPUOptions &options,
                    std::string &reason);

/// The backward kernels to generate (BackwardKernel.h): what they compute
/// and how the main kernel tiles it.
struct PlannedBackward {
  KernelSpec spec;
  BackwardPlan plan;
};

/// The backward kernels that convert-flash-to-gpu generates for `op` on
/// `chip`: the op's backward spec and its plan (planBackwardKernel, which
/// the plan overrides of convert-flash-to-gpu do not change). Fails with
/// the reason in `reason` for an op that the kernels do not cover (the pass
/// leaves it in place).
FailureOr<PlannedBackward>
planAttentionGradKernels(AttentionGradOp op, Chip chip, std::string &reason);

/// Builds the kernel as a gpu.func named kernel.spec.getName() at the
/// builder's insertion point (in a gpu.module), with its plan as the
/// `flash.kernel_plan` attribute. Needs the flash dialect loaded.
gpu::GPUFuncOp buildKernel(OpBuilder &builder, Location loc,
                           const PlannedKernel &kernel);

/// convert-flash-to-gpu's options from their textual form as in a pass
/// pipeline, e.g. "cta-kv=32 warpgroup-mma=no"; the error names the bad
/// option (the option parser writes what is wrong with its value to
/// stderr).
llvm::Expected<ConvertFlashToGPUOptions>
parseConvertFlashToGPUOptions(StringRef text);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_FLASHTOGPU_H
