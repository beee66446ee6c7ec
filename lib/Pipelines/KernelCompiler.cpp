//===- KernelCompiler.cpp - Kernel spec in, PTX out -----------------------===//

#include "flash/Pipelines/KernelCompiler.h"

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"

#include "flash/Conversion/FlashToGPU/FlashToGPU.h"
#include "flash/Conversion/FlashToGPU/KernelABI.h"
#include "flash/Conversion/Passes.h"
#include "flash/Dialect/Flash/IR/FlashDialect.h"
#include "flash/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

using namespace mlir;
using namespace mlir::flash;

std::unique_ptr<MLIRContext> mlir::flash::createKernelCompilerContext() {
  // The pipeline is parsed from text: its passes must be registered.
  static bool passesRegistered = [] {
    registerAllPasses();
    registerFlashConversionPasses();
    return true;
  }();
  (void)passesRegistered;
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  auto ctx = std::make_unique<MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  // The kernels carry their plan as a flash dialect attribute.
  ctx->getOrLoadDialect<FlashDialect>();
  return ctx;
}

/// Builds a module of one gpu.module with `build`, runs the kernels-to-PTX
/// pipeline for `chip` (with the PTX `features` when not empty) and returns
/// the PTX; errors name `name`.
static llvm::Expected<std::string>
compileToPTX(MLIRContext &ctx, Chip chip, StringRef name,
             function_ref<void(OpBuilder &, Location)> build,
             StringRef features = "") {
  // Collect diagnostics instead of printing them.
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  OpBuilder b(&ctx);
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                     b.getUnitAttr());
  b.setInsertionPointToEnd(module->getBody());
  auto kernels = gpu::GPUModuleOp::create(b, loc, "flash_kernels");
  b.setInsertionPointToEnd(kernels.getBody());
  build(b, loc);

  PassManager pm(&ctx);
  FlashToPTXOptions options;
  options.chip = stringifyChip(chip).str();
  if (!features.empty())
    options.features = features.str();
  std::string pipelineError;
  if (failed(buildKernelsToPTXPipeline(pm, options, [&](const Twine &message) {
        pipelineError = message.str();
        return failure();
      })))
    return llvm::createStringError("generating %s failed: %s",
                                   name.str().c_str(), pipelineError.c_str());
  if (failed(pm.run(*module)))
    return llvm::createStringError("generating %s failed: %s",
                                   name.str().c_str(), diagnostics.c_str());
  std::string ptx;
  module->walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        ptx = object.getObject().str();
  });
  if (ptx.empty())
    return llvm::createStringError("no PTX was produced for %s",
                                   name.str().c_str());
  return ptx;
}

llvm::Expected<CompiledKernel>
mlir::flash::compileForwardKernel(MLIRContext &ctx,
                                  const PlannedKernel &planned) {
  const KernelSpec &spec = planned.spec;
  llvm::Expected<std::string> ptx =
      compileToPTX(ctx, spec.chip, spec.getName(),
                   [&](OpBuilder &b, Location loc) {
                     buildKernel(b, loc, planned);
                   });
  if (!ptx)
    return ptx.takeError();
  return CompiledKernel{spec, planned.plan, spec.getName(), std::move(*ptx)};
}

llvm::Expected<CompiledBackward>
mlir::flash::compileBackwardKernels(MLIRContext &ctx, const KernelSpec &spec,
                                    const BackwardPlan &plan) {
  std::string name = spec.getName();
  llvm::Expected<std::string> ptx = compileToPTX(
      ctx, spec.chip, name,
      [&](OpBuilder &b, Location loc) {
        buildBackwardKernels(b, loc, spec, plan);
      },
      plan.warpgroupMMA ? kWarpgroupBackwardPTXFeatures : "");
  if (!ptx)
    return ptx.takeError();
  return CompiledBackward{spec, plan, name, std::move(*ptx)};
}

/// The manifest's spec member.
static llvm::json::Object describeSpec(const KernelSpec &spec) {
  llvm::json::Array features;
  for (StringRef name : spec.features.getNames())
    features.push_back(name);
  return llvm::json::Object{{"kind", stringifyKernelKind(spec.kind)},
                            {"head_dim", spec.headDim},
                            {"dtype", spec.getElementTypeName()},
                            {"mask", stringifyMaskKind(spec.mask)},
                            {"features", std::move(features)},
                            {"chip", stringifyChip(spec.chip)}};
}

llvm::json::Object mlir::flash::describeKernel(const CompiledKernel &kernel) {
  const KernelSpec &spec = kernel.spec;
  const KernelPlan &plan = kernel.plan;
  return llvm::json::Object{
      {"name", kernel.name},
      {"spec", describeSpec(spec)},
      {"config",
       llvm::json::Object{{"cta_q", plan.ctaQ},
                          {"cta_kv", plan.ctaKV},
                          {"warps", plan.warps},
                          {"slices_per_warp", plan.slicesPerWarp},
                          {"stages", plan.stages},
                          {"query_in_registers", plan.queryInRegisters},
                          {"warpgroup_mma", plan.warpgroupMMA},
                          {"min_ctas_per_sm", plan.minCTAsPerSM},
                          {"scores_before_copies", plan.scoresBeforeCopies},
                          {"copy_pointers", plan.copyPointers}}},
      {"threads", plan.getThreads()},
      {"smem_bytes", plan.getSharedMemoryBytes()},
      {"params", describeParams(spec)}};
}

llvm::json::Object
mlir::flash::describeBackwardKernels(const CompiledBackward &kernel) {
  const KernelSpec &spec = kernel.spec;
  const BackwardPlan &plan = kernel.plan;
  llvm::json::Array params;
  for (const KernelParam &param : getBackwardParams(spec.features))
    params.push_back(describeKernelParam(param));
  return llvm::json::Object{
      {"name", kernel.name},
      {"spec", describeSpec(spec)},
      {"config", llvm::json::Object{{"cta_q", plan.ctaQ},
                                    {"cta_kv", plan.ctaKV},
                                    {"warps", plan.warps},
                                    {"stages", BackwardPlan::kStages},
                                    {"warpgroup_mma", plan.warpgroupMMA}}},
      {"threads", plan.getThreads()},
      {"smem_bytes", plan.getSharedMemoryBytes()},
      {"row_kernels", llvm::json::Object{{"rows_per_cta", kBackwardRowsPerCta},
                                         {"threads", kBackwardRowThreads}}},
      {"params", std::move(params)}};
}

llvm::json::Array mlir::flash::describeParams(const KernelSpec &spec) {
  llvm::json::Array params;
  for (const KernelParam &param : getForwardParams(spec.features))
    params.push_back(describeKernelParam(param));
  return params;
}
