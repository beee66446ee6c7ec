//===- Kernel.cpp - Load kernels from PTX, cubins and libraries -----------===//

#include "Error.h"
#include "File.h"
#include "Library.h"
#include "Objects.h"
#include "Spec.h"

#include <memory>
#include <type_traits>

using namespace flashrt;

namespace {

constexpr size_t kJitLogSize = 16 * 1024;

struct ModuleUnloader {
  const CudaDriver *driver;
  void operator()(cu::Module module) const {
    driver->moduleUnload(module);
  }
};

/// Loads `image` (NUL-terminated PTX, or a cubin) as the kernel `info`.
flashrt_status loadImage(flashrt_context &ctx, const flashrt_kernel_info &info,
                         const std::string &image, bool isPtx,
                         flashrt_kernel *&out) {
  FLASHRT_RETURN_IF_ERROR(checkKernelInfo(info));
  std::string what = "kernel '" + std::string(info.name) + "'";
  if (!chipRuns(ctx.chip, info.spec.chip, isPtx))
    return fail(FLASHRT_ERROR_NO_KERNEL,
                what + " targets " + chipName(info.spec.chip) + "; an " +
                    chipName(ctx.chip) + " device cannot run its " +
                    (isPtx ? "PTX" : "cubin"));
  if (info.smem_bytes > ctx.maxSharedOptin)
    return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                what + " needs " + std::to_string(info.smem_bytes) +
                    " bytes of shared memory; the device allows " +
                    std::to_string(ctx.maxSharedOptin) + " per block");

  const CudaDriver &driver = *ctx.driver;
  ScopedContext scope(ctx);
  FLASHRT_RETURN_IF_ERROR(scope.enter());

  std::string log(kJitLogSize, '\0');
  int options[] = {cu::kJitErrorLogBuffer, cu::kJitErrorLogBufferSizeBytes};
  void *values[] = {&log[0], reinterpret_cast<void *>(kJitLogSize)};
  cu::Module rawModule = nullptr;
  if (cu::Result result = driver.moduleLoadDataEx(
          &rawModule, image.data(), 2, options, values)) {
    log.resize(log.find('\0'));
    return cudaFail(driver, result, "cuModuleLoadDataEx",
                    " for " + what + (log.empty() ? "" : ": " + log));
  }
  std::unique_ptr<std::remove_pointer_t<cu::Module>, ModuleUnloader> module(
      rawModule, {&driver});

  auto kernel = std::make_unique<flashrt_kernel>();
  kernel->name = info.name;
  kernel->info = info;
  kernel->info.name = kernel->name.c_str();
  if (cu::Result result = driver.moduleGetFunction(
          &kernel->function, module.get(), kernel->name.c_str()))
    return cudaFail(driver, result, "cuModuleGetFunction",
                    " for " + what + " (is the symbol in the image?)");
  if (info.spec.kind == FLASHRT_KIND_BACKWARD) {
    // The backward's other two kernels are in the same module.
    for (auto [suffix, slot] :
         {std::pair("_preprocess", &kernel->preprocess),
          std::pair("_dq", &kernel->queryGrad)}) {
      std::string symbol = kernel->name + suffix;
      if (cu::Result result =
              driver.moduleGetFunction(slot, module.get(), symbol.c_str()))
        return cudaFail(driver, result, "cuModuleGetFunction",
                        " for '" + symbol + "' of " + what);
    }
  }
  // A block-sparse launch adds the staging of its layout to smem_bytes, an
  // amount that depends on the key length: such kernels may take all the
  // device allows.
  int optIn = isBlockSparse(info.spec) ? ctx.maxSharedOptin : info.smem_bytes;
  if (optIn > cu::kDefaultSharedMemoryLimit)
    if (cu::Result result = driver.funcSetAttribute(
            kernel->function, cu::kFuncMaxDynamicSharedSizeBytes, optIn))
      return cudaFail(driver, result, "cuFuncSetAttribute",
                      " raising the dynamic shared memory of " + what +
                          " to " + std::to_string(optIn) + " bytes");
  kernel->module = module.release();
  kernel->ctx = &ctx;
  ctx.refs.fetch_add(1, std::memory_order_relaxed);
  out = kernel.release();
  return FLASHRT_SUCCESS;
}

flashrt_status loadFromLibrary(flashrt_context &ctx, const flashrt_library &lib,
                               const flashrt_spec &spec, flashrt_kernel *&out) {
  flashrt_selection selection;
  FLASHRT_RETURN_IF_ERROR(selectKernel(lib.kernels, spec, ctx.chip, selection));
  const LibraryKernel &entry = lib.kernels[selection.index];
  flashrt_kernel_info info = entry.infoWithName();
  std::string what = "kernel '" + entry.name + "'";
  std::string image;
  std::string cubinError;
  if (selection.image == FLASHRT_IMAGE_CUBIN) {
    flashrt_status status =
        readWholeFile(entry.cubinPath, "the cubin of " + what, image);
    if (status == FLASHRT_SUCCESS)
      status = loadImage(ctx, info, image, false, out);
    // A cubin that cannot be read or that the driver refuses leaves the PTX,
    // when there is one and it runs on the device.
    bool retry = status == FLASHRT_ERROR_IO || status == FLASHRT_ERROR_CUDA;
    if (!retry || entry.ptxPath.empty() ||
        !chipRuns(ctx.chip, info.spec.chip, true))
      return status;
    cubinError = flashrt_last_error();
  }
  flashrt_status status =
      readWholeFile(entry.ptxPath, "the PTX of " + what, image);
  if (status == FLASHRT_SUCCESS)
    status = loadImage(ctx, info, image, true, out);
  if (status == FLASHRT_SUCCESS)
    clearError(); // a failed cubin does not count
  else if (!cubinError.empty())
    return fail(status, cubinError + "; then, from its PTX: " +
                            flashrt_last_error());
  return status;
}

} // namespace

extern "C" flashrt_status flashrt_kernel_load(flashrt_context *ctx,
                                              const flashrt_library *lib,
                                              const flashrt_spec *spec,
                                              flashrt_kernel **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    if (!ctx || !lib || !spec)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "ctx, lib or spec is null");
    return loadFromLibrary(*ctx, *lib, *spec, *out);
  });
}

extern "C" flashrt_status
flashrt_kernel_load_ptx(flashrt_context *ctx, const flashrt_kernel_info *info,
                        const char *ptx, size_t size, flashrt_kernel **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    if (!ctx || !info || !ptx)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "ctx, info or ptx is null");
    // The driver reads PTX up to its NUL; the copy adds one.
    return loadImage(*ctx, *info, std::string(ptx, size), true, *out);
  });
}

extern "C" flashrt_status
flashrt_kernel_load_cubin(flashrt_context *ctx, const flashrt_kernel_info *info,
                          const void *cubin, size_t size,
                          flashrt_kernel **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    if (!ctx || !info || !cubin || size == 0)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "ctx, info or cubin is null, or the cubin is empty");
    return loadImage(*ctx, *info,
                     std::string(static_cast<const char *>(cubin), size),
                     false, *out);
  });
}

extern "C" void flashrt_kernel_destroy(flashrt_kernel *kernel) {
  if (!kernel)
    return;
  guarded([&] {
    ScopedContext scope(*kernel->ctx);
    FLASHRT_RETURN_IF_ERROR(scope.enter());
    kernel->ctx->driver->moduleUnload(kernel->module);
    return FLASHRT_SUCCESS;
  });
  releaseContext(kernel->ctx);
  delete kernel;
}

extern "C" const flashrt_kernel_info *
flashrt_kernel_get_info(const flashrt_kernel *kernel) {
  return kernel ? &kernel->info : nullptr;
}
