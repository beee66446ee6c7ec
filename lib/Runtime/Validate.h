//===- Validate.h - Check a forward call before launching -------*- C++ -*-===//

#ifndef FLASH_LIB_RUNTIME_VALIDATE_H
#define FLASH_LIB_RUNTIME_VALIDATE_H

#include "flash/Runtime/Runtime.h"

namespace flashrt {

/// The operands of a forward call, in ABI order; `layout` is null for a
/// dense call, `dropout` for a call without dropout.
struct ForwardOperands {
  const flashrt_tensor *q, *k, *v, *o, *lse;
  float scale;
  int64_t windowLeft, windowRight;
  const flashrt_block_layout *layout = nullptr;
  const flashrt_dropout *dropout = nullptr;
};

/// Checks that `dropout` is given exactly when the kernel has dropout, and
/// that its p is a probability. `where` says how a call passes it.
flashrt_status checkDropout(const flashrt_kernel_info &info,
                            const flashrt_dropout *dropout, const char *where);

/// The keep threshold of drop probability `p` (flashrt_dropout): the
/// kernels' dropout_keep.
int64_t getDropoutKeep(double p);

/// Checks `ops` against `info` and docs/kernel-abi.md; see
/// flashrt_validate_forward and flashrt_validate_forward_sparse (`sparse`).
/// The first violation found is reported.
flashrt_status validateForward(const flashrt_kernel_info &info,
                               const ForwardOperands &ops, bool sparse);

/// The checks of validateForward on q, k, v, o and lse, the scale and the
/// windows, which every kernel kind that takes them shares.
flashrt_status validateAttentionTensors(const flashrt_kernel_info &info,
                                        const ForwardOperands &ops);

/// Checks that `tensor` (called `name` in messages) is present and like
/// `ref` (called `refName`): its rank, sizes and dtype, with the ABI's
/// strides (the last contiguous; the others multiples of 8 elements for
/// rank 4) and a 16-byte aligned pointer.
flashrt_status validateLike(const char *name, const flashrt_tensor *tensor,
                            const char *refName, const flashrt_tensor &ref);

/// The dynamic shared memory of a block-sparse launch (see
/// flashrt_sparse_shared_memory), for validated operands.
int64_t sparseSharedMemory(const flashrt_kernel_info &info, int64_t keyLen,
                           int64_t blockKV);

/// The launch grid of a validated forward call.
struct ForwardGrid {
  unsigned x, y, z;
};
ForwardGrid forwardGrid(const flashrt_kernel_info &info,
                        const ForwardOperands &ops);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_VALIDATE_H
