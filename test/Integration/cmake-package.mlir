// The installed CMake package: `cmake --install` this build into a fresh
// prefix, build test/Integration/consumer (its own consumer-opt, registering
// flash through find_package(FlashMLIR)) against it, and run it.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %cmake --install %flash_obj_root --prefix %t/prefix > %t/install.log
// RUN: find %t/prefix | sort | FileCheck %s --check-prefix=LAYOUT
// RUN: find %t/prefix -name CMakeFiles | count 0
//
// The consumer does not find MLIR itself: FlashMLIRConfig.cmake does.
// RUN: %cmake_configure -DCMAKE_BUILD_TYPE=Release \
// RUN:   -DCMAKE_PREFIX_PATH=%t/prefix \
// RUN:   -S %flash_src_root/test/Integration/consumer -B %t/build \
// RUN:   > %t/configure.log
// RUN: FileCheck %s --check-prefix=CONFIGURE < %t/configure.log
// RUN: %cmake --build %t/build -j 1 > %t/build.log
// RUN: %t/build/consumer-opt %s --flash-decompose-attention | FileCheck %s
// RUN: llvm-readobj --needed-libs %t/build/consumer-opt \
// RUN:   | FileCheck %s --check-prefix=NEEDED
//
// The installed flash-opt and FlashPlugin run from the prefix (their RPATH
// reaches libMLIR.so).
// RUN: %t/prefix/bin/flash-opt %s --flash-tile-attention="tile-q=4 tile-kv=4" \
// RUN:   | FileCheck %s --check-prefix=TILE
// RUN: %if flash-plugin %{ mlir-opt --load-dialect-plugin=%t/prefix/lib/FlashPlugin.so \
// RUN:   --load-pass-plugin=%t/prefix/lib/FlashPlugin.so \
// RUN:   --pass-pipeline='builtin.module(flash-decompose-attention)' %s \
// RUN:   | FileCheck %s %}

// LAYOUT-DAG: /prefix/bin/flash-opt
// LAYOUT-DAG: /prefix/include/flash/InitFlash.h
// LAYOUT-DAG: /prefix/include/flash/Dialect/Flash/IR/FlashOps.h
// LAYOUT-DAG: /prefix/include/flash/Dialect/Flash/IR/FlashOps.h.inc
// LAYOUT-DAG: /prefix/include/flash/Dialect/Flash/IR/FlashOps.td
// LAYOUT-DAG: /prefix/include/flash/Dialect/Flash/Transforms/Passes.h.inc
// LAYOUT-DAG: /prefix/include/flash/Pipelines/Pipelines.h
// LAYOUT-DAG: /prefix/include/flash-c/Dialects.h
// LAYOUT-DAG: /prefix/include/flash-c/Passes.h
// LAYOUT-DAG: /prefix/lib/libMLIRFlashDialect.a
// LAYOUT-DAG: /prefix/lib/libMLIRFlashTransforms.a
// LAYOUT-DAG: /prefix/lib/libMLIRFlashPipelines.a
// LAYOUT-DAG: /prefix/lib/cmake/FlashMLIR/FlashMLIRConfig.cmake
// LAYOUT-DAG: /prefix/lib/cmake/FlashMLIR/FlashMLIRConfigVersion.cmake
// LAYOUT-DAG: /prefix/lib/cmake/FlashMLIR/FlashMLIRTargets.cmake

// NEEDED: libMLIR.so

// CONFIGURE: Using FlashMLIRConfig.cmake in: {{.*}}/prefix/lib/cmake/FlashMLIR

// CHECK-LABEL: func.func @attn
// CHECK-NOT: flash.
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK-NOT: flash.

// TILE-LABEL: func.func @attn
// TILE: scf.for
// TILE-NOT: flash.attention

func.func @attn(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
