// Fully dynamic operands run tiled on the CPU, with tails on both axes.
// RUN: flash-opt %s --flash-to-cpu="tile-q=2 tile-kv=2" | \
// RUN:   mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_lib_dir/libmlir_runner_utils.so,%mlir_lib_dir/libmlir_c_runner_utils.so | \
// RUN:   FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>)

func.func @attend(%q: tensor<?x?x?x?xf32>, %k: tensor<?x?x?x?xf32>,
                  %v: tensor<?x?x?x?xf32>)
    -> (tensor<?x?x?x?xf32>, tensor<?x?x?xf32>) {
  %o, %l = flash.attention %q, %k, %v {scale = 1.0 : f32, mask_kind = #flash.mask<causal>}
      : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>
      -> tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
  return %o, %l : tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
}

func.func @main() {
  // Equal scores: causal row i averages v[0..i].
  %q = arith.constant dense<0.0> : tensor<1x1x3x2xf32>
  %v = arith.constant dense<[[[[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]]]]> : tensor<1x1x3x2xf32>
  %qd = tensor.cast %q : tensor<1x1x3x2xf32> to tensor<?x?x?x?xf32>
  %vd = tensor.cast %v : tensor<1x1x3x2xf32> to tensor<?x?x?x?xf32>
  %o, %l = call @attend(%qd, %qd, %vd)
      : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>)
      -> (tensor<?x?x?x?xf32>, tensor<?x?x?xf32>)
  %ou = tensor.cast %o : tensor<?x?x?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%ou) : (tensor<*xf32>) -> ()
  // CHECK:      {{\[}}[1,   2],
  // CHECK-NEXT: [2,   3],
  // CHECK-NEXT: [3,   5]]
  %lu = tensor.cast %l : tensor<?x?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%lu) : (tensor<*xf32>) -> ()
  // CHECK: [0,   0.693147,   1.09861]
  return
}
