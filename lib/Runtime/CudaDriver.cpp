//===- CudaDriver.cpp - The CUDA driver, opened at run time ---------------===//

#include "CudaDriver.h"
#include "Error.h"

#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <mutex>

using namespace flashrt;

namespace {

std::mutex driverMutex;
const CudaDriver *loadedDriver = nullptr;

template <typename Fn>
bool resolve(void *handle, const char *symbol, Fn &slot) {
  void *address = dlsym(handle, symbol);
  slot = reinterpret_cast<Fn>(address);
  return address != nullptr;
}

flashrt_status openDriver(const CudaDriver *&out) {
  const char *override = std::getenv("FLASHRT_CUDA_DRIVER");
  std::string path = override && *override ? override : "libcuda.so.1";
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = dlerror();
    return fail(FLASHRT_ERROR_DRIVER_NOT_FOUND,
                "cannot open the CUDA driver '" + path + "': " +
                    (reason ? reason : "unknown reason") +
                    " (FLASHRT_CUDA_DRIVER overrides the path)");
  }

  auto driver = std::make_unique<CudaDriver>();
  struct Entry {
    const char *symbol;
    bool ok;
  };
  const Entry entries[] = {
      {"cuInit", resolve(handle, "cuInit", driver->init)},
      {"cuDeviceGet", resolve(handle, "cuDeviceGet", driver->deviceGet)},
      {"cuDeviceGetAttribute",
       resolve(handle, "cuDeviceGetAttribute", driver->deviceGetAttribute)},
      {"cuDevicePrimaryCtxRetain",
       resolve(handle, "cuDevicePrimaryCtxRetain", driver->primaryCtxRetain)},
      {"cuDevicePrimaryCtxRelease_v2",
       resolve(handle, "cuDevicePrimaryCtxRelease_v2",
               driver->primaryCtxRelease)},
      {"cuCtxGetCurrent",
       resolve(handle, "cuCtxGetCurrent", driver->ctxGetCurrent)},
      {"cuCtxPushCurrent_v2",
       resolve(handle, "cuCtxPushCurrent_v2", driver->ctxPushCurrent)},
      {"cuCtxPopCurrent_v2",
       resolve(handle, "cuCtxPopCurrent_v2", driver->ctxPopCurrent)},
      {"cuModuleLoadDataEx",
       resolve(handle, "cuModuleLoadDataEx", driver->moduleLoadDataEx)},
      {"cuModuleGetFunction",
       resolve(handle, "cuModuleGetFunction", driver->moduleGetFunction)},
      {"cuModuleUnload",
       resolve(handle, "cuModuleUnload", driver->moduleUnload)},
      {"cuFuncSetAttribute",
       resolve(handle, "cuFuncSetAttribute", driver->funcSetAttribute)},
      {"cuLaunchKernel",
       resolve(handle, "cuLaunchKernel", driver->launchKernel)},
      {"cuGetErrorName",
       resolve(handle, "cuGetErrorName", driver->getErrorName)},
      {"cuGetErrorString",
       resolve(handle, "cuGetErrorString", driver->getErrorString)},
  };
  for (const Entry &entry : entries) {
    if (!entry.ok) {
      dlclose(handle);
      return fail(FLASHRT_ERROR_DRIVER_SYMBOL,
                  "the CUDA driver '" + path + "' lacks the entry point '" +
                      entry.symbol + "'");
    }
  }

  if (cu::Result result = driver->init(0)) {
    flashrt_status status = cudaFail(*driver, result, "cuInit");
    dlclose(handle);
    return status;
  }
  // The handle stays open for the life of the process.
  out = driver.release();
  return FLASHRT_SUCCESS;
}

} // namespace

flashrt_status flashrt::loadCudaDriver(const CudaDriver *&out) {
  std::lock_guard<std::mutex> lock(driverMutex);
  if (!loadedDriver)
    FLASHRT_RETURN_IF_ERROR(openDriver(loadedDriver));
  out = loadedDriver;
  return FLASHRT_SUCCESS;
}

flashrt_status flashrt::cudaFail(const CudaDriver &driver, cu::Result result,
                                 const std::string &call,
                                 const std::string &detail) {
  const char *name = nullptr, *text = nullptr;
  if (driver.getErrorName(result, &name) != 0 || !name)
    name = nullptr;
  if (driver.getErrorString(result, &text) != 0 || !text)
    text = nullptr;
  std::string message = call + " failed: ";
  message += name ? name : "CUDA error " + std::to_string(result);
  if (text)
    message += std::string(" (") + text + ")";
  return fail(FLASHRT_ERROR_CUDA, message + detail);
}
