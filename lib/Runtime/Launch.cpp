//===- Launch.cpp - Launch forward kernels --------------------------------===//

#include "Launch.h"
#include "Error.h"
#include "Objects.h"

using namespace flashrt;

ForwardParams::ForwardParams(const ForwardOperands &ops) {
  const flashrt_tensor *tensors[] = {ops.q, ops.k, ops.v, ops.o, ops.lse};
  for (int i = 0; i < 5; ++i)
    addMemref(memrefs[i], *tensors[i]);
  // log2(e) in double, so that the only rounding is to f32 at the end.
  scaleLog2 = static_cast<float>(static_cast<double>(ops.scale) *
                                 1.4426950408889634074);
  windowLeft = ops.windowLeft;
  windowRight = ops.windowRight;
  pointers[count++] = &scaleLog2;
  pointers[count++] = &windowLeft;
  pointers[count++] = &windowRight;
}

void ForwardParams::addMemref(Memref &slot, const flashrt_tensor &tensor) {
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

extern "C" flashrt_status flashrt_attention_forward(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t windowLeft, int64_t windowRight, void *stream) {
  return guarded([&] {
    if (!ctx || !kernel)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "ctx or kernel is null");
    if (kernel->ctx != ctx)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "kernel '" + kernel->name +
                      "' was loaded in another context");
    ForwardOperands ops{q, k, v, o, lse, scale, windowLeft, windowRight};
    FLASHRT_RETURN_IF_ERROR(validateForward(kernel->info, ops));
    ForwardGrid grid = forwardGrid(kernel->info, ops);
    if (grid.x == 0 || grid.y == 0 || grid.z == 0)
      return FLASHRT_SUCCESS; // nothing to compute

    ForwardParams params(ops);
    const CudaDriver &driver = *ctx->driver;
    ScopedContext scope(*ctx);
    FLASHRT_RETURN_IF_ERROR(scope.enter());
    if (cu::Result result = driver.launchKernel(
            kernel->function, grid.x, grid.y, grid.z,
            static_cast<unsigned>(kernel->info.threads), 1, 1,
            static_cast<unsigned>(kernel->info.smem_bytes),
            static_cast<cu::Stream>(stream), params.data(), nullptr))
      return cudaFail(driver, result, "cuLaunchKernel",
                      " for kernel '" + kernel->name + "'");
    return FLASHRT_SUCCESS;
  });
}
