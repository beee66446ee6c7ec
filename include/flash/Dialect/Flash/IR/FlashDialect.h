//===- FlashDialect.h - The flash dialect -----------------------*- C++ -*-===//

#ifndef FLASH_DIALECT_FLASH_IR_FLASHDIALECT_H
#define FLASH_DIALECT_FLASH_IR_FLASHDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"

#include "flash/Dialect/Flash/IR/FlashEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "flash/Dialect/Flash/IR/FlashAttrs.h.inc"

// After the attributes: the dialect's helper of its discardable attribute
// flash.kernel_plan takes a KernelPlanAttr.
#include "flash/Dialect/Flash/IR/FlashOpsDialect.h.inc"

#endif // FLASH_DIALECT_FLASH_IR_FLASHDIALECT_H
