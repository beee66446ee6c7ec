//===- Launch.cpp - Launch forward kernels --------------------------------===//

#include "Launch.h"
#include "Error.h"
#include "Objects.h"

#include <algorithm>

using namespace flashrt;

ForwardParams::ForwardParams(const ForwardOperands &ops) {
  for (const flashrt_tensor *tensor : {ops.q, ops.k, ops.v, ops.o, ops.lse})
    params.addMemref(*tensor);
  // log2(e) in double, so that the only rounding is to f32 at the end.
  scaleLog2 = static_cast<float>(static_cast<double>(ops.scale) *
                                 1.4426950408889634074);
  // A window side of Lq + Lk or more sees every key: kernels built before
  // they clamped it themselves overflowed on INT64_MAX.
  int64_t widest = ops.q->sizes[2] + ops.k->sizes[2];
  windowLeft = std::min(ops.windowLeft, widest);
  windowRight = std::min(ops.windowRight, widest);
  params.addScalar(&scaleLog2);
  params.addScalar(&windowLeft);
  params.addScalar(&windowRight);
  if (ops.layout)
    addLayout(*ops.layout,
              (ops.q->sizes[2] + ops.layout->block_q - 1) /
                  ops.layout->block_q);
  if (ops.dropout)
    addDropoutParams(params, *ops.dropout, dropout);
}

void flashrt::addDropoutParams(KernelParams &params,
                               const flashrt_dropout &dropout,
                               int64_t (&values)[3]) {
  values[0] = static_cast<int64_t>(dropout.seed);
  values[1] = static_cast<int64_t>(dropout.offset);
  values[2] = getDropoutKeep(dropout.p);
  for (int64_t &value : values)
    params.addScalar(&value);
}

void ForwardParams::addLayout(const flashrt_block_layout &layout,
                              int64_t numQueryTiles) {
  // Without a full list the kernel gets one of no entries (N = 0), which it
  // never reads, nor its counts.
  flashrt_tensor noCounts{nullptr, FLASHRT_DTYPE_I32, 3, {1, 1, numQueryTiles}};
  flashrt_tensor noIndices{
      nullptr, FLASHRT_DTYPE_I32, 4, {1, 1, numQueryTiles, 0}};
  bool hasFull = layout.full_kv_num_blocks != nullptr;
  params.addMemref(*layout.kv_num_blocks);
  params.addMemref(*layout.kv_indices);
  params.addMemref(hasFull ? *layout.full_kv_num_blocks : noCounts);
  params.addMemref(hasFull ? *layout.full_kv_indices : noIndices);
  blockSizes[0] = layout.block_q;
  blockSizes[1] = layout.block_kv;
  params.addScalar(&blockSizes[0]);
  params.addScalar(&blockSizes[1]);
}

void KernelParams::addMemref(const flashrt_tensor &tensor) {
  Memref &slot = memrefs[memrefCount++];
  slot.allocated = tensor.data;
  slot.aligned = tensor.data;
  slot.offset = 0;
  pointers[count++] = &slot.allocated;
  pointers[count++] = &slot.aligned;
  pointers[count++] = &slot.offset;
  for (int i = 0; i < tensor.rank; ++i) {
    slot.sizes[i] = tensor.sizes[i];
    pointers[count++] = &slot.sizes[i];
  }
  for (int i = 0; i < tensor.rank; ++i) {
    // A dimension of size 1 is never stepped over; 0 keeps its stride a
    // multiple of 8 whatever the caller's layout put there.
    slot.strides[i] = tensor.sizes[i] <= 1 ? 0 : tensor.strides[i];
    pointers[count++] = &slot.strides[i];
  }
}

namespace {

/// Validates and launches a dense (`layout` null) or block-sparse forward
/// call.
flashrt_status launchForward(flashrt_context *ctx, const flashrt_kernel *kernel,
                             const ForwardOperands &ops, void *stream) {
  if (!ctx || !kernel)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "ctx or kernel is null");
  if (kernel->ctx != ctx)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "kernel '" + kernel->name + "' was loaded in another context");
  bool sparse = ops.layout != nullptr;
  FLASHRT_RETURN_IF_ERROR(validateForward(kernel->info, ops, sparse));
  ForwardGrid grid = forwardGrid(kernel->info, ops);
  if (grid.x == 0 || grid.y == 0 || grid.z == 0)
    return FLASHRT_SUCCESS; // nothing to compute

  int64_t smem = kernel->info.smem_bytes;
  if (sparse) {
    smem = sparseSharedMemory(kernel->info, ops.k->sizes[2],
                              ops.layout->block_kv);
    if (smem > ctx->maxSharedOptin)
      return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                  "kernel '" + kernel->name + "' needs " +
                      std::to_string(smem) +
                      " bytes of shared memory with this layout (" +
                      std::to_string(kernel->info.smem_bytes) +
                      " for its tiles, the rest to stage a row of the "
                      "layout: Lk = " +
                      std::to_string(ops.k->sizes[2]) + " keys in blocks of " +
                      std::to_string(ops.layout->block_kv) +
                      "); the device allows " +
                      std::to_string(ctx->maxSharedOptin) + " per block");
  }
  ForwardParams params(ops);
  const CudaDriver &driver = *ctx->driver;
  ScopedContext scope(*ctx);
  FLASHRT_RETURN_IF_ERROR(scope.enter());
  if (cu::Result result = driver.launchKernel(
          kernel->function, grid.x, grid.y, grid.z,
          static_cast<unsigned>(kernel->info.threads), 1, 1,
          static_cast<unsigned>(smem), static_cast<cu::Stream>(stream),
          params.data(), nullptr))
    return cudaFail(driver, result, "cuLaunchKernel",
                    " for kernel '" + kernel->name + "'");
  return FLASHRT_SUCCESS;
}

} // namespace

extern "C" flashrt_status flashrt_attention_forward(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t windowLeft, int64_t windowRight, void *stream) {
  return guarded([&] {
    return launchForward(
        ctx, kernel, {q, k, v, o, lse, scale, windowLeft, windowRight},
        stream);
  });
}

extern "C" flashrt_status flashrt_attention_forward_dropout(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t windowLeft, int64_t windowRight, const flashrt_dropout *dropout,
    void *stream) {
  return guarded([&] {
    if (!dropout)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "dropout is null");
    return launchForward(ctx, kernel,
                         {q, k, v, o, lse, scale, windowLeft, windowRight,
                          nullptr, dropout},
                         stream);
  });
}

extern "C" flashrt_status flashrt_attention_forward_sparse(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t windowLeft, int64_t windowRight,
    const flashrt_block_layout *layout, void *stream) {
  return guarded([&] {
    if (!layout)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "layout is null");
    return launchForward(
        ctx, kernel,
        {q, k, v, o, lse, scale, windowLeft, windowRight, layout}, stream);
  });
}
