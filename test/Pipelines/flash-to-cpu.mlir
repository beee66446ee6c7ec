// flash-to-cpu lowers a module mixing flash ops with upstream tensor-level
// ops (tosa, linalg.softmax, linalg.generic) to the LLVM dialect, and the
// result runs under mlir-runner.
// RUN: flash-opt %s --flash-to-cpu | FileCheck %s --check-prefix=LOWERED
// RUN: flash-opt %s --flash-to-cpu="tile-q=2 tile-kv=2" | \
// RUN:   mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_lib_dir/libmlir_runner_utils.so,%mlir_lib_dir/libmlir_c_runner_utils.so | \
// RUN:   FileCheck %s

// LOWERED-NOT: flash.
// LOWERED-NOT: tosa.
// LOWERED-NOT: linalg.
// LOWERED-NOT: scf.
// LOWERED: llvm.func @main

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  // tosa.add then linalg.softmax: softmax([0, ln 3]) = [0.25, 0.75].
  %x = arith.constant dense<[[0.0, 1.0]]> : tensor<1x2xf32>
  %y = arith.constant dense<[[0.0, 0.0986122887]]> : tensor<1x2xf32>
  %a = tosa.add %x, %y : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %e = tensor.empty() : tensor<1x2xf32>
  %s = linalg.softmax dimension(1) ins(%a : tensor<1x2xf32>) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %su = tensor.cast %s : tensor<1x2xf32> to tensor<*xf32>
  call @printMemrefF32(%su) : (tensor<*xf32>) -> ()
  // CHECK: [0.25,   0.75]

  // Causal attention over 3 keys with equal scores: row i averages v[0..i].
  %q = arith.constant dense<0.0> : tensor<1x1x3x2xf32>
  %v = arith.constant dense<[[[[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]]]]> : tensor<1x1x3x2xf32>
  %o, %lse = flash.attention %q, %q, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>
      -> tensor<1x1x3x2xf32>, tensor<1x1x3xf32>
  %ou = tensor.cast %o : tensor<1x1x3x2xf32> to tensor<*xf32>
  call @printMemrefF32(%ou) : (tensor<*xf32>) -> ()
  // CHECK:      {{\[}}[1,   2],
  // CHECK-NEXT: [2,   3],
  // CHECK-NEXT: [3,   5]]
  // lse = log(i + 1).
  %lu = tensor.cast %lse : tensor<1x1x3xf32> to tensor<*xf32>
  call @printMemrefF32(%lu) : (tensor<*xf32>) -> ()
  // CHECK: [0,   0.693147,   1.09861]

  // head_dim 0 with an explicit scale: every score is 0, so each row
  // averages all of v and lse = log 3.
  %z = tensor.empty() : tensor<1x1x3x0xf32>
  %zo, %zlse = flash.attention %z, %z, %v {scale = 0.5 : f32}
      : tensor<1x1x3x0xf32>, tensor<1x1x3x0xf32>, tensor<1x1x3x2xf32>
      -> tensor<1x1x3x2xf32>, tensor<1x1x3xf32>
  %zou = tensor.cast %zo : tensor<1x1x3x2xf32> to tensor<*xf32>
  call @printMemrefF32(%zou) : (tensor<*xf32>) -> ()
  // CHECK:      {{\[}}[3,   5],
  // CHECK-NEXT: [3,   5],
  // CHECK-NEXT: [3,   5]]
  %zlu = tensor.cast %zlse : tensor<1x1x3xf32> to tensor<*xf32>
  call @printMemrefF32(%zlu) : (tensor<*xf32>) -> ()
  // CHECK: [1.09861,   1.09861,   1.09861]
  return
}
