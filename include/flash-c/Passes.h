/*===- Passes.h - C API for the flash passes and pipelines --------*- C -*-===*\
|*                                                                            *|
|* Makes the flash passes (flash-decompose-attention, flash-tile-attention,   *|
|* flash-decompose-aggregates, ...) and the named flash pipelines             *|
|* (flash-to-cpu) known to the textual pass pipeline parser, so that they can *|
|* be added with mlirParsePassPipeline or mlirOpPassManagerAddPipeline.       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef FLASH_C_PASSES_H
#define FLASH_C_PASSES_H

#include "mlir-c/Pass.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Registers every flash pass and every named flash pipeline with the global
/// pass registry. Calling it again has no effect. The pipelines are spelled
/// in terms of upstream passes: building flash-to-cpu also needs those
/// registered, e.g. by mlirRegisterAllPasses().
MLIR_CAPI_EXPORTED void flashRegisterPasses(void);

#ifdef __cplusplus
}
#endif

#endif /* FLASH_C_PASSES_H */
