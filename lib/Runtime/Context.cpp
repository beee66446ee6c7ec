//===- Context.cpp - Devices and their primary contexts -------------------===//

#include "Error.h"
#include "Objects.h"

#include <memory>

using namespace flashrt;

flashrt_status ScopedContext::enter() {
  const CudaDriver &driver = *ctx.driver;
  cu::Context current = nullptr;
  if (cu::Result result = driver.ctxGetCurrent(&current))
    return cudaFail(driver, result, "cuCtxGetCurrent");
  if (current == ctx.context)
    return FLASHRT_SUCCESS;
  if (cu::Result result = driver.ctxPushCurrent(ctx.context))
    return cudaFail(driver, result, "cuCtxPushCurrent");
  pushed = true;
  return FLASHRT_SUCCESS;
}

ScopedContext::~ScopedContext() {
  if (pushed) {
    cu::Context popped;
    ctx.driver->ctxPopCurrent(&popped);
  }
}

void flashrt::releaseContext(flashrt_context *ctx) {
  if (ctx && ctx->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    ctx->driver->primaryCtxRelease(ctx->device);
    delete ctx;
  }
}

extern "C" flashrt_status flashrt_context_create(int ordinal,
                                                 flashrt_context **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    const CudaDriver *driver;
    FLASHRT_RETURN_IF_ERROR(loadCudaDriver(driver));
    auto ctx = std::make_unique<flashrt_context>();
    ctx->driver = driver;
    std::string which = " for device " + std::to_string(ordinal);
    if (cu::Result result = driver->deviceGet(&ctx->device, ordinal))
      return cudaFail(*driver, result, "cuDeviceGet", which);
    int major = 0, minor = 0;
    if (cu::Result result = driver->deviceGetAttribute(
            &major, cu::kComputeCapabilityMajor, ctx->device))
      return cudaFail(*driver, result, "cuDeviceGetAttribute", which);
    if (cu::Result result = driver->deviceGetAttribute(
            &minor, cu::kComputeCapabilityMinor, ctx->device))
      return cudaFail(*driver, result, "cuDeviceGetAttribute", which);
    if (cu::Result result = driver->deviceGetAttribute(
            &ctx->maxSharedOptin, cu::kMaxSharedMemoryPerBlockOptin,
            ctx->device))
      return cudaFail(*driver, result, "cuDeviceGetAttribute", which);
    ctx->chip = major * 100 + minor * 10;
    if (cu::Result result =
            driver->primaryCtxRetain(&ctx->context, ctx->device))
      return cudaFail(*driver, result, "cuDevicePrimaryCtxRetain", which);
    *out = ctx.release();
    return FLASHRT_SUCCESS;
  });
}

extern "C" void flashrt_context_destroy(flashrt_context *ctx) {
  releaseContext(ctx);
}

extern "C" int flashrt_context_chip(const flashrt_context *ctx) {
  return ctx ? ctx->chip : 0;
}
