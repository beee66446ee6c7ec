/*===- flash/Runtime/Runtime.h - Load and launch flash kernels ---*- C -*-===*\
|*                                                                            *|
|* The C API of the flash-mlir runtime: it loads the attention kernels that   *|
|* flash-mlir generates (PTX or cubin, alone or from a flash-aot directory)   *|
|* and launches them following docs/kernel-abi.md.                            *|
|*                                                                            *|
|* The runtime opens the CUDA driver at run time (dlopen "libcuda.so.1", or   *|
|* the path in the environment variable FLASHRT_CUDA_DRIVER), so it links     *|
|* neither libcuda, nor LLVM, nor MLIR. Everything that does not touch the    *|
|* GPU (reading manifests, choosing kernels, validating tensors) works        *|
|* without a driver.                                                          *|
|*                                                                            *|
|* Every fallible function returns a flashrt_status; FLASHRT_SUCCESS is 0.    *|
|* On failure, flashrt_last_error() describes what went wrong. The runtime    *|
|* never aborts and never prints.                                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef FLASH_RUNTIME_RUNTIME_H
#define FLASH_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define FLASHRT_API __declspec(dllexport)
#else
#define FLASHRT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*
 * ABI version
 *===----------------------------------------------------------------------===*/

/* The version of this header's ABI: the layout of its structures and the
 * meaning of their fields and enumerators. Before 1.0, every change to a
 * structure's layout and every renamed field increments it
 * (docs/runtime.md, "Compatibility"). Version 2: flashrt_spec has `kind`
 * and `features` (for `block_sparse`), flashrt_kernel_info `cta_q` and
 * `cta_kv` (for `block_q` and `block_kv`). Version 3:
 * flashrt_backward_tensors has `deterministic`. Version 4: it has
 * `dropout`, and kernels may have FLASHRT_FEATURE_DROPOUT. */
#define FLASHRT_ABI_VERSION 4

/* The ABI version of the loaded library. A program that loads it at run
 * time (dlopen, ctypes) should check that it equals the FLASHRT_ABI_VERSION
 * it was written against before using any structure. */
FLASHRT_API int flashrt_abi_version(void);

/*===----------------------------------------------------------------------===*
 * Status codes
 *===----------------------------------------------------------------------===*/

typedef enum flashrt_status {
  FLASHRT_SUCCESS = 0,
  /* A null handle or out-pointer, an unknown enum value, a bad scalar. */
  FLASHRT_ERROR_INVALID_ARGUMENT = 1,
  FLASHRT_ERROR_OUT_OF_MEMORY = 2,
  /* The CUDA driver library could not be opened. */
  FLASHRT_ERROR_DRIVER_NOT_FOUND = 3,
  /* The CUDA driver library lacks an entry point the runtime needs. */
  FLASHRT_ERROR_DRIVER_SYMBOL = 4,
  /* A CUDA driver call failed; the message names the call and the error. */
  FLASHRT_ERROR_CUDA = 5,
  /* A file could not be read. */
  FLASHRT_ERROR_IO = 6,
  /* manifest.json is not valid JSON or does not follow the manifest format. */
  FLASHRT_ERROR_MANIFEST = 7,
  /* No kernel matches the requested spec on the device. */
  FLASHRT_ERROR_NO_KERNEL = 8,
  /* The request is well formed but this runtime cannot serve it. */
  FLASHRT_ERROR_UNSUPPORTED = 9,
  /* Tensor checks before a launch (docs/kernel-abi.md). */
  FLASHRT_ERROR_TENSOR_NULL = 10,
  FLASHRT_ERROR_TENSOR_RANK = 11,
  FLASHRT_ERROR_TENSOR_SHAPE = 12,
  FLASHRT_ERROR_TENSOR_DTYPE = 13,
  FLASHRT_ERROR_TENSOR_STRIDE = 14,
  FLASHRT_ERROR_TENSOR_ALIGNMENT = 15,
  /* The launch exceeds a limit of the kernel or the device. */
  FLASHRT_ERROR_LAUNCH_LIMIT = 16
} flashrt_status;

/* The enumerator's name without its prefix, e.g. "TENSOR_SHAPE". */
FLASHRT_API const char *flashrt_status_name(flashrt_status status);

/* The message of the last failed flashrt call on the calling thread, or ""
 * when the last call succeeded. Valid until the next flashrt call on this
 * thread. Errors are kept per thread so that a failure to create a context
 * can be described too. */
FLASHRT_API const char *flashrt_last_error(void);

/*===----------------------------------------------------------------------===*
 * Kernel specs
 *===----------------------------------------------------------------------===*/

typedef enum flashrt_dtype {
  FLASHRT_DTYPE_F16 = 0,
  FLASHRT_DTYPE_BF16 = 1,
  FLASHRT_DTYPE_F32 = 2,
  FLASHRT_DTYPE_I32 = 3 /* block-sparse layouts */
} flashrt_dtype;

typedef enum flashrt_mask {
  FLASHRT_MASK_NONE = 0,
  FLASHRT_MASK_CAUSAL = 1,              /* top-left */
  FLASHRT_MASK_CAUSAL_BOTTOM_RIGHT = 2,
  FLASHRT_MASK_SLIDING_WINDOW = 3
} flashrt_mask;

/* A chip is encoded as major * 100 + minor * 10 + (1 for the arch-specific
 * "a" variant): sm_80 is 800, sm_90 is 900, sm_90a is 901. A device has a
 * plain chip (its compute capability); kernels may target either kind. */
#define FLASHRT_CHIP_ANY 0
#define FLASHRT_CHIP_SM_80 800
#define FLASHRT_CHIP_SM_90 900
#define FLASHRT_CHIP_SM_90A 901

/* Parses "sm_80", "sm_90a", ... into *chip. */
FLASHRT_API flashrt_status flashrt_chip_parse(const char *name, int *chip);
/* Writes "sm_90a" etc. into buf (always NUL-terminated if size > 0). */
FLASHRT_API flashrt_status flashrt_chip_name(int chip, char *buf, size_t size);
/* Whether a device of chip `device_chip` runs code built for `code_chip`:
 * PTX when `is_ptx`, otherwise a cubin. Returns 1 or 0. */
FLASHRT_API int flashrt_chip_runs(int device_chip, int code_chip, int is_ptx);

/* What a kernel computes; its symbol starts with flash_fwd_, flash_bwd_,
 * flash_dec_ or flash_combine_. This runtime launches forward kernels only:
 * it lists kernels of the other kinds from manifests and refuses to launch
 * them (UNSUPPORTED). */
typedef enum flashrt_kernel_kind {
  FLASHRT_KIND_FORWARD = 0,
  FLASHRT_KIND_BACKWARD = 1,
  FLASHRT_KIND_DECODE = 2,
  FLASHRT_KIND_COMBINE = 3
} flashrt_kernel_kind;

/* The features of a kernel (flashrt_spec.features), one bit each; named as
 * in manifests ("block_sparse"). */
/* Visits only the live tiles of a block-sparse layout (flashrt_block_layout);
 * launched by flashrt_attention_forward_sparse. Symbol suffix "_sparse". */
#define FLASHRT_FEATURE_BLOCK_SPARSE (1u << 0)
/* Attention dropout (flashrt_dropout); launched by
 * flashrt_attention_forward_dropout and by flashrt_attention_backward with
 * flashrt_backward_tensors.dropout. Symbol suffix "_dropout". */
#define FLASHRT_FEATURE_DROPOUT (1u << 1)

/* `kind` comes last so that a spec initialized in the order of version 1
 * ({head_dim, dtype, mask, block_sparse, chip}) means the same forward
 * kernel: FLASHRT_FEATURE_BLOCK_SPARSE is 1. */
typedef struct flashrt_spec {
  int head_dim;      /* a multiple of 8 up to 256 */
  int dtype;         /* flashrt_dtype: F16 or BF16 */
  int mask;          /* flashrt_mask */
  unsigned features; /* FLASHRT_FEATURE_* bits; 0: a dense kernel */
  int chip;          /* FLASHRT_CHIP_*; ANY in lookups: best for the device */
  int kind;          /* flashrt_kernel_kind */
} flashrt_spec;

/* Everything the runtime knows about one kernel. */
typedef struct flashrt_kernel_info {
  const char *name;  /* the kernel symbol, flash_fwd_d64_f16_causal_sm_80 */
  flashrt_spec spec;
  int cta_q;         /* query rows one CTA computes (the grid's x tile) */
  int cta_kv;        /* keys per streamed K/V tile */
  int warps;
  int stages;
  int threads;       /* 32 * warps */
  int smem_bytes;    /* dynamic shared memory per CTA */
} flashrt_kernel_info;

/* Writes the kernel symbol of a spec ("{prefix}_d{D}_{dtype}_{mask}
 * [_sparse]_{chip}", prefix flash_fwd for forward kernels) into buf. The
 * spec's chip must not be ANY. */
FLASHRT_API flashrt_status flashrt_spec_symbol(const flashrt_spec *spec,
                                               char *buf, size_t size);

/* Checks a kernel info for consistency: a known spec, a name equal to the
 * spec's symbol, positive cta_q, cta_kv, warps and stages, threads == 32 *
 * warps. */
FLASHRT_API flashrt_status
flashrt_kernel_info_check(const flashrt_kernel_info *info);

/*===----------------------------------------------------------------------===*
 * Libraries (flash-aot directories); no driver needed
 *===----------------------------------------------------------------------===*/

typedef struct flashrt_library flashrt_library;

/* Reads DIR/manifest.json. PTX and cubin files are read when a kernel is
 * loaded, not here. */
FLASHRT_API flashrt_status flashrt_library_open(const char *dir,
                                                flashrt_library **out);
/* Parses manifest text; `dir` is where its relative file names point. */
FLASHRT_API flashrt_status flashrt_library_parse(const char *json,
                                                 size_t size,
                                                 const char *dir,
                                                 flashrt_library **out);
FLASHRT_API void flashrt_library_destroy(flashrt_library *lib);

FLASHRT_API size_t flashrt_library_size(const flashrt_library *lib);
/* The info of kernel `index`; the name stays valid while lib lives. */
FLASHRT_API flashrt_status flashrt_library_info(const flashrt_library *lib,
                                                size_t index,
                                                flashrt_kernel_info *out);
/* Whether kernel `index` has a PTX file, a cubin file (1 or 0 each). */
FLASHRT_API int flashrt_library_has_ptx(const flashrt_library *lib,
                                        size_t index);
FLASHRT_API int flashrt_library_has_cubin(const flashrt_library *lib,
                                          size_t index);

typedef enum flashrt_image_kind {
  FLASHRT_IMAGE_PTX = 0,
  FLASHRT_IMAGE_CUBIN = 1
} flashrt_image_kind;

typedef struct flashrt_selection {
  size_t index;  /* into the library */
  int image;     /* flashrt_image_kind that will be loaded */
} flashrt_selection;

/* Chooses the kernel for `spec` on a device of chip `device_chip` (e.g. 900
 * for compute capability 9.0). kind, head_dim, dtype, mask and features
 * must match. With spec->chip == ANY, the newest chip the device runs wins (an
 * arch-specific "a" kernel before the plain one of the same version);
 * otherwise that chip is required. A cubin is chosen when it runs on the
 * device, the PTX otherwise. */
FLASHRT_API flashrt_status flashrt_library_select(const flashrt_library *lib,
                                                  const flashrt_spec *spec,
                                                  int device_chip,
                                                  flashrt_selection *out);

/*===----------------------------------------------------------------------===*
 * Tensors and validation; no driver needed
 *===----------------------------------------------------------------------===*/

/* A strided device tensor. `data` points at element [0, 0, ...] (any storage
 * offset already applied). Sizes and strides are in elements; entries at and
 * beyond `rank` are ignored. */
typedef struct flashrt_tensor {
  void *data;
  int dtype;  /* flashrt_dtype */
  int rank;
  int64_t sizes[4];
  int64_t strides[4];
} flashrt_tensor;

/* Checks a forward call against docs/kernel-abi.md without launching:
 * q [B, Hq, Lq, D], k and v [B, Hkv, Lk, D], o like q, lse [B, Hq, Lq] f32;
 * Hq a multiple of Hkv; D the kernel's head_dim; q, k, v, o of the kernel's
 * dtype; stride[3] == 1 and the other strides multiples of 8 elements for
 * q, k, v and o; lse contiguous in its last dimension; 16-byte aligned,
 * non-null base pointers (null is allowed for an empty tensor); a finite
 * scale; windows >= 0 for sliding-window kernels and 0 otherwise. */
FLASHRT_API flashrt_status flashrt_validate_forward(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t window_left,
    int64_t window_right);

/* A block-sparse layout: flash.attention's layout operands, the tensors of
 * FlexAttention's BlockMask. The score matrix splits into the layout's
 * blocks of block_q queries by block_kv keys (FlexAttention's BLOCK_SIZE),
 * NQ = ceil(Lq / block_q) rows of NKV = ceil(Lk / block_kv). Per query
 * block, kv_num_blocks / kv_indices list the partial key blocks (the
 * kernel's mask kind applies inside them) and full_kv_num_blocks /
 * full_kv_indices the full ones (only the key length bounds them): the
 * first count entries of each index row. Blocks in
 * neither list are dead; a block in both is full; indices outside
 * [0, NKV) and repeats add nothing. All four are int32 tensors:
 *   kv_num_blocks, full_kv_num_blocks  [B or 1, Hq or 1, NQ]
 *   kv_indices, full_kv_indices        [same three, N] with N >= 1
 * (a batch or head extent of 1 is shared by all). The full pair may be
 * NULL together: no full list. block_q and block_kv must be multiples of
 * the kernel's cta_q and cta_kv (flashrt_kernel_info). */
typedef struct flashrt_block_layout {
  const flashrt_tensor *kv_num_blocks;
  const flashrt_tensor *kv_indices;
  const flashrt_tensor *full_kv_num_blocks;
  const flashrt_tensor *full_kv_indices;
  int64_t block_q;  /* the layout's block: queries */
  int64_t block_kv; /* the layout's block: keys */
} flashrt_block_layout;

/* Checks a block-sparse forward call without launching: the dense call's
 * checks (flashrt_validate_forward) for a block-sparse kernel, then the
 * layout's: int32 tensors of ranks 3 and 4, batch and head extents 1 or
 * q's, NQ = ceil(Lq / block_q), N >= 1, non-negative strides, 4-byte
 * aligned non-null data (null is allowed for an empty tensor), and the
 * block sizes. */
FLASHRT_API flashrt_status flashrt_validate_forward_sparse(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t window_left,
    int64_t window_right, const flashrt_block_layout *layout);

/* The dynamic shared memory, in bytes, of a block-sparse launch of the
 * kernel `info` with key length `key_len` and a layout of `block_kv`-key
 * blocks: the kernel's smem_bytes and 4 * (NKV * block_kv / info->cta_kv
 * + 1 + 2 * ceil(NKV / 32)) bytes to stage the layout's row. */
FLASHRT_API flashrt_status flashrt_sparse_shared_memory(
    const flashrt_kernel_info *info, int64_t key_len, int64_t block_kv,
    int64_t *bytes);

/* Attention dropout, for kernels with FLASHRT_FEATURE_DROPOUT: each
 * probability is kept with probability keep / 65536, where keep =
 * floor((1 - p) * 65536 + 0.5), and the kept ones are scaled by 65536 /
 * keep (0 when keep is 0). Whether element (b, h, i, j) is kept depends on
 * the seed, the low 32 bits of the offset and (b, h, i, j) alone
 * (docs/kernel-abi.md, "Dropout"): the same call drops the same elements,
 * and the backward of a forward with the same dropout regenerates its
 * mask. A new offset or seed per call draws a new mask. */
typedef struct flashrt_dropout {
  double p;        /* the drop probability, in [0, 1] */
  uint64_t seed;   /* the Philox key */
  uint64_t offset; /* the last word of the Philox counter (low 32 bits) */
} flashrt_dropout;

/* Checks a forward call with dropout without launching: the dense call's
 * checks (flashrt_validate_forward) for a kernel with dropout, and p in
 * [0, 1]. */
FLASHRT_API flashrt_status flashrt_validate_forward_dropout(
    const flashrt_kernel_info *info, const flashrt_tensor *q,
    const flashrt_tensor *k, const flashrt_tensor *v, const flashrt_tensor *o,
    const flashrt_tensor *lse, float scale, int64_t window_left,
    int64_t window_right, const flashrt_dropout *dropout);

/*===----------------------------------------------------------------------===*
 * Contexts, kernels and launches; these need the CUDA driver
 *===----------------------------------------------------------------------===*/

typedef struct flashrt_context flashrt_context;
typedef struct flashrt_kernel flashrt_kernel;

/* Opens the driver, initializes it and retains the primary context of
 * device `ordinal` (the context PyTorch and the CUDA runtime use). Calls
 * that need it make it current for their duration and restore the caller's
 * context afterwards. */
FLASHRT_API flashrt_status flashrt_context_create(int ordinal,
                                                  flashrt_context **out);
/* Releases the context once every kernel loaded in it is destroyed too. */
FLASHRT_API void flashrt_context_destroy(flashrt_context *ctx);
/* The device's chip, e.g. 900 for compute capability 9.0. */
FLASHRT_API int flashrt_context_chip(const flashrt_context *ctx);

/* Loads the kernel that flashrt_library_select picks for the device. */
FLASHRT_API flashrt_status flashrt_kernel_load(flashrt_context *ctx,
                                               const flashrt_library *lib,
                                               const flashrt_spec *spec,
                                               flashrt_kernel **out);
/* Loads one kernel from PTX text (JIT-compiled by the driver) or a cubin;
 * `info` describes it and is copied. */
FLASHRT_API flashrt_status flashrt_kernel_load_ptx(
    flashrt_context *ctx, const flashrt_kernel_info *info, const char *ptx,
    size_t size, flashrt_kernel **out);
FLASHRT_API flashrt_status flashrt_kernel_load_cubin(
    flashrt_context *ctx, const flashrt_kernel_info *info, const void *cubin,
    size_t size, flashrt_kernel **out);
FLASHRT_API void flashrt_kernel_destroy(flashrt_kernel *kernel);
/* The kernel's info; valid while the kernel lives. */
FLASHRT_API const flashrt_kernel_info *
flashrt_kernel_get_info(const flashrt_kernel *kernel);

/* Validates (flashrt_validate_forward) and launches a dense forward kernel
 * on `stream` (a CUstream; NULL for the default stream). `scale` multiplies
 * the scores (usually 1/sqrt(D)); the runtime passes scale * log2(e). The
 * launch is asynchronous; an empty problem (B, Hq or Lq of 0) launches
 * nothing. `ctx` must be the context the kernel was loaded in. */
FLASHRT_API flashrt_status flashrt_attention_forward(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t window_left, int64_t window_right, void *stream);

/* Validates (flashrt_validate_forward_sparse) and launches a block-sparse
 * forward kernel, which visits only the live tiles of `layout`, with the
 * dynamic shared memory of flashrt_sparse_shared_memory; more than the
 * device allows is LAUNCH_LIMIT. Otherwise as flashrt_attention_forward. */
FLASHRT_API flashrt_status flashrt_attention_forward_sparse(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t window_left, int64_t window_right,
    const flashrt_block_layout *layout, void *stream);

/* Validates (flashrt_validate_forward_dropout) and launches a forward
 * kernel with dropout. The lse is that of the softmax before dropout.
 * Otherwise as flashrt_attention_forward. */
FLASHRT_API flashrt_status flashrt_attention_forward_dropout(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_tensor *q, const flashrt_tensor *k, const flashrt_tensor *v,
    const flashrt_tensor *o, const flashrt_tensor *lse, float scale,
    int64_t window_left, int64_t window_right, const flashrt_dropout *dropout,
    void *stream);

/*===----------------------------------------------------------------------===*
 * The backward (kernels of kind FLASHRT_KIND_BACKWARD)
 *===----------------------------------------------------------------------===*/

/* The operands of a backward call: the forward's inputs and outputs (q, k,
 * v, o, lse as flashrt_validate_forward takes them), the gradient of o
 * (`dout`, like o), the gradient of the lse (`dlse`, like lse; NULL: none),
 * and the gradients to write: dq like q, dk like k, dv like v (all of the
 * kernel's dtype, with the forward's stride and alignment rules). */
typedef struct flashrt_backward_tensors {
  const flashrt_tensor *q, *k, *v, *o, *lse;
  const flashrt_tensor *dout;
  const flashrt_tensor *dlse;
  const flashrt_tensor *dq, *dk, *dv;
  /* Nonzero: deterministic mode. The CTAs add their parts of dq in a fixed
   * order (of their key tiles), so that dq is bitwise the same from run to
   * run; otherwise in the order their atomics land. dk and dv are always
   * deterministic. */
  int deterministic;
  /* The forward's dropout, for kernels with FLASHRT_FEATURE_DROPOUT (which
   * require it); NULL for the others. */
  const flashrt_dropout *dropout;
} flashrt_backward_tensors;

/* The device workspace, in bytes, that a backward launch of `info` takes
 * for B = batch, Hq = query_heads, Lq = query_len: an f32 delta of
 * [B, Hq, Lq], an f32 dQ accumulator of [B, Hq, Lq, head_dim] and the u32
 * semaphores of deterministic mode [B, Hq, ceil(Lq / 16)], each starting
 * 256-byte aligned. */
FLASHRT_API flashrt_status flashrt_backward_workspace_size(
    const flashrt_kernel_info *info, int64_t batch, int64_t query_heads,
    int64_t query_len, size_t *bytes);

/* Checks a backward call without launching: the forward's checks on q, k,
 * v, o and lse, then dout, dlse, dq, dk and dv, and a workspace of
 * flashrt_backward_workspace_size bytes at least, 256-byte aligned. */
FLASHRT_API flashrt_status flashrt_validate_backward(
    const flashrt_kernel_info *info, const flashrt_backward_tensors *tensors,
    float scale, int64_t window_left, int64_t window_right,
    const void *workspace, size_t workspace_bytes);

/* Validates and launches the three kernels of a backward (docs/kernel-abi.md)
 * on `stream`: dq, dk and dv of the attention whose forward gave o and lse
 * with the same scale and window. The workspace is the caller's device
 * memory (flashrt_backward_workspace_size); it need not be initialized and
 * may be reused once the launch is done on the stream. Asynchronous. With
 * Lk = 0, dq is written as zeros; with Lq = 0, dk and dv are. */
FLASHRT_API flashrt_status flashrt_attention_backward(
    flashrt_context *ctx, const flashrt_kernel *kernel,
    const flashrt_backward_tensors *tensors, float scale, int64_t window_left,
    int64_t window_right, void *workspace, size_t workspace_bytes,
    void *stream);

#ifdef __cplusplus
}
#endif

#endif /* FLASH_RUNTIME_RUNTIME_H */
