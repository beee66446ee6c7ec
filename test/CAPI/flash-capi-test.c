/*===- flash-capi-test.c - Exercise the flash C API ---------------*- C -*-===*\
|*                                                                            *|
|* A plain C program against libFlashCAPI.so: registers the flash dialect     *|
|* through its handle, parses and verifies flash.attention, runs flash passes *|
|* and flash-to-cpu through the C pass manager, and reports what invalid IR   *|
|* and unknown passes produce, and compiles kernel specs, with and without    *|
|* overrides of the plan.                                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

// REQUIRES: flash-capi
// RUN: flash-capi-test 2>&1 | FileCheck %s

#include "flash-c/Compiler.h"
#include "flash-c/Dialects.h"
#include "flash-c/Passes.h"

#include "mlir-c/Diagnostics.h"
#include "mlir-c/IR.h"
#include "mlir-c/Pass.h"
#include "mlir-c/RegisterEverything.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kAttention =
    "func.func @attn(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,\n"
    "                %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {\n"
    "  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}\n"
    "      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>,\n"
    "        tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>\n"
    "  return %o : tensor<1x2x8x16xf32>\n"
    "}\n";

/* The key's head_dim (32) differs from the query's (16). */
static const char *kHeadDimMismatch =
    "func.func @bad(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x32xf32>,\n"
    "               %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {\n"
    "  %o = flash.attention %q, %k, %v\n"
    "      : tensor<1x2x8x16xf32>, tensor<1x2x8x32xf32>,\n"
    "        tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>\n"
    "  return %o : tensor<1x2x8x16xf32>\n"
    "}\n";

static void printToStdout(MlirStringRef str, void *userData) {
  (void)userData;
  fwrite(str.data, 1, str.length, stdout);
}

/* Prints every diagnostic as "diagnostic: <message>". */
static MlirLogicalResult printDiagnostic(MlirDiagnostic diagnostic,
                                         void *userData) {
  (void)userData;
  fputs("diagnostic: ", stdout);
  mlirDiagnosticPrint(diagnostic, printToStdout, NULL);
  fputc('\n', stdout);
  return mlirLogicalResultSuccess();
}

static MlirModule parse(MlirContext ctx, const char *source) {
  return mlirModuleCreateParse(ctx, mlirStringRefCreateFromCString(source));
}

/* Collects what mlirParsePassPipeline reports, which may come in pieces. */
typedef struct {
  char text[1024];
  size_t length;
} ErrorBuffer;

static void appendToBuffer(MlirStringRef str, void *userData) {
  ErrorBuffer *buffer = (ErrorBuffer *)userData;
  size_t room = sizeof(buffer->text) - 1 - buffer->length;
  size_t n = str.length < room ? str.length : room;
  memcpy(buffer->text + buffer->length, str.data, n);
  buffer->length += n;
  buffer->text[buffer->length] = '\0';
}

/* Parses `pipeline` into a fresh pass manager and runs it on `module`.
   Returns 0 on success, 1 if the pipeline does not parse, 2 if it fails. */
static int runPipeline(MlirContext ctx, MlirModule module,
                       const char *pipeline) {
  MlirPassManager pm = mlirPassManagerCreate(ctx);
  ErrorBuffer error = {{0}, 0};
  int status = 0;
  if (mlirLogicalResultIsFailure(mlirParsePassPipeline(
          mlirPassManagerGetAsOpPassManager(pm),
          mlirStringRefCreateFromCString(pipeline), appendToBuffer, &error))) {
    printf("pipeline error: %s\n", error.text);
    status = 1;
  } else if (mlirLogicalResultIsFailure(mlirPassManagerRunOnOp(
                 pm, mlirModuleGetOperation(module)))) {
    printf("pass manager failed\n");
    status = 2;
  }
  mlirPassManagerDestroy(pm);
  return status;
}

int main(void) {
  /* Keep stdout and what LLVM writes to stderr in order. */
  setvbuf(stdout, NULL, _IONBF, 0);
  MlirContext ctx = mlirContextCreate();
  mlirContextAttachDiagnosticHandler(ctx, printDiagnostic, NULL, NULL);

  /* Upstream dialects (func, ...) through mlirRegisterAllDialects; flash is
     not among them. */
  MlirDialectRegistry registry = mlirDialectRegistryCreate();
  mlirRegisterAllDialects(registry);
  mlirContextAppendDialectRegistry(ctx, registry);
  mlirDialectRegistryDestroy(registry);

  // CHECK-LABEL: -- without the flash dialect
  // CHECK-NEXT: diagnostic: Dialect `flash' not found for custom op 'flash.attention'
  // CHECK-NEXT: parsed: 0
  printf("-- without the flash dialect\n");
  MlirModule module = parse(ctx, kAttention);
  printf("parsed: %d\n", !mlirModuleIsNull(module));

  // CHECK-LABEL: -- flash dialect handle
  // CHECK-NEXT: namespace: flash
  // CHECK-NEXT: loaded: 1
  printf("-- flash dialect handle\n");
  MlirDialectHandle flash = mlirGetDialectHandle__flash__();
  MlirStringRef ns = mlirDialectHandleGetNamespace(flash);
  printf("namespace: %.*s\n", (int)ns.length, ns.data);
  mlirDialectHandleRegisterDialect(flash, ctx);
  MlirDialect dialect = mlirDialectHandleLoadDialect(flash, ctx);
  printf("loaded: %d\n", !mlirDialectIsNull(dialect));

  // CHECK-LABEL: -- parse and verify
  // CHECK-NEXT: verified: 1
  // CHECK: func.func @attn
  // CHECK-NEXT: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal>}
  printf("-- parse and verify\n");
  module = parse(ctx, kAttention);
  if (mlirModuleIsNull(module)) {
    printf("unexpected: the attention module did not parse\n");
    return EXIT_FAILURE;
  }
  MlirOperation moduleOp = mlirModuleGetOperation(module);
  printf("verified: %d\n", mlirOperationVerify(moduleOp));
  mlirOperationPrint(moduleOp, printToStdout, NULL);
  fputc('\n', stdout);

  // CHECK-LABEL: -- before flashRegisterPasses
  // CHECK-NEXT: pipeline error: {{.*}}error: 'flash-decompose-attention' does not refer to a registered pass or pass pipeline
  // CHECK: status: 1
  printf("-- before flashRegisterPasses\n");
  printf("status: %d\n",
         runPipeline(ctx, module, "builtin.module(flash-decompose-attention)"));

  // CHECK-LABEL: -- flash-decompose-attention
  // CHECK-NEXT: status: 0
  // CHECK-NOT: flash.
  // CHECK: func.func @attn
  // CHECK-NOT: flash.
  // CHECK: linalg.generic
  // CHECK: math.exp
  // CHECK-NOT: flash.
  printf("-- flash-decompose-attention\n");
  flashRegisterPasses();
  flashRegisterPasses(); /* A second call has no effect. */
  int status =
      runPipeline(ctx, module, "builtin.module(flash-decompose-attention)");
  printf("status: %d\n", status);
  if (status != 0)
    return EXIT_FAILURE;
  mlirOperationPrint(moduleOp, printToStdout, NULL);
  fputc('\n', stdout);
  mlirModuleDestroy(module);

  // Without the upstream passes its stages are spelled in, flash-to-cpu is
  // refused with a message (issue 25: report_fatal_error aborted before).
  // CHECK-LABEL: -- flash-to-cpu without the upstream passes
  // CHECK-NEXT: pipeline error: {{.*}}flash-to-cpu: cannot build the pipeline (are the upstream passes registered, e.g. by registerAllPasses?): {{.*}}'tosa-to-linalg-named' does not refer to a registered pass or pass pipeline
  // CHECK: status: 1
  printf("-- flash-to-cpu without the upstream passes\n");
  module = parse(ctx, kAttention);
  printf("status: %d\n",
         runPipeline(ctx, module, "builtin.module(flash-to-cpu)"));
  mlirModuleDestroy(module);

  // CHECK-LABEL: -- flash-to-cpu
  // CHECK-NEXT: status: 0
  // CHECK-NOT: flash.
  // CHECK: llvm.func @attn
  // CHECK-NOT: flash.
  printf("-- flash-to-cpu\n");
  /* flash-to-cpu is spelled in upstream passes: register those too. */
  mlirRegisterAllPasses();
  module = parse(ctx, kAttention);
  status = runPipeline(ctx, module,
                       "builtin.module(flash-to-cpu{tile-q=4 tile-kv=4})");
  printf("status: %d\n", status);
  if (status != 0)
    return EXIT_FAILURE;
  mlirOperationPrint(mlirModuleGetOperation(module), printToStdout, NULL);
  fputc('\n', stdout);
  mlirModuleDestroy(module);

  // CHECK-LABEL: -- invalid IR
  // CHECK-NEXT: diagnostic: 'flash.attention' op key dimension 3 is 32, expected 16 (the query's head_dim)
  // CHECK-NEXT: parsed: 0
  printf("-- invalid IR\n");
  module = parse(ctx, kHeadDimMismatch);
  printf("parsed: %d\n", !mlirModuleIsNull(module));

  // CHECK-LABEL: -- bad pipeline option
  // CHECK: for the --tile-q option: 'oops' value invalid
  // CHECK: pipeline error:
  // CHECK-NEXT: failed to add `flash-tile-attention` with options `tile-q=oops`
  // CHECK: status: 1
  printf("-- bad pipeline option\n");
  module = parse(ctx, kAttention);
  printf("status: %d\n",
         runPipeline(ctx, module,
                     "builtin.module(flash-tile-attention{tile-q=oops})"));
  mlirModuleDestroy(module);

  // CHECK-LABEL: -- nested module pipeline
  // CHECK: pipeline error:
  // CHECK: flash-to-cpu runs on 'builtin.module', not on 'func.func'
  // CHECK: status: 1
  printf("-- nested module pipeline\n");
  module = parse(ctx, kAttention);
  printf("status: %d\n",
         runPipeline(ctx, module, "builtin.module(func.func(flash-to-cpu))"));
  mlirModuleDestroy(module);

  mlirContextDestroy(ctx);

  // CHECK-LABEL: -- compile a kernel spec
  // CHECK-NEXT: ok: 1 name: flash_fwd_d64_f16_causal_sm_80
  // CHECK-NEXT: ptx has the entry: 1, mma.sync: 1
  // CHECK-NEXT: metadata: {{.*}}"smem_bytes":{{[0-9]+}},"spec":{"chip":"sm_80","dtype":"f16","features":[],"head_dim":64,"kind":"forward","mask":"causal"}
  printf("-- compile a kernel spec\n");
  FlashKernelSpec spec = {64, "f16", "causal", NULL, "sm_80", "forward"};
  FlashCompiledKernel kernel;
  char *error = NULL;
  bool ok = flashCompileForwardKernel(&spec, &kernel, &error);
  printf("ok: %d name: %s\n", ok, ok ? kernel.name : error);
  if (!ok)
    return EXIT_FAILURE;
  printf("ptx has the entry: %d, mma.sync: %d\n",
         strstr(kernel.ptx, ".entry flash_fwd_d64_f16_causal_sm_80(") != NULL,
         strstr(kernel.ptx, "mma.sync.aligned.m16n8k16") != NULL);
  printf("metadata: %s\n", kernel.metadata);
  flashCompiledKernelDestroy(&kernel);

  // A NULL kind is "forward"; features are named as in manifests.
  // CHECK-NEXT: sparse: 1 name: flash_fwd_d64_f16_none_sparse_sm_80
  FlashKernelSpec sparse = {64, "f16", "none", "block_sparse", "sm_80", NULL};
  ok = flashCompileForwardKernel(&sparse, &kernel, &error);
  printf("sparse: %d name: %s\n", ok, ok ? kernel.name : error);
  if (!ok)
    return EXIT_FAILURE;
  flashCompiledKernelDestroy(&kernel);

  // A backward spec compiles its three kernels into one module.
  // CHECK-NEXT: backward: 1 name: flash_bwd_d64_bf16_causal_sm_80 dq: 1 kind: 1
  FlashKernelSpec backward = {64, "bf16", "causal", NULL, "sm_80", "backward"};
  ok = flashCompileForwardKernel(&backward, &kernel, &error);
  printf("backward: %d name: %s dq: %d kind: %d\n", ok, ok ? kernel.name : error,
         ok && strstr(kernel.ptx, ".entry flash_bwd_d64_bf16_causal_sm_80_dq(") != NULL,
         ok && strstr(kernel.metadata, "\"kind\":\"backward\"") != NULL);
  if (!ok)
    return EXIT_FAILURE;
  flashCompiledKernelDestroy(&kernel);

  // CHECK-LABEL: -- bad kernel specs
  // CHECK-NEXT: head_dim 7: head_dim must be a positive multiple of 8 up to 256, got 7
  // CHECK-NEXT: dtype f32: dtype must be f16 or bf16, got 'f32'
  // CHECK-NEXT: mask diagonal: mask must be none, causal, causal_bottom_right or sliding_window, got 'diagonal'
  // CHECK-NEXT: chip sm_70: chip must be one of sm_80, sm_86, sm_89, sm_90, sm_90a, got 'sm_70'
  // CHECK-NEXT: kind sideways: kind must be one of forward, backward, decode, combine, got 'sideways'
  // CHECK-NEXT: kind decode: no decode kernels are generated yet
  // CHECK-NEXT: sparse backward: no block-sparse backward kernels are generated yet
  // CHECK-NEXT: backward D 192: backward kernels are generated for head dims up to 128, got 192
  // CHECK-NEXT: features paged: unknown features 'paged', 'ragged'; the features are block_sparse
  // CHECK-NEXT: NULL spec: spec and kernel must not be NULL
  printf("-- bad kernel specs\n");
  struct {
    const char *label;
    FlashKernelSpec spec;
  } bad[] = {
      {"head_dim 7", {7, "f16", "none", NULL, "sm_80", "forward"}},
      {"dtype f32", {64, "f32", "none", NULL, "sm_80", "forward"}},
      {"mask diagonal", {64, "f16", "diagonal", NULL, "sm_80", "forward"}},
      {"chip sm_70", {64, "f16", "none", NULL, "sm_70", "forward"}},
      {"kind sideways", {64, "f16", "none", NULL, "sm_80", "sideways"}},
      {"kind decode", {64, "f16", "none", NULL, "sm_80", "decode"}},
      {"sparse backward",
       {64, "f16", "none", "block_sparse", "sm_80", "backward"}},
      {"backward D 192", {192, "f16", "none", NULL, "sm_80", "backward"}},
      {"features paged",
       {64, "f16", "none", "block_sparse,paged, ragged", "sm_80", NULL}}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    error = NULL;
    ok = flashCompileForwardKernel(&bad[i].spec, &kernel, &error);
    printf("%s: %s\n", bad[i].label, ok ? "accepted" : error);
    flashFreeString(error);
  }
  error = NULL;
  ok = flashCompileForwardKernel(NULL, &kernel, &error);
  printf("NULL spec: %s\n", ok ? "accepted" : error);
  flashFreeString(error);

  // CHECK-LABEL: -- compile with plan overrides
  // CHECK-NEXT: ok: 1 config: {{.*}}"cta_kv":32,{{.*}}"stages":3,
  // CHECK-NEXT: NULL options: 1
  // CHECK-NEXT: for the --stages option: 'many' value invalid
  // CHECK-NEXT: bad value: bad convert-flash-to-gpu option 'stages=many'
  // CHECK-NEXT: unknown option: bad convert-flash-to-gpu option 'tiles=2': {{.*}}no such option tiles
  // CHECK-NEXT: invalid plan: invalid plan for flash_fwd_d64_f16_causal_sm_80 with cta-q=96: cta-q must be a positive multiple of 16 x warps (64), got 96
  // CHECK-NEXT: out of range: bad convert-flash-to-gpu option 'warps=1152921504606846976': warps must be in [1, 32], got 1152921504606846976
  // CHECK-NEXT: zero: bad convert-flash-to-gpu option 'stages=0': stages must be in [2, 4], got 0
  // CHECK-NEXT: another chip: options: the chip is the spec's ('sm_80'), not 'sm_90a'
  printf("-- compile with plan overrides\n");
  ok = flashCompileForwardKernelWithOptions(&spec, "cta-kv=32 stages=3",
                                            &kernel, &error);
  printf("ok: %d config: %s\n", ok,
         ok ? strstr(kernel.metadata, "\"config\"") : error);
  if (!ok)
    return EXIT_FAILURE;
  flashCompiledKernelDestroy(&kernel);
  ok = flashCompileForwardKernelWithOptions(&spec, NULL, &kernel, &error);
  printf("NULL options: %d\n", ok);
  if (!ok)
    return EXIT_FAILURE;
  flashCompiledKernelDestroy(&kernel);
  struct {
    const char *label;
    const char *options;
  } badOptions[] = {{"bad value", "stages=many"},
                    {"unknown option", "tiles=2"},
                    {"invalid plan", "cta-q=96"},
                    {"out of range", "warps=1152921504606846976"},
                    {"zero", "stages=0"},
                    {"another chip", "chip=sm_90a"}};
  for (size_t i = 0; i < sizeof(badOptions) / sizeof(badOptions[0]); ++i) {
    error = NULL;
    ok = flashCompileForwardKernelWithOptions(&spec, badOptions[i].options,
                                              &kernel, &error);
    printf("%s: %s\n", badOptions[i].label, ok ? "accepted" : error);
    flashFreeString(error);
  }

  // CHECK-LABEL: -- done
  printf("-- done\n");
  return EXIT_SUCCESS;
}
