//===- CudaDriver.h - The CUDA driver, opened at run time -------*- C++ -*-===//
//
// The runtime never includes cuda.h and never links libcuda: it declares the
// few driver types and constants it uses (their values are part of the
// driver's stable ABI) and resolves the entry points with dlsym from the
// library named by FLASHRT_CUDA_DRIVER, or "libcuda.so.1".
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_CUDADRIVER_H
#define FLASH_LIB_RUNTIME_CUDADRIVER_H

#include "flash/Runtime/Runtime.h"

#include <string>

namespace flashrt {
namespace cu {

using Result = int; // CUresult; 0 is CUDA_SUCCESS
using Device = int; // CUdevice
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;

// CUdevice_attribute
constexpr int kComputeCapabilityMajor = 75;
constexpr int kComputeCapabilityMinor = 76;
constexpr int kMaxSharedMemoryPerBlockOptin = 97;
// CUfunction_attribute
constexpr int kFuncMaxDynamicSharedSizeBytes = 8;
// CUjit_option
constexpr int kJitInfoLogBuffer = 3;
constexpr int kJitInfoLogBufferSizeBytes = 4;
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSizeBytes = 6;

/// The launch needs no opt-in below this much dynamic shared memory.
constexpr int kDefaultSharedMemoryLimit = 48 * 1024;

} // namespace cu

/// The driver's entry points. Versioned symbols (the _v2 ones that cuda.h
/// maps the plain names to) are resolved under their versioned names.
struct CudaDriver {
  cu::Result (*init)(unsigned flags);
  cu::Result (*deviceGet)(cu::Device *device, int ordinal);
  cu::Result (*deviceGetAttribute)(int *value, int attribute,
                                   cu::Device device);
  cu::Result (*primaryCtxRetain)(cu::Context *ctx, cu::Device device);
  cu::Result (*primaryCtxRelease)(cu::Device device);
  cu::Result (*ctxGetCurrent)(cu::Context *ctx);
  cu::Result (*ctxPushCurrent)(cu::Context ctx);
  cu::Result (*ctxPopCurrent)(cu::Context *ctx);
  cu::Result (*moduleLoadDataEx)(cu::Module *module, const void *image,
                                 unsigned numOptions, int *options,
                                 void **values);
  cu::Result (*moduleGetFunction)(cu::Function *function, cu::Module module,
                                  const char *name);
  cu::Result (*moduleUnload)(cu::Module module);
  cu::Result (*funcSetAttribute)(cu::Function function, int attribute,
                                 int value);
  cu::Result (*launchKernel)(cu::Function function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedMemBytes, cu::Stream stream,
                             void **params, void **extra);
  cu::Result (*getErrorName)(cu::Result error, const char **name);
  cu::Result (*getErrorString)(cu::Result error, const char **text);
};

/// Opens and initializes the driver once per process; later calls return
/// the same table. A failure is not cached, so a later call tries again.
flashrt_status loadCudaDriver(const CudaDriver *&out);

/// Records the failure of driver call `call` and returns FLASHRT_ERROR_CUDA;
/// the message reads "<call> failed: CUDA_ERROR_X (description)<detail>".
flashrt_status cudaFail(const CudaDriver &driver, cu::Result result,
                        const std::string &call,
                        const std::string &detail = "");

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_CUDADRIVER_H
