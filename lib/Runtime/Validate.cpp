//===- Validate.cpp - Check a forward call before launching ---------------===//
//
// Each check reports the tensor, the dimension and the value it expected, so
// that a caller can fix the call from the message alone.
//
//===----------------------------------------------------------------------===//

#include "Validate.h"
#include "Error.h"
#include "Spec.h"

#include <cmath>
#include <cstdio>
#include <cstdint>

using namespace flashrt;

namespace {

constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxGridX = 2147483647;

struct Operand {
  const char *name;
  const flashrt_tensor *tensor;
  int rank;
  /// The dimension names, for messages.
  const char *dims[4];
};

std::string str(int64_t value) { return std::to_string(value); }

std::string hex(const void *pointer) {
  static const char digits[] = "0123456789abcdef";
  uintptr_t value = reinterpret_cast<uintptr_t>(pointer);
  std::string text;
  do {
    text.insert(text.begin(), digits[value % 16]);
    value /= 16;
  } while (value);
  return "0x" + text;
}

std::string dtypeText(int dtype) {
  const char *name = dtypeName(dtype);
  return name ? name : "unknown (" + str(dtype) + ")";
}

std::string dim(const Operand &op, int i) {
  return std::string(op.name) + ": sizes[" + str(i) + "] (" + op.dims[i] +
         ") is " + str(op.tensor->sizes[i]);
}

bool isEmpty(const flashrt_tensor &t) {
  for (int i = 0; i < t.rank; ++i)
    if (t.sizes[i] == 0)
      return true;
  return false;
}

int64_t ceilDiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/// Requires dimension `i` of `op` to equal dimension `j` of `ref`.
flashrt_status expectSame(const Operand &op, int i, const Operand &ref, int j) {
  if (op.tensor->sizes[i] == ref.tensor->sizes[j])
    return FLASHRT_SUCCESS;
  return fail(FLASHRT_ERROR_TENSOR_SHAPE,
              dim(op, i) + ", expected " + str(ref.tensor->sizes[j]) +
                  " as in " + ref.name);
}

flashrt_status checkHeadDim(const Operand &op, int headDim) {
  if (op.tensor->sizes[3] == headDim)
    return FLASHRT_SUCCESS;
  return fail(FLASHRT_ERROR_TENSOR_SHAPE, dim(op, 3) +
                                              ", expected the kernel's "
                                              "head_dim " +
                                              str(headDim));
}

flashrt_status checkStrides(const Operand &op) {
  const flashrt_tensor &t = *op.tensor;
  bool isLse = op.rank == 3;
  auto where = [&](int i) {
    return std::string(op.name) + ": strides[" + str(i) + "] is " +
           str(t.strides[i]);
  };
  int last = op.rank - 1;
  if (t.strides[last] != 1)
    return fail(FLASHRT_ERROR_TENSOR_STRIDE,
                where(last) + ", expected 1 (" +
                    (isLse ? "lse must be contiguous in its last dimension)"
                           : "the head dim must be contiguous)"));
  for (int i = 0; i < last; ++i) {
    if (t.strides[i] < 0)
      return fail(FLASHRT_ERROR_TENSOR_STRIDE,
                  where(i) + ", expected a non-negative stride");
    // A dimension of size 1 is never stepped over, so its stride is free;
    // the launch passes 0 for it.
    if (!isLse && t.sizes[i] > 1 && t.strides[i] % 8 != 0)
      return fail(FLASHRT_ERROR_TENSOR_STRIDE,
                  where(i) + ", expected a multiple of 8 elements (16 bytes)");
  }
  return FLASHRT_SUCCESS;
}

flashrt_status checkPointer(const Operand &op, unsigned alignment = 16) {
  const flashrt_tensor &t = *op.tensor;
  if (!t.data) {
    if (isEmpty(t))
      return FLASHRT_SUCCESS;
    return fail(FLASHRT_ERROR_TENSOR_NULL,
                std::string(op.name) +
                    ": data is null, expected a device pointer (the tensor "
                    "is not empty)");
  }
  if (reinterpret_cast<uintptr_t>(t.data) % alignment != 0)
    return fail(FLASHRT_ERROR_TENSOR_ALIGNMENT,
                std::string(op.name) + ": data " + hex(t.data) + " is not " +
                    str(alignment) + "-byte aligned");
  return FLASHRT_SUCCESS;
}

/// Requires `op` to be present with its rank and non-negative sizes.
flashrt_status checkPresent(const Operand &op) {
  if (!op.tensor)
    return fail(FLASHRT_ERROR_TENSOR_NULL,
                std::string(op.name) + ": the tensor is null");
  if (op.tensor->rank != op.rank)
    return fail(FLASHRT_ERROR_TENSOR_RANK,
                std::string(op.name) + ": rank is " + str(op.tensor->rank) +
                    ", expected " + str(op.rank));
  for (int i = 0; i < op.rank; ++i)
    if (op.tensor->sizes[i] < 0)
      return fail(FLASHRT_ERROR_TENSOR_SHAPE,
                  dim(op, i) + ", expected a non-negative size");
  return FLASHRT_SUCCESS;
}

/// The block sizes of a layout: positive, and multiples of the kernel's
/// cta_q and cta_kv, so that a CTA's query rows lie in one layout row and a
/// layout key block splits into whole kernel key tiles.
flashrt_status checkBlockSizes(const flashrt_kernel_info &info,
                               const flashrt_block_layout &layout) {
  struct Size {
    const char *name;
    int64_t value;
    const char *kernelName;
    int kernel;
    const char *why;
  };
  for (Size size :
       {Size{"block_q", layout.block_q, "cta_q", info.cta_q,
             "a CTA's query rows must lie in one layout row"},
        Size{"block_kv", layout.block_kv, "cta_kv", info.cta_kv,
             "a layout key block must split into whole kernel key tiles"}}) {
    std::string what = std::string("layout ") + size.name + " is " +
                       str(size.value) + ", expected ";
    if (size.value <= 0)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  what + "a positive block size");
    if (size.value % size.kernel != 0)
      return fail(FLASHRT_ERROR_UNSUPPORTED,
                  what + "a multiple of " + str(size.kernel) + ", the " +
                      size.kernelName + " of kernel '" + info.name + "' (" +
                      size.why + ")");
  }
  return FLASHRT_SUCCESS;
}

/// One list of a layout: its counts [B|1, Hq|1, NQ] and its indices, the
/// same three and N >= 1; int32, non-negative strides, 4-byte aligned.
flashrt_status checkLayoutList(const Operand &counts, const Operand &indices,
                               const flashrt_tensor &q, int64_t numQueryTiles,
                               int64_t blockQ) {
  for (const Operand *op : {&counts, &indices})
    FLASHRT_RETURN_IF_ERROR(checkPresent(*op));
  for (const Operand *op : {&counts, &indices})
    if (op->tensor->dtype != FLASHRT_DTYPE_I32)
      return fail(FLASHRT_ERROR_TENSOR_DTYPE,
                  std::string(op->name) + ": dtype is " +
                      dtypeText(op->tensor->dtype) + ", expected i32");
  const char *outer[] = {"B", "Hq"};
  for (int i = 0; i < 2; ++i) {
    int64_t size = counts.tensor->sizes[i];
    if (size != 1 && size != q.sizes[i])
      return fail(FLASHRT_ERROR_TENSOR_SHAPE,
                  dim(counts, i) + ", expected 1 or q's " + outer[i] + " = " +
                      str(q.sizes[i]));
  }
  if (counts.tensor->sizes[2] != numQueryTiles)
    return fail(FLASHRT_ERROR_TENSOR_SHAPE,
                dim(counts, 2) + ", expected ceil(Lq / block_q) = ceil(" +
                    str(q.sizes[2]) + " / " + str(blockQ) + ") = " +
                    str(numQueryTiles));
  for (int i = 0; i < 3; ++i)
    FLASHRT_RETURN_IF_ERROR(expectSame(indices, i, counts, i));
  if (indices.tensor->sizes[3] < 1)
    return fail(FLASHRT_ERROR_TENSOR_SHAPE,
                dim(indices, 3) + ", expected at least 1");
  for (const Operand *op : {&counts, &indices}) {
    for (int i = 0; i < op->rank; ++i)
      if (op->tensor->strides[i] < 0)
        return fail(FLASHRT_ERROR_TENSOR_STRIDE,
                    std::string(op->name) + ": strides[" + str(i) + "] is " +
                        str(op->tensor->strides[i]) +
                        ", expected a non-negative stride");
    FLASHRT_RETURN_IF_ERROR(checkPointer(*op, 4));
  }
  return FLASHRT_SUCCESS;
}

flashrt_status checkLayout(const flashrt_kernel_info &info,
                           const ForwardOperands &ops) {
  if (!ops.layout)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "layout is null");
  const flashrt_block_layout &layout = *ops.layout;
  FLASHRT_RETURN_IF_ERROR(checkBlockSizes(info, layout));
  if (!layout.full_kv_num_blocks != !layout.full_kv_indices)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "full_kv_num_blocks and full_kv_indices must be given "
                "together (both null: no full list)");
  int64_t numQueryTiles = ceilDiv(ops.q->sizes[2], layout.block_q);
  FLASHRT_RETURN_IF_ERROR(checkLayoutList(
      {"kv_num_blocks", layout.kv_num_blocks, 3, {"B|1", "Hq|1", "NQ", ""}},
      {"kv_indices", layout.kv_indices, 4, {"B|1", "Hq|1", "NQ", "N"}},
      *ops.q, numQueryTiles, layout.block_q));
  if (layout.full_kv_num_blocks)
    FLASHRT_RETURN_IF_ERROR(checkLayoutList(
        {"full_kv_num_blocks",
         layout.full_kv_num_blocks,
         3,
         {"B|1", "Hq|1", "NQ", ""}},
        {"full_kv_indices",
         layout.full_kv_indices,
         4,
         {"B|1", "Hq|1", "NQ", "N"}},
        *ops.q, numQueryTiles, layout.block_q));
  // The launch checks the device's limit; the parameter is an unsigned int.
  int64_t bytes = sparseSharedMemory(info, ops.k->sizes[2], layout.block_kv);
  if (bytes > 0x7fffffff)
    return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                "k: Lk = " + str(ops.k->sizes[2]) + " needs " + str(bytes) +
                    " bytes of shared memory to stage the layout");
  return FLASHRT_SUCCESS;
}

flashrt_status checkWindows(const flashrt_kernel_info &info,
                            const ForwardOperands &ops) {
  struct Window {
    const char *name;
    int64_t value;
  };
  for (Window w : {Window{"window_left", ops.windowLeft},
                   Window{"window_right", ops.windowRight}}) {
    if (info.spec.mask == FLASHRT_MASK_SLIDING_WINDOW) {
      if (w.value < 0)
        return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                    std::string(w.name) + " is " + str(w.value) +
                        ", expected a non-negative extent");
    } else if (w.value != 0) {
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  std::string(w.name) + " is " + str(w.value) +
                      ", expected 0: kernel '" + info.name + "' has mask " +
                      maskName(info.spec.mask));
    }
  }
  return FLASHRT_SUCCESS;
}

} // namespace

flashrt_status
flashrt::validateAttentionTensors(const flashrt_kernel_info &info,
                                  const ForwardOperands &ops) {
  const Operand q{"q", ops.q, 4, {"B", "Hq", "Lq", "D"}};
  const Operand k{"k", ops.k, 4, {"B", "Hkv", "Lk", "D"}};
  const Operand v{"v", ops.v, 4, {"B", "Hkv", "Lk", "D"}};
  const Operand o{"o", ops.o, 4, {"B", "Hq", "Lq", "D"}};
  const Operand lse{"lse", ops.lse, 3, {"B", "Hq", "Lq", ""}};
  const Operand *all[] = {&q, &k, &v, &o, &lse};

  for (const Operand *op : all)
    FLASHRT_RETURN_IF_ERROR(checkPresent(*op));

  for (const Operand *op : all) {
    int expected = op == &lse ? FLASHRT_DTYPE_F32 : info.spec.dtype;
    if (op->tensor->dtype != expected)
      return fail(FLASHRT_ERROR_TENSOR_DTYPE,
                  std::string(op->name) + ": dtype is " +
                      dtypeText(op->tensor->dtype) + ", expected " +
                      dtypeName(expected) +
                      (op == &lse ? "" : " (the kernel's)"));
  }

  FLASHRT_RETURN_IF_ERROR(checkHeadDim(q, info.spec.head_dim));
  FLASHRT_RETURN_IF_ERROR(expectSame(k, 0, q, 0));
  int64_t hq = ops.q->sizes[1], hkv = ops.k->sizes[1];
  if (hkv <= 0 || hq % hkv != 0)
    return fail(FLASHRT_ERROR_TENSOR_SHAPE,
                dim(k, 1) + ", expected a positive divisor of q's Hq = " +
                    str(hq));
  FLASHRT_RETURN_IF_ERROR(checkHeadDim(k, info.spec.head_dim));
  for (int i = 0; i < 3; ++i)
    FLASHRT_RETURN_IF_ERROR(expectSame(v, i, k, i));
  FLASHRT_RETURN_IF_ERROR(checkHeadDim(v, info.spec.head_dim));
  for (int i = 0; i < 4; ++i)
    FLASHRT_RETURN_IF_ERROR(expectSame(o, i, q, i));
  for (int i = 0; i < 3; ++i)
    FLASHRT_RETURN_IF_ERROR(expectSame(lse, i, q, i));

  for (const Operand *op : all)
    FLASHRT_RETURN_IF_ERROR(checkStrides(*op));
  for (const Operand *op : all)
    FLASHRT_RETURN_IF_ERROR(checkPointer(*op));

  // The kernels fold the scale into the exponent after the row maximum,
  // which takes a positive scale.
  if (!std::isfinite(ops.scale) || ops.scale <= 0)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "scale is " + std::to_string(ops.scale) +
                    ", expected a finite positive number");
  FLASHRT_RETURN_IF_ERROR(checkWindows(info, ops));
  return FLASHRT_SUCCESS;
}

flashrt_status flashrt::validateLike(const char *name,
                                     const flashrt_tensor *tensor,
                                     const char *refName,
                                     const flashrt_tensor &ref) {
  const Operand op{name, tensor, ref.rank, {"B", "H", "L", "D"}};
  const Operand like{refName, &ref, ref.rank, {"B", "H", "L", "D"}};
  FLASHRT_RETURN_IF_ERROR(checkPresent(op));
  if (tensor->dtype != ref.dtype)
    return fail(FLASHRT_ERROR_TENSOR_DTYPE,
                std::string(name) + ": dtype is " + dtypeText(tensor->dtype) +
                    ", expected " + dtypeName(ref.dtype) + " as " + refName +
                    "'s");
  for (int i = 0; i < ref.rank; ++i)
    FLASHRT_RETURN_IF_ERROR(expectSame(op, i, like, i));
  FLASHRT_RETURN_IF_ERROR(checkStrides(op));
  return checkPointer(op);
}

flashrt_status flashrt::validateForward(const flashrt_kernel_info &info,
                                        const ForwardOperands &ops,
                                        bool sparse) {
  FLASHRT_RETURN_IF_ERROR(checkKernelInfo(info));
  if (info.spec.kind != FLASHRT_KIND_FORWARD)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                "kernel '" + std::string(info.name) + "' is a " +
                    kindName(info.spec.kind) +
                    " kernel; this runtime launches forward kernels only");
  if (isBlockSparse(info.spec) && !sparse)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                "kernel '" + std::string(info.name) +
                    "' is block-sparse; launch it with a layout "
                    "(flashrt_attention_forward_sparse)");
  if (!isBlockSparse(info.spec) && sparse)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                "kernel '" + std::string(info.name) +
                    "' is dense; launch it without a layout "
                    "(flashrt_attention_forward)");

  FLASHRT_RETURN_IF_ERROR(checkDropout(
      info, ops.dropout, "launch it with flashrt_attention_forward_dropout"));
  FLASHRT_RETURN_IF_ERROR(validateAttentionTensors(info, ops));
  if (sparse)
    FLASHRT_RETURN_IF_ERROR(checkLayout(info, ops));

  int64_t hq = ops.q->sizes[1];
  int64_t tiles = ceilDiv(ops.q->sizes[2], info.cta_q);
  if (tiles > kMaxGridX)
    return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                "q: Lq = " + str(ops.q->sizes[2]) + " needs " + str(tiles) +
                    " query tiles, more than the grid's x limit of " +
                    str(kMaxGridX));
  if (hq > kMaxGridYZ)
    return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                "q: Hq = " + str(hq) + " exceeds the grid's y limit of " +
                    str(kMaxGridYZ));
  if (ops.q->sizes[0] > kMaxGridYZ)
    return fail(FLASHRT_ERROR_LAUNCH_LIMIT,
                "q: B = " + str(ops.q->sizes[0]) +
                    " exceeds the grid's z limit of " + str(kMaxGridYZ));
  return FLASHRT_SUCCESS;
}

flashrt_status flashrt::checkDropout(const flashrt_kernel_info &info,
                                     const flashrt_dropout *dropout,
                                     const char *where) {
  std::string kernel = "kernel '" + std::string(info.name) + "'";
  if (hasDropout(info.spec) && !dropout)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                kernel + " has dropout and takes a flashrt_dropout; " + where);
  if (!hasDropout(info.spec) && dropout)
    return fail(FLASHRT_ERROR_UNSUPPORTED,
                kernel + " has no dropout; a call with dropout takes a "
                         "kernel with FLASHRT_FEATURE_DROPOUT");
  if (dropout && !(dropout->p >= 0.0 && dropout->p <= 1.0)) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", dropout->p);
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                std::string("dropout.p: expected a probability in [0, 1], "
                            "got ") +
                    text);
  }
  return FLASHRT_SUCCESS;
}

int64_t flashrt::getDropoutKeep(double p) {
  return static_cast<int64_t>(std::floor((1.0 - p) * 65536.0 + 0.5));
}

int64_t flashrt::sparseSharedMemory(const flashrt_kernel_info &info,
                                    int64_t keyLen, int64_t blockKV) {
  // The kernel stages its row of the layout past its K and V stages: every
  // kernel key tile of the NKV layout blocks and an end marker, and two
  // bitmaps of the blocks. This is a copy of the compiler's formula,
  // mlir::flash::getLayoutStaging in
  // include/flash/Conversion/FlashToGPU/KernelABI.h (the runtime links no
  // MLIR); test/tools/flash-aot/abi.test checks that the two agree.
  int64_t numBlocks = ceilDiv(keyLen, blockKV);
  int64_t words =
      numBlocks * (blockKV / info.cta_kv) + 1 + 2 * ceilDiv(numBlocks, 32);
  return info.smem_bytes + 4 * words;
}

ForwardGrid flashrt::forwardGrid(const flashrt_kernel_info &info,
                                 const ForwardOperands &ops) {
  return {static_cast<unsigned>(ceilDiv(ops.q->sizes[2], info.cta_q)),
          static_cast<unsigned>(ops.q->sizes[1]),
          static_cast<unsigned>(ops.q->sizes[0])};
}

extern "C" flashrt_status flashrt_validate_forward(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t windowLeft,
    int64_t windowRight) {
  return guarded([&] {
    if (!info)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "kernel info is null");
    return validateForward(
        *info, {q, k, v, o, lse, scale, windowLeft, windowRight}, false);
  });
}

extern "C" flashrt_status flashrt_validate_forward_dropout(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t windowLeft,
    int64_t windowRight, const flashrt_dropout *dropout) {
  return guarded([&] {
    if (!info || !dropout)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "kernel info or dropout is null");
    return validateForward(*info,
                           {q, k, v, o, lse, scale, windowLeft, windowRight,
                            nullptr, dropout},
                           false);
  });
}

extern "C" flashrt_status flashrt_validate_forward_sparse(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t windowLeft,
    int64_t windowRight, const flashrt_block_layout *layout) {
  return guarded([&] {
    if (!info)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "kernel info is null");
    return validateForward(
        *info, {q, k, v, o, lse, scale, windowLeft, windowRight, layout},
        true);
  });
}

extern "C" flashrt_status
flashrt_sparse_shared_memory(const flashrt_kernel_info *info, int64_t keyLen,
                             int64_t blockKV, int64_t *bytes) {
  return guarded([&] {
    if (!info || !bytes)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "info or bytes is null");
    FLASHRT_RETURN_IF_ERROR(checkKernelInfo(*info));
    if (keyLen < 0 || blockKV <= 0)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "key_len is " + str(keyLen) + " and block_kv " +
                      str(blockKV) +
                      ", expected a non-negative length and a positive "
                      "block size");
    *bytes = sparseSharedMemory(*info, keyLen, blockKV);
    return FLASHRT_SUCCESS;
  });
}
