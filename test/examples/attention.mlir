// The example of README.md's "Using flash-opt" decomposes completely: no
// flash op is left.
// RUN: flash-opt --flash-decompose-attention %flash_src_root/examples/attention.mlir \
// RUN:   | FileCheck %s --implicit-check-not=flash.

// CHECK-LABEL: func.func @forward(
// CHECK: arith.cmpi sle
// CHECK: math.log
// CHECK: return {{.*}} : tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
// CHECK-LABEL: func.func @backward(
// CHECK: return {{.*}} : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
