/*===- Dialects.h - C API for the flash dialect -------------------*- C -*-===*\
|*                                                                            *|
|* Registers and loads the flash dialect through an MlirDialectHandle, in the *|
|* way of mlir-c/Dialect/*.h:                                                 *|
|*                                                                            *|
|*   MlirDialectHandle flash = mlirGetDialectHandle__flash__();               *|
|*   mlirDialectHandleRegisterDialect(flash, ctx);                            *|
|*   mlirDialectHandleLoadDialect(flash, ctx);                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef FLASH_C_DIALECTS_H
#define FLASH_C_DIALECTS_H

#include "mlir-c/IR.h"

#ifdef __cplusplus
extern "C" {
#endif

MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(Flash, flash);

#ifdef __cplusplus
}
#endif

#endif /* FLASH_C_DIALECTS_H */
