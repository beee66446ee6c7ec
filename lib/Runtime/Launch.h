//===- Launch.h - The kernel parameter array --------------------*- C++ -*-===//
//
// Packs the operands of a forward call into the parameter array of
// docs/kernel-abi.md: each memref expanded into allocated pointer, aligned
// pointer, offset 0, sizes and strides; then scale * log2(e) as f32 and the
// two i64 window extents; for a block-sparse call, the layout's four memrefs
// and its two i64 block sizes.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_LAUNCH_H
#define FLASH_LIB_RUNTIME_LAUNCH_H

#include "Validate.h"

#include <cstddef>
#include <cstdint>

namespace flashrt {

class ForwardParams {
public:
  /// 4 rank-4 memrefs of 11 values, 1 rank-3 memref of 9, 3 scalars; a
  /// layout adds 2 rank-3 memrefs, 2 rank-4 ones and 2 scalars.
  static constexpr size_t kDenseCount = 4 * 11 + 9 + 3;
  static constexpr size_t kCount = kDenseCount + 2 * 9 + 2 * 11 + 2;

  /// `ops` must have passed validateForward.
  explicit ForwardParams(const ForwardOperands &ops);
  ForwardParams(const ForwardParams &) = delete;
  ForwardParams &operator=(const ForwardParams &) = delete;

  /// The array cuLaunchKernel takes: one pointer to each parameter's value.
  void **data() { return pointers; }

private:
  struct Memref {
    void *allocated;
    void *aligned;
    int64_t offset;
    int64_t sizes[4];
    int64_t strides[4];
  };

  void addMemref(Memref &slot, const flashrt_tensor &tensor);
  void addLayout(const flashrt_block_layout &layout, int64_t numQueryTiles);

  Memref memrefs[9];
  float scaleLog2;
  int64_t windowLeft;
  int64_t windowRight;
  int64_t blockSizes[2];
  void *pointers[kCount];
  size_t count = 0;
};

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_LAUNCH_H
