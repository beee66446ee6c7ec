/*===- FakeCuda.c - A CUDA driver stand-in for the runtime's tests --------===*\
|*                                                                            *|
|* Implements the driver entry points the runtime resolves, on the CPU, and   *|
|* prints every call that matters to stdout so that lit tests can check what  *|
|* the runtime asked of the driver, down to each kernel parameter. Behaviour  *|
|* is set through the environment:                                            *|
|*   FAKE_CUDA_CC            compute capability times 10 (default 80)         *|
|*   FAKE_CUDA_SMEM_OPTIN    opt-in shared memory per block (default 232448)  *|
|*   FAKE_CUDA_INIT_ERROR    a CUresult for cuInit to return                  *|
|*   FAKE_CUDA_FAIL_CUBIN    when set, cubins fail to load (error 209)        *|
|*   FAKE_CUDA_FAIL_PTX      when set, PTX fails to JIT (error 218, with log) *|
|*   FAKE_CUDA_FAIL_LAUNCH   a CUresult for cuLaunchKernel to return          *|
|* An image is PTX when it starts with "//" and a cubin otherwise; a symbol   *|
|* is found when its name occurs in the image text.                           *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;

#define EXPORT __attribute__((visibility("default")))

enum {
  kSuccess = 0,
  kInvalidValue = 1,
  kNoBinaryForGpu = 209,
  kInvalidPtx = 218,
  kInvalidDevice = 101,
  kNotFound = 500
};

struct FakeModule {
  char *image;
  int isPtx;
};

struct FakeFunction {
  char name[128];
};

static int primaryContext; /* its address is the context handle */
static CUcontext current;  /* the fake is single-threaded */
static CUcontext stack[8];
static int depth;

static int envInt(const char *name, int fallback) {
  const char *text = getenv(name);
  return text && *text ? atoi(text) : fallback;
}

static void firstLine(const char *text, char *out, size_t size) {
  size_t n = strcspn(text, "\n");
  if (n >= size)
    n = size - 1;
  memcpy(out, text, n);
  out[n] = '\0';
}

EXPORT CUresult cuInit(unsigned flags) {
  int error = envInt("FAKE_CUDA_INIT_ERROR", 0);
  printf("fake: cuInit(%u) -> %d\n", flags, error);
  return error;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *device = 0;
  return kSuccess;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute,
                                     CUdevice device) {
  int cc = envInt("FAKE_CUDA_CC", 80);
  switch (attribute) {
  case 75:
    *value = cc / 10;
    return kSuccess;
  case 76:
    *value = cc % 10;
    return kSuccess;
  case 97:
    *value = envInt("FAKE_CUDA_SMEM_OPTIN", 232448);
    return kSuccess;
  default:
    return kInvalidValue;
  }
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice device) {
  printf("fake: cuDevicePrimaryCtxRetain\n");
  *ctx = &primaryContext;
  return kSuccess;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  printf("fake: cuDevicePrimaryCtxRelease\n");
  return kSuccess;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
  *ctx = current;
  return kSuccess;
}

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  if (depth == 8)
    return kInvalidValue;
  stack[depth++] = current;
  current = ctx;
  printf("fake: cuCtxPushCurrent\n");
  return kSuccess;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *ctx) {
  if (depth == 0)
    return kInvalidValue;
  *ctx = current;
  current = stack[--depth];
  printf("fake: cuCtxPopCurrent\n");
  return kSuccess;
}

EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                                   unsigned numOptions, int *options,
                                   void **values) {
  const char *text = (const char *)image;
  int isPtx = strncmp(text, "//", 2) == 0;
  char line[160];
  firstLine(text, line, sizeof(line));
  printf("fake: cuModuleLoadDataEx %s '%s' (context %s)\n",
         isPtx ? "ptx" : "cubin", line,
         current == &primaryContext ? "current" : "NOT current");
  if ((isPtx && getenv("FAKE_CUDA_FAIL_PTX")) ||
      (!isPtx && getenv("FAKE_CUDA_FAIL_CUBIN"))) {
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] != 5) /* CU_JIT_ERROR_LOG_BUFFER */
        continue;
      size_t size = 0;
      for (unsigned j = 0; j < numOptions; ++j)
        if (options[j] == 6)
          size = (size_t)(uintptr_t)values[j];
      if (size)
        snprintf((char *)values[i], size, "ptxas fatal: fake JIT failure");
    }
    return isPtx ? kInvalidPtx : kNoBinaryForGpu;
  }
  struct FakeModule *fake = calloc(1, sizeof(*fake));
  fake->image = strdup(text);
  fake->isPtx = isPtx;
  *module = fake;
  return kSuccess;
}

EXPORT CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                                    const char *name) {
  struct FakeModule *fake = module;
  if (!strstr(fake->image, name))
    return kNotFound;
  struct FakeFunction *fn = calloc(1, sizeof(*fn));
  snprintf(fn->name, sizeof(fn->name), "%s", name);
  *function = fn;
  printf("fake: cuModuleGetFunction '%s'\n", name);
  return kSuccess;
}

EXPORT CUresult cuModuleUnload(CUmodule module) {
  struct FakeModule *fake = module;
  printf("fake: cuModuleUnload (context %s)\n",
         current == &primaryContext ? "current" : "NOT current");
  free(fake->image);
  free(fake);
  return kSuccess;
}

EXPORT CUresult cuFuncSetAttribute(CUfunction function, int attribute,
                                   int value) {
  printf("fake: cuFuncSetAttribute '%s' attribute %d = %d\n",
         ((struct FakeFunction *)function)->name, attribute, value);
  return kSuccess;
}

static void **printMemref(const char *name, int rank, void **params) {
  printf("fake:   %s: allocated=%p aligned=%p offset=%" PRId64 " sizes=[",
         name, *(void **)params[0], *(void **)params[1],
         *(int64_t *)params[2]);
  params += 3;
  for (int i = 0; i < rank; ++i)
    printf("%s%" PRId64, i ? ", " : "", *(int64_t *)params[i]);
  printf("] strides=[");
  for (int i = 0; i < rank; ++i)
    printf("%s%" PRId64, i ? ", " : "", *(int64_t *)params[rank + i]);
  printf("]\n");
  return params + 2 * rank;
}

EXPORT CUresult cuLaunchKernel(CUfunction function, unsigned gridX,
                               unsigned gridY, unsigned gridZ,
                               unsigned blockX, unsigned blockY,
                               unsigned blockZ, unsigned sharedMemBytes,
                               CUstream stream, void **params, void **extra) {
  printf("fake: cuLaunchKernel '%s' grid=(%u, %u, %u) block=(%u, %u, %u) "
         "smem=%u stream=%p extra=%p (context %s)\n",
         ((struct FakeFunction *)function)->name, gridX, gridY, gridZ, blockX,
         blockY, blockZ, sharedMemBytes, stream, (void *)extra,
         current == &primaryContext ? "current" : "NOT current");
  /* The ABI of docs/kernel-abi.md, decoded independently of the runtime. */
  params = printMemref("q", 4, params);
  params = printMemref("k", 4, params);
  params = printMemref("v", 4, params);
  params = printMemref("o", 4, params);
  params = printMemref("lse", 3, params);
  printf("fake:   scale_log2=%.9g window_left=%" PRId64
         " window_right=%" PRId64 "\n",
         *(float *)params[0], *(int64_t *)params[1], *(int64_t *)params[2]);
  params += 3;
  /* Block-sparse kernels take the layout after the dense parameters. */
  if (strstr(((struct FakeFunction *)function)->name, "_sparse")) {
    params = printMemref("kv_num_blocks", 3, params);
    params = printMemref("kv_indices", 4, params);
    params = printMemref("full_kv_num_blocks", 3, params);
    params = printMemref("full_kv_indices", 4, params);
    printf("fake:   layout_block_q=%" PRId64 " layout_block_kv=%" PRId64 "\n",
           *(int64_t *)params[0], *(int64_t *)params[1]);
  }
  return envInt("FAKE_CUDA_FAIL_LAUNCH", 0);
}

EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case kInvalidValue:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return kSuccess;
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return kSuccess;
  case kInvalidDevice:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return kSuccess;
  case kNoBinaryForGpu:
    *name = "CUDA_ERROR_NO_BINARY_FOR_GPU";
    return kSuccess;
  case kInvalidPtx:
    *name = "CUDA_ERROR_INVALID_PTX";
    return kSuccess;
  case kNotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    return kSuccess;
  default:
    *name = NULL;
    return kInvalidValue;
  }
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case 100:
    *text = "no CUDA-capable device is detected";
    return kSuccess;
  case kNoBinaryForGpu:
    *text = "no kernel image is available for execution on the device";
    return kSuccess;
  case kInvalidPtx:
    *text = "a PTX JIT compilation failed";
    return kSuccess;
  case kNotFound:
    *text = "named symbol not found";
    return kSuccess;
  default:
    *text = NULL;
    return kInvalidValue;
  }
}
