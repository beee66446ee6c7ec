//===- Launch.h - The kernel parameter array --------------------*- C++ -*-===//
//
// The parameter arrays of docs/kernel-abi.md (KernelParams), and the
// forward's: q, k, v, o, lse; then scale * log2(e) as f32 and the two i64
// window extents; for a block-sparse call, the layout's four memrefs and
// its two i64 block sizes; with dropout, its three i64 parameters. (The
// backward's are in Backward.cpp.)
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_LAUNCH_H
#define FLASH_LIB_RUNTIME_LAUNCH_H

#include "Validate.h"

#include <cstddef>
#include <cstdint>

namespace flashrt {

/// A kernel's parameter array as cuLaunchKernel takes it: one pointer to
/// each parameter's value, the values held here. Memrefs are expanded into
/// allocated pointer, aligned pointer, offset 0, sizes and strides.
class KernelParams {
public:
  static constexpr size_t kMaxMemrefs = 12;
  static constexpr size_t kMaxScalars = 8;

  KernelParams() = default;
  KernelParams(const KernelParams &) = delete;
  KernelParams &operator=(const KernelParams &) = delete;

  void addMemref(const flashrt_tensor &tensor);
  /// `value` must outlive the launch.
  void addScalar(void *value) { pointers[count++] = value; }
  void **data() { return pointers; }

private:
  struct Memref {
    void *allocated;
    void *aligned;
    int64_t offset;
    int64_t sizes[4];
    int64_t strides[4];
  };

  Memref memrefs[kMaxMemrefs];
  size_t memrefCount = 0;
  void *pointers[kMaxMemrefs * 11 + kMaxScalars];
  size_t count = 0;
};

class ForwardParams {
public:
  /// `ops` must have passed validateForward.
  explicit ForwardParams(const ForwardOperands &ops);
  ForwardParams(const ForwardParams &) = delete;
  ForwardParams &operator=(const ForwardParams &) = delete;

  /// The array cuLaunchKernel takes: one pointer to each parameter's value.
  void **data() { return params.data(); }

private:
  void addLayout(const flashrt_block_layout &layout, int64_t numQueryTiles);

  KernelParams params;
  float scaleLog2;
  int64_t windowLeft;
  int64_t windowRight;
  int64_t blockSizes[2];
  /// Dropout's seed, offset and keep threshold (KernelABI.h).
  int64_t dropout[3];
};

/// Adds the dropout parameters of `dropout` to `params`, held in `values`.
void addDropoutParams(KernelParams &params, const flashrt_dropout &dropout,
                      int64_t (&values)[3]);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_LAUNCH_H
