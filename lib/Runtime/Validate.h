//===- Validate.h - Check a forward call before launching -------*- C++ -*-===//

#ifndef FLASH_LIB_RUNTIME_VALIDATE_H
#define FLASH_LIB_RUNTIME_VALIDATE_H

#include "flash/Runtime/Runtime.h"

namespace flashrt {

/// The operands of a dense forward call, in ABI order.
struct ForwardOperands {
  const flashrt_tensor *q, *k, *v, *o, *lse;
  float scale;
  int64_t windowLeft, windowRight;
};

/// Checks `ops` against `info` and docs/kernel-abi.md; see
/// flashrt_validate_forward. The first violation found is reported.
flashrt_status validateForward(const flashrt_kernel_info &info,
                               const ForwardOperands &ops);

/// The launch grid of a validated forward call.
struct ForwardGrid {
  unsigned x, y, z;
};
ForwardGrid forwardGrid(const flashrt_kernel_info &info,
                        const ForwardOperands &ops);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_VALIDATE_H
