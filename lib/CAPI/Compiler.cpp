//===- Compiler.cpp - C API: kernel spec in, PTX out ----------------------===//

#include "flash-c/Compiler.h"

#include "flash/Pipelines/KernelCompiler.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::flash;

static char *copyString(llvm::StringRef s) {
  char *copy = static_cast<char *>(std::malloc(s.size() + 1));
  std::memcpy(copy, s.data(), s.size());
  copy[s.size()] = '\0';
  return copy;
}

static bool fail(char **error, const llvm::Twine &message) {
  if (error)
    *error = copyString(message.str());
  return false;
}

bool flashCompileForwardKernel(const FlashKernelSpec *spec,
                               FlashCompiledKernel *kernel, char **error) {
  return flashCompileForwardKernelWithOptions(spec, nullptr, kernel, error);
}

bool flashCompileForwardKernelWithOptions(const FlashKernelSpec *cSpec,
                                          const char *cOptions,
                                          FlashCompiledKernel *kernel,
                                          char **error) {
  if (!cSpec || !kernel)
    return fail(error, "spec and kernel must not be NULL");
  auto orNull = [](const char *s) { return s ? s : "(null)"; };
  SmallVector<StringRef> features;
  if (cSpec->features)
    for (StringRef name : llvm::split(cSpec->features, ','))
      if (!name.trim().empty())
        features.push_back(name.trim());
  llvm::Expected<KernelSpec> spec = parseKernelSpec(
      cSpec->kind ? cSpec->kind : "forward", cSpec->headDim,
      orNull(cSpec->dtype), orNull(cSpec->mask), features, orNull(cSpec->chip));
  if (!spec)
    return fail(error, llvm::toString(spec.takeError()));
  // One context per thread: compiling is not on any hot path, and contexts
  // are not shared across threads without care.
  thread_local std::unique_ptr<MLIRContext> ctx = createKernelCompilerContext();
  auto output = [&](StringRef name, StringRef ptx, llvm::json::Object meta) {
    kernel->name = copyString(name);
    kernel->ptx = copyString(ptx);
    kernel->metadata = copyString(
        llvm::formatv("{0}", llvm::json::Value(std::move(meta))).str());
    return true;
  };
  if (spec->kind == KernelKind::Backward) {
    if (cOptions && !StringRef(cOptions).trim().empty())
      return fail(error, "options: the backward kernels take no plan "
                         "overrides yet");
    llvm::Expected<BackwardPlan> plan = planBackwardKernel(*spec);
    if (!plan)
      return fail(error, llvm::toString(plan.takeError()));
    llvm::Expected<CompiledBackward> compiled =
        compileBackwardKernels(*ctx, *spec, *plan);
    if (!compiled)
      return fail(error, llvm::toString(compiled.takeError()));
    return output(compiled->name, compiled->ptx,
                  describeBackwardKernels(*compiled));
  }

  // The overrides are convert-flash-to-gpu's options; its chip is the spec's.
  StringRef chip = stringifyChip(spec->chip);
  llvm::Expected<ConvertFlashToGPUOptions> options =
      parseConvertFlashToGPUOptions(
          ("chip=" + chip + " " + (cOptions ? cOptions : "")).str());
  if (!options)
    return fail(error, llvm::toString(options.takeError()));
  if (options->chip != chip)
    return fail(error, "options: the chip is the spec's ('" + chip +
                           "'), not '" + options->chip + "'");
  llvm::Expected<KernelPlan> plan = planKernel(*spec, *options);
  if (!plan)
    return fail(error, llvm::toString(plan.takeError()));

  llvm::Expected<CompiledKernel> compiled =
      compileForwardKernel(*ctx, PlannedKernel{*spec, *plan});
  if (!compiled)
    return fail(error, llvm::toString(compiled.takeError()));
  return output(compiled->name, compiled->ptx, describeKernel(*compiled));
}

void flashCompiledKernelDestroy(FlashCompiledKernel *kernel) {
  if (!kernel)
    return;
  std::free(kernel->name);
  std::free(kernel->ptx);
  std::free(kernel->metadata);
  kernel->name = kernel->ptx = kernel->metadata = nullptr;
}

void flashFreeString(char *str) { std::free(str); }
