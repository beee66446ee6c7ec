//===- Passes.cpp - C API for the flash passes and pipelines --------------===//

#include "flash-c/Passes.h"

#include "flash/InitFlash.h"

#include <mutex>

void flashRegisterPasses(void) {
  // The pipeline registry rejects a second registration of the same name;
  // C callers (and bindings that register on import) should not have to
  // track whether someone already did it.
  static std::once_flag registered;
  std::call_once(registered,
                 [] { mlir::flash::registerFlashPassesAndPipelines(); });
}
