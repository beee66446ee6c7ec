/*===- RuntimeTest.c - Drive the runtime's C API for lit tests ------------===*\
|*                                                                            *|
|* flashrt-test COMMAND [ARGS]: runs one scenario and prints one line per     *|
|* result, "what: STATUS_NAME: message", for FileCheck. It is written in C so *|
|* that it also checks that Runtime.h is plain C.                             *|
|*                                                                            *|
|*   context                         create a context on device 0             *|
|*   library DIR                     list the kernels of DIR/manifest.json    *|
|*   parse FILE                      parse FILE as manifest text              *|
|*   select DIR D DTYPE MASK FEATURES CHIP DEVICE_CHIP                        *|
|*                                   choose a kernel (CHIP: any or sm_XX)     *|
|*   sparse-smem DIR NAME LK BLOCK_KV                                         *|
|*                                   the shared memory of a block-sparse      *|
|*                                   launch of kernel NAME of DIR             *|
|*   chips                           chip names, parsing and compatibility    *|
|*   validate                        every check of flashrt_validate_forward  *|
|*   validate-sparse                 every check the layout adds              *|
|*   launch DIR                      load kernels from DIR and launch them    *|
|*   launch-sparse DIR               the same with block-sparse layouts       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "flash/Runtime/Runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int report(const char *what, flashrt_status status) {
  const char *message = flashrt_last_error();
  if (status == FLASHRT_SUCCESS) {
    if (*message)
      printf("%s: SUCCESS but the last error is '%s'\n", what, message);
    else
      printf("%s: SUCCESS\n", what);
  } else {
    printf("%s: %s -- %s\n", what, flashrt_status_name(status), message);
  }
  return status == FLASHRT_SUCCESS ? 0 : 1;
}

static int parseInt(const char *text) { return (int)strtol(text, NULL, 10); }

static const char *dtypeText(int dtype) {
  return dtype == FLASHRT_DTYPE_F16    ? "f16"
         : dtype == FLASHRT_DTYPE_BF16 ? "bf16"
                                        : "f32";
}

static int parseDtype(const char *text) {
  if (strcmp(text, "f16") == 0)
    return FLASHRT_DTYPE_F16;
  if (strcmp(text, "bf16") == 0)
    return FLASHRT_DTYPE_BF16;
  if (strcmp(text, "f32") == 0)
    return FLASHRT_DTYPE_F32;
  return parseInt(text);
}

static int parseMask(const char *text) {
  static const char *const names[] = {"none", "causal", "causal_bottom_right",
                                      "sliding_window"};
  for (int i = 0; i < 4; ++i)
    if (strcmp(text, names[i]) == 0)
      return i;
  return parseInt(text);
}

static int parseChipArg(const char *text) {
  int chip = 0;
  if (strcmp(text, "any") == 0)
    return FLASHRT_CHIP_ANY;
  if (flashrt_chip_parse(text, &chip) != FLASHRT_SUCCESS)
    return parseInt(text);
  return chip;
}

/*===----------------------------------------------------------------------===*
 * context, library, parse, select, chips
 *===----------------------------------------------------------------------===*/

static int runContext(void) {
  flashrt_context *ctx = (flashrt_context *)1;
  flashrt_status status = flashrt_context_create(0, &ctx);
  report("context", status);
  if (status != FLASHRT_SUCCESS) {
    printf("context handle: %s\n", ctx ? "set" : "null");
    return 0;
  }
  printf("context chip: %d\n", flashrt_context_chip(ctx));
  flashrt_context_destroy(ctx);
  return 0;
}

static void printLibrary(const flashrt_library *lib) {
  size_t n = flashrt_library_size(lib);
  printf("kernels: %zu\n", n);
  for (size_t i = 0; i < n; ++i) {
    flashrt_kernel_info info;
    if (report("info", flashrt_library_info(lib, i, &info)))
      continue;
    char chip[16];
    flashrt_chip_name(info.spec.chip, chip, sizeof(chip));
    printf("kernel %zu: %s kind=%d d=%d %s mask=%d features=%u %s cta_q=%d "
           "cta_kv=%d warps=%d stages=%d threads=%d smem=%d ptx=%d "
           "cubin=%d\n",
           i, info.name, info.spec.kind, info.spec.head_dim,
           dtypeText(info.spec.dtype), info.spec.mask, info.spec.features, chip,
           info.cta_q, info.cta_kv, info.warps, info.stages, info.threads,
           info.smem_bytes, flashrt_library_has_ptx(lib, i),
           flashrt_library_has_cubin(lib, i));
  }
  flashrt_kernel_info info;
  report("info out of range", flashrt_library_info(lib, n, &info));
}

static int runLibrary(const char *dir) {
  flashrt_library *lib = NULL;
  if (report("library", flashrt_library_open(dir, &lib)))
    return 0;
  printLibrary(lib);
  flashrt_library_destroy(lib);
  return 0;
}

static int runParse(const char *path) {
  FILE *file = fopen(path, "rb");
  if (!file) {
    printf("cannot open %s\n", path);
    return 1;
  }
  static char text[1 << 16];
  size_t size = fread(text, 1, sizeof(text), file);
  fclose(file);
  flashrt_library *lib = NULL;
  if (report("parse", flashrt_library_parse(text, size, "/kernels", &lib)))
    return 0;
  printLibrary(lib);
  flashrt_library_destroy(lib);
  return 0;
}

static int runSelect(char **argv) {
  flashrt_library *lib = NULL;
  if (report("library", flashrt_library_open(argv[0], &lib)))
    return 1;
  flashrt_spec spec = {parseInt(argv[1]),     parseDtype(argv[2]),
                       parseMask(argv[3]),    (unsigned)parseInt(argv[4]),
                       parseChipArg(argv[5]), FLASHRT_KIND_FORWARD};
  int device = parseChipArg(argv[6]);
  flashrt_selection selection;
  char what[128];
  snprintf(what, sizeof(what), "select d%s %s %s features=%s %s on %s", argv[1],
           argv[2], argv[3], argv[4], argv[5], argv[6]);
  if (!report(what, flashrt_library_select(lib, &spec, device, &selection))) {
    flashrt_kernel_info info;
    flashrt_library_info(lib, selection.index, &info);
    printf("  -> %s (%s)\n", info.name,
           selection.image == FLASHRT_IMAGE_CUBIN ? "cubin" : "ptx");
  }
  flashrt_library_destroy(lib);
  return 0;
}

/* The dynamic shared memory of a block-sparse launch of kernel `argv[1]` of
 * library `argv[0]` with key length `argv[2]` and layout blocks of
 * `argv[3]` keys: what test/tools/flash-aot/abi.test compares with the
 * lowering's launch. */
static int runSparseSharedMemory(char **argv) {
  flashrt_library *lib = NULL;
  if (report("library", flashrt_library_open(argv[0], &lib)))
    return 1;
  int found = 0;
  for (size_t i = 0, n = flashrt_library_size(lib); i < n && !found; ++i) {
    flashrt_kernel_info info;
    if (flashrt_library_info(lib, i, &info) != FLASHRT_SUCCESS ||
        strcmp(info.name, argv[1]) != 0)
      continue;
    found = 1;
    int64_t bytes = -1;
    char what[160];
    snprintf(what, sizeof(what), "sparse smem %s Lk=%s block_kv=%s", argv[1],
             argv[2], argv[3]);
    if (!report(what, flashrt_sparse_shared_memory(
                          &info, strtoll(argv[2], NULL, 10),
                          strtoll(argv[3], NULL, 10), &bytes)))
      printf("  -> %lld\n", (long long)bytes);
  }
  if (!found)
    printf("no kernel %s in %s\n", argv[1], argv[0]);
  flashrt_library_destroy(lib);
  return found ? 0 : 1;
}

static int runChips(void) {
  const char *names[] = {"sm_80", "sm_86", "sm_90", "sm_90a", "sm_100a",
                         "sm_120", "sm_9",  "sm_090", "sm_90b", "gfx90a",
                         "sm_",    ""};
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); ++i) {
    int chip = -1;
    char what[64];
    snprintf(what, sizeof(what), "parse '%s'", names[i]);
    if (!report(what, flashrt_chip_parse(names[i], &chip))) {
      char back[16];
      flashrt_chip_name(chip, back, sizeof(back));
      printf("  -> %d %s\n", chip, back);
    }
  }
  char small[5];
  report("name 901 into 5 bytes", flashrt_chip_name(901, small, sizeof(small)));
  printf("  -> '%s'\n", small);
  report("name 905", flashrt_chip_name(905, small, sizeof(small)));

  /* device, code, is_ptx */
  const int runs[][3] = {{800, 800, 0},  {860, 800, 0},  {900, 800, 0},
                         {900, 800, 1},  {800, 900, 1},  {900, 901, 0},
                         {900, 901, 1},  {1000, 901, 1}, {1000, 900, 1},
                         {1200, 1001, 1}};
  for (size_t i = 0; i < sizeof(runs) / sizeof(*runs); ++i)
    printf("runs device=%d code=%d %s: %d\n", runs[i][0], runs[i][1],
           runs[i][2] ? "ptx" : "cubin",
           flashrt_chip_runs(runs[i][0], runs[i][1], runs[i][2]));

  flashrt_spec spec = {128, FLASHRT_DTYPE_BF16, FLASHRT_MASK_SLIDING_WINDOW,
                       1, FLASHRT_CHIP_SM_90A};
  char symbol[64];
  if (!report("symbol", flashrt_spec_symbol(&spec, symbol, sizeof(symbol))))
    printf("  -> %s\n", symbol);
  spec.chip = FLASHRT_CHIP_ANY;
  report("symbol of chip any", flashrt_spec_symbol(&spec, symbol, 64));
  return 0;
}

/*===----------------------------------------------------------------------===*
 * validate
 *===----------------------------------------------------------------------===*/

typedef struct Problem {
  flashrt_kernel_info info;
  const flashrt_kernel_info *infoArg;
  flashrt_tensor q, k, v, o, lse;
  const flashrt_tensor *qArg;
  float scale;
  int64_t windowLeft, windowRight;
} Problem;

static void contiguous(flashrt_tensor *t, void *data, int dtype, int rank,
                       int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sizes[4] = {a, b, c, d};
  memset(t, 0, sizeof(*t));
  t->data = data;
  t->dtype = dtype;
  t->rank = rank;
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    t->sizes[i] = sizes[i];
    t->strides[i] = stride;
    stride *= sizes[i];
  }
}

/* B=2, Hq=8, Hkv=2, Lq=100, Lk=120, D=64, f16, causal, on an sm_80 kernel. */
static void makeProblem(Problem *p, int b, int hq, int hkv, int lq, int lk) {
  memset(p, 0, sizeof(*p));
  p->info.name = "flash_fwd_d64_f16_causal_sm_80";
  p->info.spec.head_dim = 64;
  p->info.spec.dtype = FLASHRT_DTYPE_F16;
  p->info.spec.mask = FLASHRT_MASK_CAUSAL;
  p->info.spec.chip = FLASHRT_CHIP_SM_80;
  p->info.cta_q = 64;
  p->info.cta_kv = 64;
  p->info.warps = 4;
  p->info.stages = 2;
  p->info.threads = 128;
  p->info.smem_bytes = 24576;
  p->infoArg = &p->info;
  contiguous(&p->q, (void *)0x100000, FLASHRT_DTYPE_F16, 4, b, hq, lq, 64);
  contiguous(&p->k, (void *)0x200000, FLASHRT_DTYPE_F16, 4, b, hkv, lk, 64);
  contiguous(&p->v, (void *)0x300000, FLASHRT_DTYPE_F16, 4, b, hkv, lk, 64);
  contiguous(&p->o, (void *)0x400000, FLASHRT_DTYPE_F16, 4, b, hq, lq, 64);
  contiguous(&p->lse, (void *)0x500000, FLASHRT_DTYPE_F32, 3, b, hq, lq, 0);
  p->qArg = &p->q;
  p->scale = 0.125f;
}

static void makeSlidingWindow(Problem *p) {
  p->info.name = "flash_fwd_d64_f16_sliding_window_sm_80";
  p->info.spec.mask = FLASHRT_MASK_SLIDING_WINDOW;
}

static void validate(const char *what, const Problem *p) {
  report(what, flashrt_validate_forward(p->infoArg, p->qArg, &p->k, &p->v,
                                        &p->o, &p->lse, p->scale,
                                        p->windowLeft, p->windowRight));
}

#define CASE(NAME, ...)                                                        \
  do {                                                                         \
    Problem p;                                                                 \
    makeProblem(&p, 2, 8, 2, 100, 120);                                        \
    __VA_ARGS__;                                                               \
    validate(NAME, &p);                                                        \
  } while (0)

static int runValidate(void) {
  CASE("valid");
  CASE("mqa", p.k.sizes[1] = p.v.sizes[1] = 1);
  CASE("bshd layout", {
    flashrt_tensor *ts[] = {&p.q, &p.o};
    for (int i = 0; i < 2; ++i) { /* [B, L, H, D] memory, [B, H, L, D] view */
      ts[i]->strides[0] = 100 * 8 * 64;
      ts[i]->strides[1] = 64;
      ts[i]->strides[2] = 8 * 64;
    }
  });
  CASE("size-1 dims take any stride", makeProblem(&p, 1, 1, 1, 1, 120);
       p.q.strides[0] = 3; p.q.strides[1] = 5; p.q.strides[2] = 7;
       p.o.strides[2] = 9);
  CASE("empty keys with null data", makeProblem(&p, 2, 8, 2, 100, 0);
       p.k.data = NULL; p.v.data = NULL);
  CASE("empty batch", makeProblem(&p, 0, 8, 2, 100, 120));
  CASE("sliding window", makeSlidingWindow(&p); p.windowLeft = 16);

  CASE("null info", p.infoArg = NULL);
  CASE("info name", p.info.name = "flash_fwd_d64_f16_causal_sm_90");
  CASE("info head_dim", p.info.spec.head_dim = 84);
  CASE("info threads", p.info.threads = 96);
  CASE("info cta_q", p.info.cta_q = 0);
  CASE("info kind", p.info.spec.kind = 7);
  CASE("info features", p.info.spec.features = 12);
  CASE("dropout kernel", p.info.name = "flash_fwd_d64_f16_causal_dropout_sm_80";
       p.info.spec.features = FLASHRT_FEATURE_DROPOUT);
  CASE("sparse kernel", p.info.name = "flash_fwd_d64_f16_causal_sparse_sm_80";
       p.info.spec.features = FLASHRT_FEATURE_BLOCK_SPARSE);
  CASE("backward kernel", p.info.name = "flash_bwd_d64_f16_causal_sm_80";
       p.info.spec.kind = FLASHRT_KIND_BACKWARD);
  CASE("combine kernel", p.info.name = "flash_combine_d64_f16_causal_sm_80";
       p.info.spec.kind = FLASHRT_KIND_COMBINE);

  CASE("null q", p.qArg = NULL);
  CASE("q rank", p.q.rank = 3);
  CASE("lse rank", p.lse.rank = 4);
  CASE("negative size", p.v.sizes[2] = -1);

  CASE("q dtype", p.q.dtype = FLASHRT_DTYPE_BF16);
  CASE("v dtype", p.v.dtype = FLASHRT_DTYPE_F32);
  CASE("o dtype unknown", p.o.dtype = 9);
  CASE("lse dtype", p.lse.dtype = FLASHRT_DTYPE_F16);

  CASE("q head dim", p.q.sizes[3] = 80);
  CASE("k batch", p.k.sizes[0] = 3);
  CASE("k heads not a divisor", p.k.sizes[1] = 3; p.v.sizes[1] = 3);
  CASE("k heads zero", p.k.sizes[1] = 0; p.v.sizes[1] = 0);
  CASE("k head dim", p.k.sizes[3] = 32);
  CASE("v heads", p.v.sizes[1] = 1);
  CASE("v length", p.v.sizes[2] = 128);
  CASE("v head dim", p.v.sizes[3] = 128);
  CASE("o length", p.o.sizes[2] = 99);
  CASE("o head dim", p.o.sizes[3] = 32);
  CASE("lse heads", p.lse.sizes[1] = 4);

  CASE("q head dim not contiguous", p.q.strides[3] = 2);
  CASE("k stride not a multiple of 8", p.k.strides[1] = 12);
  CASE("o negative stride", p.o.strides[0] = -8);
  CASE("lse not contiguous", p.lse.strides[2] = 2);

  CASE("null v data", p.v.data = NULL);
  CASE("misaligned o", p.o.data = (void *)0x400008);
  CASE("misaligned lse", p.lse.data = (void *)0x500004);

  CASE("nan scale", p.scale = NAN);
  CASE("infinite scale", p.scale = INFINITY);
  CASE("zero scale", p.scale = 0.0f);
  CASE("negative scale", p.scale = -0.5f);
  CASE("window on a causal kernel", p.windowLeft = 3);
  CASE("negative window", makeSlidingWindow(&p); p.windowRight = -1);

  CASE("too many heads", makeProblem(&p, 2, 70000, 1, 100, 120));
  CASE("too large a batch", makeProblem(&p, 70000, 8, 2, 100, 120));

  /* With dropout: the kernel must have it, and p be a probability. */
  Problem d;
  makeProblem(&d, 2, 8, 2, 100, 120);
  flashrt_dropout dropout = {0.1, 42, 7};
  report("dropout on a kernel without",
         flashrt_validate_forward_dropout(&d.info, &d.q, &d.k, &d.v, &d.o,
                                          &d.lse, d.scale, 0, 0, &dropout));
  d.info.name = "flash_fwd_d64_f16_causal_dropout_sm_80";
  d.info.spec.features = FLASHRT_FEATURE_DROPOUT;
  report("dropout", flashrt_validate_forward_dropout(&d.info, &d.q, &d.k, &d.v,
                                                     &d.o, &d.lse, d.scale, 0,
                                                     0, &dropout));
  dropout.p = 1.5;
  report("dropout p above 1",
         flashrt_validate_forward_dropout(&d.info, &d.q, &d.k, &d.v, &d.o,
                                          &d.lse, d.scale, 0, 0, &dropout));
  dropout.p = NAN;
  report("dropout p nan",
         flashrt_validate_forward_dropout(&d.info, &d.q, &d.k, &d.v, &d.o,
                                          &d.lse, d.scale, 0, 0, &dropout));
  report("dropout null",
         flashrt_validate_forward_dropout(&d.info, &d.q, &d.k, &d.v, &d.o,
                                          &d.lse, d.scale, 0, 0, NULL));
  return 0;
}

/*===----------------------------------------------------------------------===*
 * validate-sparse
 *===----------------------------------------------------------------------===*/

/* A block-sparse call: the problem of makeProblem on the d64 f16 none sparse
 * kernel (64-row, 64-key tiles), with a 64 x 64 layout: NQ = 2 query tiles
 * of N = 2 entries; the partial lists shared by the batch, the full ones by
 * the heads. */
typedef struct SparseProblem {
  Problem p;
  flashrt_tensor counts, indices, fullCounts, fullIndices;
  flashrt_block_layout layout;
  const flashrt_block_layout *layoutArg;
} SparseProblem;

static void makeSparseProblem(SparseProblem *sp, int b, int hq, int hkv,
                              int lq, int lk, int blockQ, int blockKV) {
  memset(sp, 0, sizeof(*sp));
  makeProblem(&sp->p, b, hq, hkv, lq, lk);
  sp->p.info.name = "flash_fwd_d64_f16_none_sparse_sm_80";
  sp->p.info.spec.mask = FLASHRT_MASK_NONE;
  sp->p.info.spec.features = FLASHRT_FEATURE_BLOCK_SPARSE;
  int nq = (lq + blockQ - 1) / blockQ, n = (lk + blockKV - 1) / blockKV;
  contiguous(&sp->counts, (void *)0x600000, FLASHRT_DTYPE_I32, 3, 1, hq, nq,
             0);
  contiguous(&sp->indices, (void *)0x700000, FLASHRT_DTYPE_I32, 4, 1, hq, nq,
             n);
  contiguous(&sp->fullCounts, (void *)0x800000, FLASHRT_DTYPE_I32, 3, b, 1,
             nq, 0);
  contiguous(&sp->fullIndices, (void *)0x900000, FLASHRT_DTYPE_I32, 4, b, 1,
             nq, n);
  sp->layout.kv_num_blocks = &sp->counts;
  sp->layout.kv_indices = &sp->indices;
  sp->layout.full_kv_num_blocks = &sp->fullCounts;
  sp->layout.full_kv_indices = &sp->fullIndices;
  sp->layout.block_q = blockQ;
  sp->layout.block_kv = blockKV;
  sp->layoutArg = &sp->layout;
}

static void validateSparse(const char *what, const SparseProblem *sp) {
  const Problem *p = &sp->p;
  report(what, flashrt_validate_forward_sparse(
                   p->infoArg, p->qArg, &p->k, &p->v, &p->o, &p->lse,
                   p->scale, p->windowLeft, p->windowRight, sp->layoutArg));
}

#define SPARSE_CASE(NAME, ...)                                                 \
  do {                                                                         \
    SparseProblem sp;                                                          \
    makeSparseProblem(&sp, 2, 8, 2, 100, 120, 64, 64);                         \
    __VA_ARGS__;                                                               \
    validateSparse(NAME, &sp);                                                 \
  } while (0)

static void sharedMemory(const char *what, const flashrt_kernel_info *info,
                         int64_t keyLen, int64_t blockKV) {
  int64_t bytes = -1;
  if (!report(what, flashrt_sparse_shared_memory(info, keyLen, blockKV,
                                                 &bytes)))
    printf("  -> %lld\n", (long long)bytes);
}

static int runValidateSparse(void) {
  SPARSE_CASE("valid");
  SPARSE_CASE("no full lists", sp.layout.full_kv_num_blocks = NULL;
              sp.layout.full_kv_indices = NULL);
  SPARSE_CASE("one layout for all", sp.counts.sizes[1] = 1;
              sp.indices.sizes[1] = 1);
  SPARSE_CASE("128 x 128 layout",
              makeSparseProblem(&sp, 2, 8, 2, 100, 120, 128, 128));
  SPARSE_CASE("empty queries with null data",
              makeSparseProblem(&sp, 2, 8, 2, 0, 120, 64, 64);
              sp.p.q.data = sp.p.o.data = sp.p.lse.data = NULL;
              sp.counts.data = sp.indices.data = NULL);

  SPARSE_CASE("dense kernel", sp.p.info.name = "flash_fwd_d64_f16_none_sm_80";
              sp.p.info.spec.features = 0);
  SPARSE_CASE("dense checks first", sp.p.q.dtype = FLASHRT_DTYPE_BF16);
  SPARSE_CASE("null layout", sp.layoutArg = NULL);
  SPARSE_CASE("block_q zero", sp.layout.block_q = 0);
  SPARSE_CASE("block_q not a multiple", sp.layout.block_q = 32);
  SPARSE_CASE("block_kv not a multiple", sp.layout.block_kv = 96);
  SPARSE_CASE("half a full list", sp.layout.full_kv_indices = NULL);
  SPARSE_CASE("null kv_indices", sp.layout.kv_indices = NULL);
  SPARSE_CASE("kv_num_blocks rank", sp.counts.rank = 4);
  SPARSE_CASE("negative NQ", sp.fullCounts.sizes[2] = -2);
  SPARSE_CASE("kv_indices dtype", sp.indices.dtype = FLASHRT_DTYPE_F32);
  SPARSE_CASE("full_kv_num_blocks dtype",
              sp.fullCounts.dtype = FLASHRT_DTYPE_F16);
  SPARSE_CASE("kv_num_blocks batch", sp.counts.sizes[0] = 3);
  SPARSE_CASE("full_kv_num_blocks heads", sp.fullCounts.sizes[1] = 4);
  SPARSE_CASE("kv_num_blocks NQ", sp.counts.sizes[2] = 3);
  SPARSE_CASE("kv_indices heads", sp.indices.sizes[1] = 1);
  SPARSE_CASE("kv_indices empty rows", sp.indices.sizes[3] = 0);
  SPARSE_CASE("full_kv_indices NQ", sp.fullIndices.sizes[2] = 1);
  SPARSE_CASE("kv_indices negative stride", sp.indices.strides[3] = -1);
  SPARSE_CASE("null kv_num_blocks data", sp.counts.data = NULL);
  SPARSE_CASE("misaligned full_kv_indices",
              sp.fullIndices.data = (void *)0x900002);
  SPARSE_CASE("odd strides are fine", sp.indices.strides[3] = 3;
              sp.indices.strides[2] = 7);
  SPARSE_CASE("too much shared memory for an int",
              makeSparseProblem(&sp, 1, 1, 1, 64, 64, 64, 64);
              sp.p.k.sizes[2] = sp.p.v.sizes[2] = (int64_t)1 << 40;
              sp.p.k.strides[1] = sp.p.v.strides[1] = 64 * ((int64_t)1 << 40);
              sp.p.k.strides[0] = sp.p.v.strides[0] = sp.p.k.strides[1]);

  SparseProblem sp;
  makeSparseProblem(&sp, 2, 8, 2, 100, 120, 64, 64);
  /* 120 keys in 2 blocks of 1 tile, the end marker, 2 bitmap words. */
  sharedMemory("shared memory Lk=120 block_kv=64", &sp.p.info, 120, 64);
  /* 8192 keys in 64 blocks of 2 tiles, the end marker, 2 x 2 words. */
  sharedMemory("shared memory Lk=8192 block_kv=128", &sp.p.info, 8192, 128);
  sharedMemory("shared memory Lk=0", &sp.p.info, 0, 128);
  sharedMemory("shared memory block_kv=0", &sp.p.info, 100, 0);
  return 0;
}

/*===----------------------------------------------------------------------===*
 * launch (with the fake driver)
 *===----------------------------------------------------------------------===*/

static const flashrt_spec kCausal64 = {64, FLASHRT_DTYPE_F16,
                                       FLASHRT_MASK_CAUSAL, 0,
                                       FLASHRT_CHIP_ANY};

static void launch(const char *what, flashrt_context *ctx,
                   flashrt_kernel *kernel, const Problem *p, void *stream) {
  report(what, flashrt_attention_forward(ctx, kernel, p->qArg, &p->k, &p->v,
                                         &p->o, &p->lse, p->scale,
                                         p->windowLeft, p->windowRight,
                                         stream));
}

/* Creates a context on device 0 and opens the library in `dir`, reporting
 * either failure; nonzero when one failed. */
/*===----------------------------------------------------------------------===*
 * validate-backward
 *===----------------------------------------------------------------------===*/

typedef struct BackwardProblem {
  Problem fwd;
  flashrt_tensor dout, dlse, dq, dk, dv;
  flashrt_backward_tensors tensors;
  void *workspace;
  size_t workspaceBytes;
  const flashrt_dropout *dropout; /* NULL (memset): none */
} BackwardProblem;

/* The forward problem's shapes, on the backward kernel of the same spec,
 * with a workspace of the size the runtime asks for. */
static void makeBackwardProblem(BackwardProblem *p) {
  memset(p, 0, sizeof(*p));
  makeProblem(&p->fwd, 2, 8, 2, 100, 120);
  p->fwd.info.name = "flash_bwd_d64_f16_causal_sm_80";
  p->fwd.info.spec.kind = FLASHRT_KIND_BACKWARD;
  p->fwd.info.cta_kv = 128;
  p->fwd.info.warps = 8;
  p->fwd.info.threads = 256;
  p->dout = p->fwd.o;
  p->dout.data = (void *)0x600000;
  p->dlse = p->fwd.lse;
  p->dlse.data = (void *)0x700000;
  p->dq = p->fwd.q;
  p->dq.data = (void *)0x800000;
  p->dk = p->fwd.k;
  p->dk.data = (void *)0x900000;
  p->dv = p->fwd.v;
  p->dv.data = (void *)0xa00000;
  flashrt_backward_workspace_size(&p->fwd.info, 2, 8, 100, &p->workspaceBytes);
  p->workspace = (void *)0x1000000;
}

static void validateBackward(const char *what, BackwardProblem *p, int dlse) {
  flashrt_backward_tensors t = {&p->fwd.q, &p->fwd.k,  &p->fwd.v, &p->fwd.o,
                                &p->fwd.lse, &p->dout, dlse ? &p->dlse : NULL,
                                &p->dq,    &p->dk,    &p->dv};
  t.dropout = p->dropout;
  report(what, flashrt_validate_backward(
                   p->fwd.infoArg, &t, p->fwd.scale, p->fwd.windowLeft,
                   p->fwd.windowRight, p->workspace, p->workspaceBytes));
}

#define BWD_CASE(NAME, DLSE, ...)                                              \
  do {                                                                         \
    BackwardProblem p;                                                         \
    makeBackwardProblem(&p);                                                   \
    __VA_ARGS__;                                                               \
    validateBackward(NAME, &p, DLSE);                                          \
  } while (0)

static int runValidateBackward(void) {
  BackwardProblem sized;
  makeBackwardProblem(&sized);
  /* delta 2*8*100*4 = 6400 bytes (6400 at 256-byte alignment), the dQ
   * accumulator 409600. */
  printf("workspace: %zu\n", sized.workspaceBytes);
  BWD_CASE("valid", 1);
  BWD_CASE("valid without dlse", 0);
  BWD_CASE("forward kernel", 1, p.fwd.info.name =
           "flash_fwd_d64_f16_causal_sm_80";
           p.fwd.info.spec.kind = FLASHRT_KIND_FORWARD);
  BWD_CASE("forward checks first", 1, p.fwd.k.sizes[3] = 32);
  BWD_CASE("dout shape", 1, p.dout.sizes[2] = 99);
  BWD_CASE("dout null", 1, p.dout.data = NULL);
  BWD_CASE("dlse rank", 1, p.dlse.rank = 4);
  BWD_CASE("dq dtype", 1, p.dq.dtype = FLASHRT_DTYPE_BF16);
  BWD_CASE("dk stride", 1, p.dk.strides[3] = 2);
  BWD_CASE("dv alignment", 1, p.dv.data = (void *)0xa00008);
  BWD_CASE("workspace small", 1, p.workspaceBytes -= 4);
  BWD_CASE("workspace null", 1, p.workspace = NULL);
  BWD_CASE("workspace alignment", 1, p.workspace = (void *)0x1000080);
  flashrt_dropout dropout = {0.25, 1, 2};
  BWD_CASE("dropout on a kernel without", 1, p.dropout = &dropout);
#define DROPOUT_KERNEL                                                         \
  p.fwd.info.name = "flash_bwd_d64_f16_causal_dropout_sm_80";                  \
  p.fwd.info.spec.features = FLASHRT_FEATURE_DROPOUT
  BWD_CASE("dropout kernel without dropout", 1, DROPOUT_KERNEL);
  BWD_CASE("dropout", 1, DROPOUT_KERNEL; p.dropout = &dropout);
  flashrt_dropout negative = {-0.5, 1, 2};
  BWD_CASE("dropout p negative", 1, DROPOUT_KERNEL; p.dropout = &negative);
#undef DROPOUT_KERNEL
  report("null tensors", flashrt_validate_backward(&sized.fwd.info, NULL, 1.0f,
                                                   0, 0, NULL, 0));
  return 0;
}

static int openContextAndLibrary(const char *dir, flashrt_context **ctx,
                                 flashrt_library **lib) {
  return report("context", flashrt_context_create(0, ctx)) ||
         report("library", flashrt_library_open(dir, lib));
}

static int runLaunch(const char *dir) {
  flashrt_context *ctx = NULL;
  flashrt_library *lib = NULL;
  if (openContextAndLibrary(dir, &ctx, &lib))
    return 1;
  printf("chip: %d\n", flashrt_context_chip(ctx));

  flashrt_kernel *kernel = NULL;
  if (report("load causal d64", flashrt_kernel_load(ctx, lib, &kCausal64,
                                                    &kernel)))
    return 0;
  printf("loaded: %s\n", flashrt_kernel_get_info(kernel)->name);

  Problem p;
  makeProblem(&p, 2, 8, 2, 100, 120);
  launch("forward", ctx, kernel, &p, (void *)0x5000);

  /* [B, L, H, D] q and o, MQA k and v, a size-1 batch with odd strides. */
  makeProblem(&p, 1, 8, 1, 300, 120);
  p.q.strides[0] = 3;
  p.q.strides[1] = 64;
  p.q.strides[2] = 8 * 64;
  launch("forward bshd", ctx, kernel, &p, NULL);

  makeProblem(&p, 2, 8, 2, 0, 120);
  launch("forward with Lq = 0 launches nothing", ctx, kernel, &p, NULL);

  makeProblem(&p, 2, 8, 2, 100, 120);
  p.o.sizes[2] = 50;
  launch("forward with a bad o", ctx, kernel, &p, NULL);

  flashrt_context *other = NULL;
  if (!report("second context", flashrt_context_create(0, &other))) {
    makeProblem(&p, 2, 8, 2, 100, 120);
    launch("forward in another context", other, kernel, &p, NULL);
    flashrt_context_destroy(other);
  }

  /* The kernel keeps the context: destroy the context first. */
  flashrt_context_destroy(ctx);
  printf("context destroyed\n");
  flashrt_kernel_destroy(kernel);
  printf("kernel destroyed\n");
  flashrt_library_destroy(lib);
  return 0;
}

/* Loads the d128 bf16 sliding-window kernel of DIR and launches it with
 * window sides past Lq + Lk: the runtime passes Lq + Lk, which sees the same
 * keys (kernels built before they clamped the sides overflowed on
 * INT64_MAX). */
static int runLaunchWindow(const char *dir) {
  flashrt_context *ctx = NULL;
  flashrt_library *lib = NULL;
  if (openContextAndLibrary(dir, &ctx, &lib))
    return 1;
  flashrt_spec spec = {128, FLASHRT_DTYPE_BF16, FLASHRT_MASK_SLIDING_WINDOW, 0,
                       FLASHRT_CHIP_ANY};
  flashrt_kernel *kernel = NULL;
  if (!report("load window d128", flashrt_kernel_load(ctx, lib, &spec,
                                                      &kernel))) {
    Problem p;
    makeProblem(&p, 1, 2, 2, 100, 120);
    contiguous(&p.q, (void *)0x100000, FLASHRT_DTYPE_BF16, 4, 1, 2, 100, 128);
    contiguous(&p.k, (void *)0x200000, FLASHRT_DTYPE_BF16, 4, 1, 2, 120, 128);
    contiguous(&p.v, (void *)0x300000, FLASHRT_DTYPE_BF16, 4, 1, 2, 120, 128);
    contiguous(&p.o, (void *)0x400000, FLASHRT_DTYPE_BF16, 4, 1, 2, 100, 128);
    p.windowLeft = INT64_MAX;
    p.windowRight = 3;
    launch("forward, left side INT64_MAX", ctx, kernel, &p, NULL);
    p.windowLeft = 219;
    p.windowRight = 221;
    launch("forward, sides Lq + Lk - 1 and + 1", ctx, kernel, &p, NULL);
    flashrt_kernel_destroy(kernel);
  }
  flashrt_library_destroy(lib);
  flashrt_context_destroy(ctx);
  return 0;
}

/* Loads the block-sparse d64 f16 kernel of DIR and launches it with and
 * without full lists; then the errors only a launch can see. */
static int runLaunchSparse(const char *dir) {
  flashrt_context *ctx = NULL;
  flashrt_library *lib = NULL;
  if (openContextAndLibrary(dir, &ctx, &lib))
    return 1;
  flashrt_spec spec = {64, FLASHRT_DTYPE_F16, FLASHRT_MASK_NONE, 1,
                       FLASHRT_CHIP_ANY};
  flashrt_kernel *kernel = NULL;
  if (report("load sparse d64", flashrt_kernel_load(ctx, lib, &spec, &kernel)))
    return 0;
  printf("loaded: %s\n", flashrt_kernel_get_info(kernel)->name);

  SparseProblem sp;
  makeSparseProblem(&sp, 2, 8, 2, 100, 120, 64, 64);
  /* A batch stride of 3 on the shared batch: 0 is passed for it. */
  sp.counts.strides[0] = 3;
  const Problem *p = &sp.p;
#define LAUNCH_SPARSE(WHAT, KERNEL, LAYOUT)                                    \
  report(WHAT, flashrt_attention_forward_sparse(                               \
                   ctx, KERNEL, p->qArg, &p->k, &p->v, &p->o, &p->lse,         \
                   p->scale, p->windowLeft, p->windowRight, LAYOUT,            \
                   (void *)0x5000))
  LAUNCH_SPARSE("forward sparse", kernel, &sp.layout);

  makeSparseProblem(&sp, 1, 8, 2, 300, 1000, 128, 128);
  sp.layout.full_kv_num_blocks = sp.layout.full_kv_indices = NULL;
  LAUNCH_SPARSE("forward sparse without full lists", kernel, &sp.layout);

  makeSparseProblem(&sp, 2, 8, 2, 0, 120, 64, 64);
  LAUNCH_SPARSE("forward sparse with Lq = 0 launches nothing", kernel,
                &sp.layout);
  makeSparseProblem(&sp, 2, 8, 2, 100, 120, 64, 64);
  LAUNCH_SPARSE("forward sparse without a layout", kernel, NULL);
  report("dense forward of a sparse kernel",
         flashrt_attention_forward(ctx, kernel, p->qArg, &p->k, &p->v, &p->o,
                                   &p->lse, p->scale, 0, 0, NULL));

  /* The staged layout outgrows the device's shared memory. */
  makeSparseProblem(&sp, 1, 1, 1, 64, 1 << 20, 64, 64);
  LAUNCH_SPARSE("forward sparse, 2^20 keys", kernel, &sp.layout);

  flashrt_kernel *dense = NULL;
  if (!report("load causal d64",
              flashrt_kernel_load(ctx, lib, &kCausal64, &dense))) {
    makeSparseProblem(&sp, 2, 8, 2, 100, 120, 64, 64);
    LAUNCH_SPARSE("forward sparse of a dense kernel", dense, &sp.layout);
    flashrt_kernel_destroy(dense);
  }
#undef LAUNCH_SPARSE
  flashrt_kernel_destroy(kernel);
  flashrt_library_destroy(lib);
  flashrt_context_destroy(ctx);
  return 0;
}

/* Loads the spec given on the command line; prints what happens. */
static int runLoad(char **argv) {
  flashrt_context *ctx = NULL;
  flashrt_library *lib = NULL;
  if (openContextAndLibrary(argv[0], &ctx, &lib))
    return 1;
  flashrt_spec spec = {parseInt(argv[1]),     parseDtype(argv[2]),
                       parseMask(argv[3]),    (unsigned)parseInt(argv[4]),
                       parseChipArg(argv[5]), FLASHRT_KIND_FORWARD};
  flashrt_kernel *kernel = (flashrt_kernel *)1;
  if (!report("load", flashrt_kernel_load(ctx, lib, &spec, &kernel))) {
    printf("loaded: %s\n", flashrt_kernel_get_info(kernel)->name);
    flashrt_kernel_destroy(kernel);
  } else {
    printf("kernel handle: %s\n", kernel ? "set" : "null");
  }

  /* The same through the single-image entry points. */
  flashrt_kernel_info info;
  memset(&info, 0, sizeof(info));
  info.name = "flash_fwd_d64_f16_causal_sm_80";
  info.spec = kCausal64;
  info.spec.chip = FLASHRT_CHIP_SM_80;
  info.cta_q = info.cta_kv = 64;
  info.warps = 4;
  info.stages = 2;
  info.threads = 128;
  info.smem_bytes = 65536;
  const char ptx[] = "// ptx text\n.entry flash_fwd_d64_f16_causal_sm_80";
  if (!report("load ptx", flashrt_kernel_load_ptx(ctx, &info, ptx,
                                                  sizeof(ptx) - 1, &kernel)))
    flashrt_kernel_destroy(kernel);
  const char cubin[] = "CUBIN without the symbol";
  report("load cubin", flashrt_kernel_load_cubin(ctx, &info, cubin,
                                                 sizeof(cubin), &kernel));
  info.name = "flash_fwd_d64_f16_causal_sm_90a";
  info.spec.chip = FLASHRT_CHIP_SM_90A;
  report("load sm_90a ptx", flashrt_kernel_load_ptx(ctx, &info, ptx,
                                                     sizeof(ptx), &kernel));
  flashrt_library_destroy(lib);
  flashrt_context_destroy(ctx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "context") == 0)
    return runContext();
  if (argc == 3 && strcmp(argv[1], "library") == 0)
    return runLibrary(argv[2]);
  if (argc == 3 && strcmp(argv[1], "parse") == 0)
    return runParse(argv[2]);
  if (argc == 9 && strcmp(argv[1], "select") == 0)
    return runSelect(argv + 2);
  if (argc == 6 && strcmp(argv[1], "sparse-smem") == 0)
    return runSparseSharedMemory(argv + 2);
  if (argc == 2 && strcmp(argv[1], "chips") == 0)
    return runChips();
  if (argc == 2 && strcmp(argv[1], "validate") == 0)
    return runValidate();
  if (argc == 2 && strcmp(argv[1], "validate-backward") == 0)
    return runValidateBackward();
  if (argc == 2 && strcmp(argv[1], "validate-sparse") == 0)
    return runValidateSparse();
  if (argc == 3 && strcmp(argv[1], "launch") == 0)
    return runLaunch(argv[2]);
  if (argc == 3 && strcmp(argv[1], "launch-window") == 0)
    return runLaunchWindow(argv[2]);
  if (argc == 3 && strcmp(argv[1], "launch-sparse") == 0)
    return runLaunchSparse(argv[2]);
  if (argc == 8 && strcmp(argv[1], "load") == 0)
    return runLoad(argv + 2);
  fprintf(stderr,
          "usage: flashrt-test context | library DIR | parse FILE | "
          "select DIR D DTYPE MASK FEATURES CHIP DEVICE_CHIP | sparse-smem "
          "DIR NAME LK BLOCK_KV | chips | "
          "validate | validate-sparse | launch DIR | launch-sparse "
          "DIR | load DIR D DTYPE MASK FEATURES CHIP\n");
  return 2;
}
