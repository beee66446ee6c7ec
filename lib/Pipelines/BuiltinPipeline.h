//===- BuiltinPipeline.h - Append a pipeline spelled as text ----*- C++ -*-===//

#ifndef FLASH_LIB_PIPELINES_BUILTINPIPELINE_H
#define FLASH_LIB_PIPELINES_BUILTINPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/ErrorHandling.h"

namespace mlir::flash {

/// Appends `pipeline`, in the textual pass-pipeline syntax, to `pm`. The
/// named pipelines are written this way so that their stages read in one
/// place. The text is the project's own (user options only fill in values),
/// so a parse failure is a bug in `name`, not bad input. The text must not
/// be wrapped in `builtin.module(...)`: added to a module pass manager, that
/// would nest a second one that runs on nothing.
inline void addBuiltinPipeline(OpPassManager &pm, llvm::StringRef pipeline,
                               llvm::StringRef name) {
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error(llvm::Twine(name) +
                             ": malformed built-in pipeline");
}

} // namespace mlir::flash

#endif // FLASH_LIB_PIPELINES_BUILTINPIPELINE_H
