//===- KernelCompiler.h - Kernel spec in, PTX out ---------------*- C++ -*-===//
//
// The compile entry point that flash-aot, the C API and the Python package
// share: a KernelSpec and its plan (planKernel) go in, the PTX of its
// forward kernel and the launch metadata of docs/kernel-abi.md come out.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_PIPELINES_KERNELCOMPILER_H
#define FLASH_PIPELINES_KERNELCOMPILER_H

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"
#include "flash/Conversion/FlashToGPU/FlashToGPU.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace mlir::flash {

/// The manifest version that flash-aot writes (docs/kernel-abi.md): 2 has
/// spec.kind, spec.features and config.cta_q / cta_kv. The runtime reads 1
/// and 2.
inline constexpr int kManifestVersion = 2;

struct CompiledKernel {
  KernelSpec spec;
  KernelPlan plan;
  std::string name;
  std::string ptx;
};

/// The three kernels of a backward (BackwardKernel.h) in one PTX module.
struct CompiledBackward {
  KernelSpec spec;
  BackwardPlan plan;
  /// The main kernel's symbol; the others append _preprocess and _dq.
  std::string name;
  std::string ptx;
};

/// An MLIRContext holding what compileForwardKernel needs (the GPU, NVVM,
/// LLVM dialects and their translations to LLVM IR).
std::unique_ptr<MLIRContext> createKernelCompilerContext();

/// Generates and serializes the forward kernel of `kernel.spec` with
/// `kernel.plan`, a plan of planKernel (which checked it).
llvm::Expected<CompiledKernel>
compileForwardKernel(MLIRContext &ctx, const PlannedKernel &kernel);

/// Generates and serializes the backward kernels of `spec` with `plan`.
llvm::Expected<CompiledBackward>
compileBackwardKernels(MLIRContext &ctx, const KernelSpec &spec,
                       const BackwardPlan &plan);

/// The kernel's manifest entry (docs/kernel-abi.md, version
/// kManifestVersion), without file names.
llvm::json::Object describeKernel(const CompiledKernel &kernel);

/// The backward's manifest entry, without file names: the main kernel's
/// name (the others append _preprocess and _dq), spec, plan, launch
/// geometry of the main and the row kernels, and the parameters.
llvm::json::Object describeBackwardKernels(const CompiledBackward &kernel);

/// The kernel's parameters as the manifest lists them ("memref4:q", ...):
/// the dense ABI, then for block-sparse kernels the layout.
llvm::json::Array describeParams(const KernelSpec &spec);

} // namespace mlir::flash

#endif // FLASH_PIPELINES_KERNELCOMPILER_H
