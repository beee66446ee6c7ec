// LLVM 22's own mlir-opt, not flash-opt, loads FlashPlugin and then knows the
// flash dialect, every flash pass and the flash-to-cpu pipeline.
//
// REQUIRES: flash-plugin
// RUN: mlir-opt --load-dialect-plugin=%flash_plugin %s \
// RUN:   | mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --load-pass-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(flash-decompose-attention)' %s \
// RUN:   | FileCheck %s --check-prefix=DECOMPOSE
// RUN: mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --load-pass-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(flash-tile-attention{tile-q=4 tile-kv=4})' %s \
// RUN:   | FileCheck %s --check-prefix=TILE
// RUN: mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --load-pass-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(flash-to-cpu{tile-q=4 tile-kv=4})' %s \
// RUN:   | FileCheck %s --check-prefix=CPU
// Nested under func.func, the pipeline is refused with a message (issue 25;
// it used to abort in report_fatal_error).
// RUN: not mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --load-pass-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(func.func(flash-to-cpu))' %s 2>&1 \
// RUN:   | FileCheck %s --check-prefix=NESTED
//
// Without the plugin the stock tool rejects the same input, so the lines
// above pass only because the plugin registered something.
// RUN: not mlir-opt %s 2>&1 | FileCheck %s --check-prefix=NODIALECT
// RUN: not mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(flash-decompose-attention)' %s 2>&1 \
// RUN:   | FileCheck %s --check-prefix=NOPASS

// NESTED: flash-to-cpu runs on 'builtin.module', not on 'func.func'

// ROUNDTRIP-LABEL: func.func @causal
// ROUNDTRIP: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal>} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>

// DECOMPOSE-LABEL: func.func @causal
// DECOMPOSE-NOT: flash.
// DECOMPOSE: linalg.generic
// DECOMPOSE: math.exp
// DECOMPOSE-NOT: flash.

// TILE-LABEL: func.func @causal
// TILE-NOT: flash.attention
// TILE: scf.for
// TILE-NOT: flash.attention

// CPU-NOT: flash.
// CPU: llvm.func @causal
// CPU-NOT: flash.

// NODIALECT: error: Dialect `flash' not found for custom op 'flash.attention'
// NOPASS: error: 'flash-decompose-attention' does not refer to a registered pass or pass pipeline

func.func @causal(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                  %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
