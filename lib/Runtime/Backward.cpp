//===- Backward.cpp - Validate and launch the backward kernels ------------===//
//
// A backward is three kernels of one module (docs/kernel-abi.md, "Backward
// kernels"), launched in order on the caller's stream with one parameter
// array: the preprocessing kernel and the dQ kernel over (ceil(Lq / 16),
// Hq, B) CTAs of 128 threads, the main kernel over (ceil(Lk / cta_kv), Hkv,
// B) CTAs of `threads` with `smem_bytes` of shared memory. The workspace
// holds the f32 delta and dQ accumulator.
//
//===----------------------------------------------------------------------===//

#include "Error.h"
#include "Launch.h"
#include "Objects.h"
#include "Spec.h"
#include "Validate.h"

#include <cmath>

using namespace flashrt;

namespace {

constexpr size_t kWorkspaceAlignment = 256;
constexpr int64_t kMaxGridYZ = 65535;

size_t alignUp(size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment *
         kWorkspaceAlignment;
}

/// The workspace's three parts: delta [B, Hq, Lq] and the dQ accumulator
/// [B, Hq, Lq, D], both f32, then the u32 dQ semaphores of deterministic
/// mode [B, Hq, ceil(Lq / 16)] (KernelABI.h's dq_semaphores).
struct WorkspaceLayout {
  size_t deltaBytes, accumBytes, semaphoreBytes;
  size_t getAccumOffset() const { return alignUp(deltaBytes); }
  size_t getSemaphoreOffset() const {
    return getAccumOffset() + alignUp(accumBytes);
  }
  size_t total() const { return getSemaphoreOffset() + alignUp(semaphoreBytes); }
};

WorkspaceLayout workspaceLayout(int headDim, int64_t batch, int64_t heads,
                                int64_t queryLen) {
  size_t rows = static_cast<size_t>(batch) * heads * queryLen;
  size_t rowBlocks = static_cast<size_t>(batch) * heads *
                     ((queryLen + kBackwardRowsPerCta - 1) /
                      kBackwardRowsPerCta);
  return {4 * rows, 4 * rows * static_cast<size_t>(headDim), 4 * rowBlocks};
}

std::string str(int64_t value) { return std::to_string(value); }

flashrt_status validateBackward(const flashrt_kernel_info &info,
                                const flashrt_backward_tensors &t,
                                float scale, int64_t windowLeft,
                                int64_t windowRight, const void *workspace,
                                size_t workspaceBytes) {
  FLASHRT_RETURN_IF_ERROR(checkKernelInfo(info));
  if (info.spec.kind != FLASHRT_KIND_BACKWARD)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                "kernel '" + std::string(info.name) + "' is a " +
                    kindName(info.spec.kind) +
                    " kernel; the backward launch takes backward kernels");
  FLASHRT_RETURN_IF_ERROR(checkDropout(
      info, t.dropout,
      "set flashrt_backward_tensors.dropout to the forward's"));
  FLASHRT_RETURN_IF_ERROR(validateAttentionTensors(
      info, {t.q, t.k, t.v, t.o, t.lse, scale, windowLeft, windowRight}));
  FLASHRT_RETURN_IF_ERROR(validateLike("dout", t.dout, "o", *t.o));
  if (t.dlse)
    FLASHRT_RETURN_IF_ERROR(validateLike("dlse", t.dlse, "lse", *t.lse));
  FLASHRT_RETURN_IF_ERROR(validateLike("dq", t.dq, "q", *t.q));
  FLASHRT_RETURN_IF_ERROR(validateLike("dk", t.dk, "k", *t.k));
  FLASHRT_RETURN_IF_ERROR(validateLike("dv", t.dv, "v", *t.v));

  size_t needed = workspaceLayout(info.spec.head_dim, t.q->sizes[0],
                                  t.q->sizes[1], t.q->sizes[2])
                      .total();
  if (workspaceBytes < needed)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "workspace: " + str(static_cast<int64_t>(workspaceBytes)) +
                    " bytes, expected at least " +
                    str(static_cast<int64_t>(needed)) +
                    " (flashrt_backward_workspace_size)");
  if (needed && !workspace)
    return fail(FLASHRT_ERROR_TENSOR_NULL,
                "workspace: null, expected device memory of " +
                    str(static_cast<int64_t>(needed)) + " bytes");
  if (reinterpret_cast<uintptr_t>(workspace) % kWorkspaceAlignment != 0)
    return fail(FLASHRT_ERROR_TENSOR_ALIGNMENT,
                "workspace: not " + str(kWorkspaceAlignment) +
                    "-byte aligned");
  for (int64_t extent : {t.q->sizes[0], t.q->sizes[1], t.k->sizes[1]})
    if (extent > kMaxGridYZ)
      return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                  "B or a head count of " + str(extent) +
                      " exceeds the grid's y and z limit of " +
                      str(kMaxGridYZ));
  return FLASHRT_SUCCESS;
}

/// The parameter array of docs/kernel-abi.md's backward list.
class BackwardParams {
public:
  BackwardParams(const flashrt_backward_tensors &t, int headDim, float scale,
                 int64_t windowLeft, int64_t windowRight, void *workspace) {
    const flashrt_tensor &q = *t.q;
    WorkspaceLayout layout =
        workspaceLayout(headDim, q.sizes[0], q.sizes[1], q.sizes[2]);
    char *base = static_cast<char *>(workspace);
    flashrt_tensor delta{base, FLASHRT_DTYPE_F32, 3,
                         {q.sizes[0], q.sizes[1], q.sizes[2]}};
    delta.strides[2] = 1;
    delta.strides[1] = q.sizes[2];
    delta.strides[0] = q.sizes[1] * q.sizes[2];
    flashrt_tensor accum{base + layout.getAccumOffset(), FLASHRT_DTYPE_F32,
                         4, {q.sizes[0], q.sizes[1], q.sizes[2], headDim}};
    accum.strides[3] = 1;
    accum.strides[2] = headDim;
    accum.strides[1] = q.sizes[2] * headDim;
    accum.strides[0] = q.sizes[1] * accum.strides[1];
    // No dlse: a null pointer with lse's shape, which the kernels test.
    flashrt_tensor noLseGrad = *t.lse;
    noLseGrad.data = nullptr;
    const flashrt_tensor *tensors[] = {
        t.q,    t.k,    t.v,       t.o,    t.dout, t.lse,
        t.dlse ? t.dlse : &noLseGrad, &delta, &accum, t.dq, t.dk, t.dv};
    for (const flashrt_tensor *tensor : tensors)
      params.addMemref(*tensor);
    // log2(e) in double, so that the only rounding is to f32 at the end.
    scaleLog2 =
        static_cast<float>(static_cast<double>(scale) * 1.4426950408889634074);
    // The backward kernels clamp the window sides to Lq + Lk themselves
    // (unlike the first forward kernels, for which ForwardParams clamps).
    windows[0] = windowLeft;
    windows[1] = windowRight;
    semaphores = t.deterministic ? reinterpret_cast<uintptr_t>(
                                       base + layout.getSemaphoreOffset())
                                 : 0;
    params.addScalar(&scaleLog2);
    params.addScalar(&windows[0]);
    params.addScalar(&windows[1]);
    params.addScalar(&semaphores);
    if (t.dropout)
      addDropoutParams(params, *t.dropout, dropout);
  }
  BackwardParams(const BackwardParams &) = delete;
  BackwardParams &operator=(const BackwardParams &) = delete;

  void **data() { return params.data(); }

private:
  KernelParams params;
  float scaleLog2;
  int64_t windows[2];
  /// The semaphores' address, 0 outside deterministic mode.
  int64_t semaphores;
  int64_t dropout[3];
};

flashrt_status launchBackward(flashrt_context *ctx,
                              const flashrt_kernel *kernel,
                              const flashrt_backward_tensors *t, float scale,
                              int64_t windowLeft, int64_t windowRight,
                              void *workspace, size_t workspaceBytes,
                              void *stream) {
  if (!ctx || !kernel || !t)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "ctx, kernel or tensors is null");
  if (kernel->ctx != ctx)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "kernel '" + kernel->name + "' was loaded in another context");
  const flashrt_kernel_info &info = kernel->info;
  FLASHRT_RETURN_IF_ERROR(validateBackward(info, *t, scale, windowLeft,
                                           windowRight, workspace,
                                           workspaceBytes));
  int64_t batch = t->q->sizes[0], heads = t->q->sizes[1];
  int64_t queryLen = t->q->sizes[2], keyLen = t->k->sizes[2];
  if (batch == 0 || heads == 0)
    return FLASHRT_SUCCESS;
  BackwardParams params(*t, info.spec.head_dim, scale, windowLeft,
                        windowRight, workspace);
  const CudaDriver &driver = *ctx->driver;
  ScopedContext scope(*ctx);
  FLASHRT_RETURN_IF_ERROR(scope.enter());
  auto launch = [&](cu::Function function, const char *part, int64_t gridX,
                    int64_t gridY, int threads, int smem) {
    if (gridX == 0)
      return FLASHRT_SUCCESS;
    if (cu::Result result = driver.launchKernel(
            function, static_cast<unsigned>(gridX),
            static_cast<unsigned>(gridY), static_cast<unsigned>(batch),
            static_cast<unsigned>(threads), 1, 1, static_cast<unsigned>(smem),
            static_cast<cu::Stream>(stream), params.data(), nullptr))
      return cudaFail(driver, result, "cuLaunchKernel",
                      " for kernel '" + kernel->name + part + "'");
    return FLASHRT_SUCCESS;
  };
  int64_t rowTiles = (queryLen + kBackwardRowsPerCta - 1) / kBackwardRowsPerCta;
  FLASHRT_RETURN_IF_ERROR(launch(kernel->preprocess, "_preprocess", rowTiles,
                                 heads, kBackwardRowThreads, 0));
  FLASHRT_RETURN_IF_ERROR(launch(kernel->function, "",
                                 (keyLen + info.cta_kv - 1) / info.cta_kv,
                                 t->k->sizes[1], info.threads,
                                 info.smem_bytes));
  return launch(kernel->queryGrad, "_dq", rowTiles, heads,
                kBackwardRowThreads, 0);
}

} // namespace

extern "C" flashrt_status
flashrt_backward_workspace_size(const flashrt_kernel_info *info, int64_t batch,
                                int64_t queryHeads, int64_t queryLen,
                                size_t *bytes) {
  return guarded([&] {
    if (!info || !bytes)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "info or bytes is null");
    if (batch < 0 || queryHeads < 0 || queryLen < 0)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "batch, query_heads and query_len must be non-negative");
    *bytes = workspaceLayout(info->spec.head_dim, batch, queryHeads, queryLen)
                 .total();
    return FLASHRT_SUCCESS;
  });
}

extern "C" flashrt_status flashrt_validate_backward(
    const flashrt_kernel_info *info, const flashrt_backward_tensors *tensors,
    float scale, int64_t windowLeft, int64_t windowRight,
    const void *workspace, size_t workspaceBytes) {
  return guarded([&] {
    if (!info || !tensors)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "kernel info or tensors is null");
    return validateBackward(*info, *tensors, scale, windowLeft, windowRight,
                            workspace, workspaceBytes);
  });
}

extern "C" flashrt_status flashrt_attention_backward(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_backward_tensors *tensors, float scale, int64_t windowLeft,
    int64_t windowRight, void *workspace, size_t workspaceBytes,
    void *stream) {
  return guarded([&] {
    return launchBackward(ctx, kernel, tensors, scale, windowLeft, windowRight,
                          workspace, workspaceBytes, stream);
  });
}
