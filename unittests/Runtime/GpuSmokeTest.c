/*===- GpuSmokeTest.c - Launch a stand-in kernel on a real GPU ------------===*\
|*                                                                            *|
|* flashrt-gpu-smoke DIR: loads the kernel of DIR/manifest.json (a stand-in   *|
|* with the ABI of docs/kernel-abi.md that copies q's first 8 columns to o    *|
|* and writes scale_log2 + i + 1000 * left + 100000 * right to lse) through   *|
|* the real CUDA driver, launches it on a [B, L, H, D] q, and checks every    *|
|* element that comes back. Memory comes from the driver, opened here on its  *|
|* own, the way an application with its own CUDA context would.               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "flash/Runtime/Runtime.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static CUresult (*cuInit)(unsigned);
static CUresult (*cuDeviceGet)(int *, int);
static CUresult (*cuDevicePrimaryCtxRetain)(void **, int);
static CUresult (*cuCtxSetCurrent)(void *);
static CUresult (*cuCtxSynchronize)(void);
static CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*cuMemFree)(CUdeviceptr);
static CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
static CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
static CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);

#define CHECK_CU(call)                                                         \
  do {                                                                         \
    CUresult result_ = (call);                                                 \
    if (result_) {                                                             \
      printf("%s failed: %d\n", #call, result_);                               \
      return 1;                                                                \
    }                                                                          \
  } while (0)

static int openDriver(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (!lib) {
    printf("no driver: %s\n", dlerror());
    return 1;
  }
#define LOAD(fn, symbol)                                                       \
  if (!(*(void **)&fn = dlsym(lib, symbol))) {                                 \
    printf("missing %s\n", symbol);                                            \
    return 1;                                                                  \
  }
  LOAD(cuInit, "cuInit");
  LOAD(cuDeviceGet, "cuDeviceGet");
  LOAD(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  LOAD(cuCtxSetCurrent, "cuCtxSetCurrent");
  LOAD(cuCtxSynchronize, "cuCtxSynchronize");
  LOAD(cuMemAlloc, "cuMemAlloc_v2");
  LOAD(cuMemFree, "cuMemFree_v2");
  LOAD(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  LOAD(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  LOAD(cuMemsetD8, "cuMemsetD8_v2");
#undef LOAD
  return 0;
}

static int report(const char *what, flashrt_status status) {
  if (status == FLASHRT_SUCCESS)
    printf("%s: SUCCESS\n", what);
  else
    printf("%s: %s -- %s\n", what, flashrt_status_name(status),
           flashrt_last_error());
  return status != FLASHRT_SUCCESS;
}

static void tensor(flashrt_tensor *t, CUdeviceptr data, int dtype, int rank,
                   const int64_t *sizes, const int64_t *strides) {
  memset(t, 0, sizeof(*t));
  t->data = (void *)(uintptr_t)data;
  t->dtype = dtype;
  t->rank = rank;
  for (int i = 0; i < rank; ++i) {
    t->sizes[i] = sizes[i];
    t->strides[i] = strides[i];
  }
}

enum { B = 2, HQ = 4, HKV = 2, LQ = 100, LK = 10, D = 64 };

/* Launches with windows (left, right) and checks o and lse. */
static int launchAndCheck(flashrt_context *ctx, flashrt_kernel *kernel,
                          const flashrt_tensor *ts, const uint16_t *hostQ,
                          CUdeviceptr o, CUdeviceptr lse, int64_t left,
                          int64_t right) {
  size_t oBytes = (size_t)B * HQ * LQ * D * 2, lseBytes = (size_t)B * HQ * LQ * 4;
  CHECK_CU(cuMemsetD8(o, 0xFF, oBytes));
  CHECK_CU(cuMemsetD8(lse, 0xFF, lseBytes));
  float scale = 0.125f;
  if (report("forward", flashrt_attention_forward(ctx, kernel, &ts[0], &ts[1],
                                                  &ts[2], &ts[3], &ts[4],
                                                  scale, left, right, NULL)))
    return 1;
  CHECK_CU(cuCtxSynchronize());
  uint16_t *hostO = malloc(oBytes);
  float *hostLse = malloc(lseBytes);
  CHECK_CU(cuMemcpyDtoH(hostO, o, oBytes));
  CHECK_CU(cuMemcpyDtoH(hostLse, lse, lseBytes));
  float scaleLog2 = (float)((double)scale * 1.4426950408889634);
  long oBad = 0, lseBad = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h)
      for (int i = 0; i < LQ; ++i) {
        /* q is [B, L, H, D] in memory; o and lse are contiguous. */
        const uint16_t *qRow = hostQ + (((size_t)b * LQ + i) * HQ + h) * D;
        const uint16_t *oRow = hostO + (((size_t)b * HQ + h) * LQ + i) * D;
        for (int d = 0; d < D; ++d)
          oBad += oRow[d] != (d < 8 ? qRow[d] : 0xFFFF);
        float expected =
            scaleLog2 + (float)(i + 1000 * left + 100000 * right);
        float got = hostLse[((size_t)b * HQ + h) * LQ + i];
        lseBad += !(fabsf(got - expected) <= 0.05f);
      }
  printf("window (%lld, %lld): o mismatches %ld, lse mismatches %ld\n",
         (long long)left, (long long)right, oBad, lseBad);
  free(hostO);
  free(hostLse);
  return oBad || lseBad;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: flashrt-gpu-smoke DIR\n");
    return 2;
  }
  if (openDriver())
    return 1;
  CHECK_CU(cuInit(0));
  int device;
  void *primary;
  CHECK_CU(cuDeviceGet(&device, 0));
  CHECK_CU(cuDevicePrimaryCtxRetain(&primary, device));
  CHECK_CU(cuCtxSetCurrent(primary));

  flashrt_context *ctx = NULL;
  flashrt_library *lib = NULL;
  flashrt_kernel *kernel = NULL;
  if (report("context", flashrt_context_create(0, &ctx)) ||
      report("library", flashrt_library_open(argv[1], &lib)))
    return 1;
  printf("chip: %d\n", flashrt_context_chip(ctx));
  flashrt_spec spec = {64, FLASHRT_DTYPE_F16, FLASHRT_MASK_SLIDING_WINDOW, 0,
                       FLASHRT_CHIP_ANY};
  if (report("load", flashrt_kernel_load(ctx, lib, &spec, &kernel)))
    return 1;

  size_t qElems = (size_t)B * LQ * HQ * D, kvElems = (size_t)B * HKV * LK * D;
  CUdeviceptr q, k, v, o, lse;
  CHECK_CU(cuMemAlloc(&q, qElems * 2));
  CHECK_CU(cuMemAlloc(&k, kvElems * 2));
  CHECK_CU(cuMemAlloc(&v, kvElems * 2));
  CHECK_CU(cuMemAlloc(&o, (size_t)B * HQ * LQ * D * 2));
  CHECK_CU(cuMemAlloc(&lse, (size_t)B * HQ * LQ * 4));
  uint16_t *hostQ = malloc(qElems * 2);
  for (size_t e = 0; e < qElems; ++e)
    hostQ[e] = (uint16_t)((e * 2654435761u) >> 7) & 0x7BFF;
  CHECK_CU(cuMemcpyHtoD(q, hostQ, qElems * 2));
  CHECK_CU(cuMemsetD8(k, 0, kvElems * 2));
  CHECK_CU(cuMemsetD8(v, 0, kvElems * 2));

  flashrt_tensor ts[5];
  int64_t qSizes[] = {B, HQ, LQ, D};
  int64_t qStrides[] = {(int64_t)LQ * HQ * D, D, (int64_t)HQ * D, 1};
  int64_t kvSizes[] = {B, HKV, LK, D};
  int64_t kvStrides[] = {(int64_t)HKV * LK * D, (int64_t)LK * D, D, 1};
  int64_t oStrides[] = {(int64_t)HQ * LQ * D, (int64_t)LQ * D, D, 1};
  int64_t lseSizes[] = {B, HQ, LQ};
  int64_t lseStrides[] = {(int64_t)HQ * LQ, LQ, 1};
  tensor(&ts[0], q, FLASHRT_DTYPE_F16, 4, qSizes, qStrides);
  tensor(&ts[1], k, FLASHRT_DTYPE_F16, 4, kvSizes, kvStrides);
  tensor(&ts[2], v, FLASHRT_DTYPE_F16, 4, kvSizes, kvStrides);
  tensor(&ts[3], o, FLASHRT_DTYPE_F16, 4, qSizes, oStrides);
  tensor(&ts[4], lse, FLASHRT_DTYPE_F32, 3, lseSizes, lseStrides);

  int failed = launchAndCheck(ctx, kernel, ts, hostQ, o, lse, 3, 2);
  /* With no context current, the runtime makes its own current. */
  CHECK_CU(cuCtxSetCurrent(NULL));
  failed |= report("forward without a current context",
                   flashrt_attention_forward(ctx, kernel, &ts[0], &ts[1],
                                             &ts[2], &ts[3], &ts[4], 0.125f,
                                             5, 0, NULL));
  CHECK_CU(cuCtxSetCurrent(primary));
  failed |= launchAndCheck(ctx, kernel, ts, hostQ, o, lse, 0, 7);

  flashrt_kernel_destroy(kernel);
  flashrt_library_destroy(lib);
  flashrt_context_destroy(ctx);
  cuMemFree(q);
  cuMemFree(k);
  cuMemFree(v);
  cuMemFree(o);
  cuMemFree(lse);
  free(hostQ);
  printf("%s\n", failed ? "FAILED" : "PASSED");
  return failed;
}
