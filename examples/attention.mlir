// A causal grouped-query attention layer, forward and backward, as the flash
// dialect spells it: 8 query heads share 2 key/value heads, f16 operands,
// head_dim 64 (scale 1/8 by default). Run
//   flash-opt --flash-decompose-attention examples/attention.mlir
// to see it rewritten into linalg/tensor/arith/math, or the other commands
// of README.md's "Using flash-opt". (scripts/setup.sh compiles
// examples/naive_attention.mlir, not this file.)

func.func @forward(%q: tensor<2x8x128x64xf16>, %k: tensor<2x2x128x64xf16>,
                   %v: tensor<2x2x128x64xf16>)
    -> (tensor<2x8x128x64xf16>, tensor<2x8x128xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
      -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
  return %o, %lse : tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
}

func.func @backward(%q: tensor<2x8x128x64xf16>, %k: tensor<2x2x128x64xf16>,
                    %v: tensor<2x2x128x64xf16>, %o: tensor<2x8x128x64xf16>,
                    %do: tensor<2x8x128x64xf16>, %lse: tensor<2x8x128xf32>)
    -> (tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>,
        tensor<2x2x128x64xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      {mask_kind = #flash.mask<causal>}
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>,
        tensor<2x8x128x64xf16>, tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
      -> tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
  return %dq, %dk, %dv
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
}

// The entry point of README.md's mlir-runner line:
//   flash-opt --flash-to-cpu examples/attention.mlir | mlir-runner -e main ...
// q = k = 0 makes every score 0, so causal row i averages v[0..i]: with
// v = 1 the output is 1 and lse = log(i + 1). The backward with dO = 1 gives
// dQ = dK = 0 and dV[j] = the sum, over the 4 query heads of a kv head and
// the rows i >= j, of 1 / (i + 1): 4 / 128 = 0.03125 for the last key.
func.func private @printMemrefF32(tensor<*xf32>)
func.func private @printMemrefF16(tensor<*xf16>) attributes {llvm.emit_c_interface}

func.func @main() {
  %q = arith.constant dense<0.0> : tensor<2x8x128x64xf16>
  %k = arith.constant dense<0.0> : tensor<2x2x128x64xf16>
  %v = arith.constant dense<1.0> : tensor<2x2x128x64xf16>
  %do = arith.constant dense<1.0> : tensor<2x8x128x64xf16>
  %o, %lse = call @forward(%q, %k, %v)
      : (tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>)
      -> (tensor<2x8x128x64xf16>, tensor<2x8x128xf32>)
  %o2 = tensor.extract_slice %o[0, 0, 0, 0] [1, 1, 2, 4] [1, 1, 1, 1]
      : tensor<2x8x128x64xf16> to tensor<2x4xf16>
  %o2u = tensor.cast %o2 : tensor<2x4xf16> to tensor<*xf16>
  call @printMemrefF16(%o2u) : (tensor<*xf16>) -> ()
  %lse4 = tensor.extract_slice %lse[0, 0, 0] [1, 1, 4] [1, 1, 1]
      : tensor<2x8x128xf32> to tensor<4xf32>
  %lse4u = tensor.cast %lse4 : tensor<4xf32> to tensor<*xf32>
  call @printMemrefF32(%lse4u) : (tensor<*xf32>) -> ()
  %dq, %dk, %dv = call @backward(%q, %k, %v, %o, %do, %lse)
      : (tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>,
         tensor<2x8x128x64xf16>, tensor<2x8x128x64xf16>, tensor<2x8x128xf32>)
      -> (tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>)
  %dv2 = tensor.extract_slice %dv[0, 0, 126, 0] [1, 1, 2, 4] [1, 1, 1, 1]
      : tensor<2x2x128x64xf16> to tensor<2x4xf16>
  %dv2u = tensor.cast %dv2 : tensor<2x4xf16> to tensor<*xf16>
  call @printMemrefF16(%dv2u) : (tensor<*xf16>) -> ()
  return
}
