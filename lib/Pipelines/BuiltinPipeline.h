//===- BuiltinPipeline.h - Append a pipeline spelled as text ----*- C++ -*-===//

#ifndef FLASH_LIB_PIPELINES_BUILTINPIPELINE_H
#define FLASH_LIB_PIPELINES_BUILTINPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::flash {

/// Appends `pipeline`, in the textual pass-pipeline syntax, to `pm`. The
/// named pipelines are written this way so that their stages read in one
/// place. The text is the project's own (user options only fill in values,
/// checked first), but its passes are looked up in the pass registry: a
/// tool that did not register them (e.g. a C API client that called only
/// flashRegisterPasses) gets the parser's message through `emitError`,
/// prefixed with `name`, and a failure, never an abort. The text must not
/// be wrapped in `builtin.module(...)`: added to a module pass manager, that
/// would nest a second one that runs on nothing.
inline LogicalResult
addBuiltinPipeline(OpPassManager &pm, llvm::StringRef pipeline,
                   llvm::StringRef name,
                   function_ref<LogicalResult(const llvm::Twine &)> emitError) {
  std::string message;
  llvm::raw_string_ostream os(message);
  if (succeeded(parsePassPipeline(pipeline, pm, os)))
    return success();
  return emitError(llvm::Twine(name) +
                   ": cannot build the pipeline (are the upstream passes "
                   "registered, e.g. by registerAllPasses?): " +
                   llvm::StringRef(message).trim());
}

} // namespace mlir::flash

#endif // FLASH_LIB_PIPELINES_BUILTINPIPELINE_H
