// RUN: flash-opt %s -split-input-file -verify-diagnostics

//===-- ODS type constraints --===//
func.func @query_i32(%q: tensor<2x4x8x16xi32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float values, but got 'tensor<2x4x8x16xi32>'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xi32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @key_unranked(%q: tensor<2x4x8x16xf32>, %k: tensor<*xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float values, but got 'tensor<*xf32>'}}
  %o = "flash.attention"(%q, %k, %v) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0>}>
      : (tensor<2x4x8x16xf32>, tensor<*xf32>, tensor<2x2x8x16xf32>) -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @mask_i32(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<2x4x8x8xi32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 1-bit signless integer values, but got 'tensor<2x4x8x8xi32>'}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<2x4x8x8xi32>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @lse_f16(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{result #1 must be ranked tensor of 32-bit float values, but got 'tensor<2x4x8xf16>'}}
  %o, %lse = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8xf16>
  return
}

// -----

func.func @num_blocks_i64(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi64>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 32-bit signless integer values, but got 'tensor<2x4x1xi64>'}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi64>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

//===-- query, key and value --===//
func.func @query_rank(%q: tensor<4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{query must be rank 4 [batch, heads, length, head_dim], got 'tensor<4x8x16xf32>'}}
  %o = flash.attention %q, %k, %v : tensor<4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @key_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16x1xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{key must be rank 4 [batch, heads, length, head_dim], got 'tensor<2x2x8x16x1xf32>'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16x1xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @value_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x8x16xf32>) {
  // expected-error @+1 {{value must be rank 4 [batch, heads, length, head_dim], got 'tensor<2x8x16xf32>'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @key_elt(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf16>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{key and value element types must match the query's ('f32'), got 'f16' and 'f32'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf16>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @value_elt(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xbf16>) {
  // expected-error @+1 {{key and value element types must match the query's ('f32'), got 'f32' and 'bf16'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xbf16> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @key_batch(%q: tensor<2x4x8x16xf32>, %k: tensor<3x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{key dimension 0 is 3, expected 2 (the query's batch)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<3x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @value_batch(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{value dimension 0 is 1, expected 2 (the query's batch)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @value_heads(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x4x8x16xf32>) {
  // expected-error @+1 {{value dimension 1 is 4, expected 2 (the key's heads)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @value_length(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x9x16xf32>) {
  // expected-error @+1 {{value dimension 2 is 9, expected 8 (the key's length)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x9x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @key_head_dim(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x32xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{key dimension 3 is 32, expected 16 (the query's head_dim)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x32xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @zero_kv_heads(%q: tensor<2x4x8x16xf32>, %k: tensor<2x0x8x16xf32>, %v: tensor<2x0x8x16xf32>) {
  // expected-error @+1 {{key must have at least one head}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x0x8x16xf32>, tensor<2x0x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @gqa_divisibility(%q: tensor<2x4x8x16xf32>, %k: tensor<2x3x8x16xf32>, %v: tensor<2x3x8x16xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3) for grouped-query attention}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

//===-- scale, softcap, mask_kind and window --===//
func.func @scale_zero(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{scale must be finite and non-zero}}
  %o = flash.attention %q, %k, %v {scale = 0.0 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @scale_inf(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{scale must be finite and non-zero}}
  %o = flash.attention %q, %k, %v {scale = 0x7F800000 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @dynamic_head_dim_needs_scale(%q: tensor<2x4x8x?xf32>, %k: tensor<2x2x8x?xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{requires an explicit scale when head_dim is dynamic}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x?xf32>, tensor<2x2x8x?xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @zero_head_dim_needs_scale(%q: tensor<2x4x8x0xf32>, %k: tensor<2x2x8x0xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{requires an explicit scale when head_dim is 0 (the default 1/sqrt(head_dim) is infinite)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x0xf32>, tensor<2x2x8x0xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @softcap_negative(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{softcap must be finite and positive}}
  %o = flash.attention %q, %k, %v {softcap = -5.0 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @softcap_zero(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{softcap must be finite and positive}}
  %o = flash.attention %q, %k, %v {softcap = 0.0 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @sliding_window_without_window(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{mask_kind sliding_window requires window = array<i64: left, right>}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<sliding_window>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @window_without_sliding_window(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{window is only allowed with mask_kind sliding_window}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>, window = array<i64: 4, 0>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @window_three_entries(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{window must hold two non-negative extents [left, right]}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<sliding_window>, window = array<i64: 4, 0, 1>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @window_negative(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{window must hold two non-negative extents [left, right]}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<sliding_window>, window = array<i64: -1, 2>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

//===-- mask operand --===//
func.func @mask_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<8x8xf32>) {
  // expected-error @+1 {{mask must be rank 4, broadcastable to [batch, query heads, query length, key length], got 'tensor<8x8xf32>'}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<8x8xf32>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @mask_batch(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<3x4x8x8xi1>) {
  // expected-error @+1 {{mask dimension 0 is 3, expected 1 or 2 (the batch)}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<3x4x8x8xi1>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @mask_heads(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<2x2x8x8xf32>) {
  // expected-error @+1 {{mask dimension 1 is 2, expected 1 or 4 (the query heads)}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<2x2x8x8xf32>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @mask_query_length(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<1x1x4x8xf16>) {
  // expected-error @+1 {{mask dimension 2 is 4, expected 1 or 8 (the query length)}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x1x4x8xf16>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @mask_key_length(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %m: tensor<1x1x8x16xi1>) {
  // expected-error @+1 {{mask dimension 3 is 16, expected 1 or 8 (the key length)}}
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x1x8x16xi1>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @counts_without_indices(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>) {
  // expected-error @+1 {{block-sparse counts and indices must be given together}}
  %o = "flash.attention"(%q, %k, %v, %n) <{block_sizes = array<i64: 8, 8>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0>}>
      : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x1xi32>) -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @full_counts_without_full_indices(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>, %fn: tensor<2x4x1xi32>) {
  // expected-error @+1 {{block-sparse counts and indices must be given together}}
  %o = "flash.attention"(%q, %k, %v, %n, %i, %fn) <{block_sizes = array<i64: 8, 8>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 1, 1, 0>}>
      : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x1xi32>, tensor<2x4x1x1xi32>, tensor<2x4x1xi32>) -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @full_without_partial(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %fn: tensor<2x4x1xi32>, %fi: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{full_kv_num_blocks requires kv_num_blocks and kv_indices}}
  %o = "flash.attention"(%q, %k, %v, %fn, %fi) <{block_sizes = array<i64: 8, 8>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 1, 1>}>
      : (tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) -> tensor<2x4x8x16xf32>
  return
}

// -----

//===-- block-sparse layout --===//
func.func @layout_without_block_sizes(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{block_sizes = array<i64: block_q, block_kv> must be given exactly when a block-sparse layout is}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @block_sizes_without_layout(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{block_sizes = array<i64: block_q, block_kv> must be given exactly when a block-sparse layout is}}
  %o = flash.attention %q, %k, %v {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @block_sizes_one_entry(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{block_sizes must hold two positive tile sizes [block_q, block_kv]}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @block_sizes_zero(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{block_sizes must hold two positive tile sizes [block_q, block_kv]}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 8, 0>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @counts_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4xi32>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{kv_num_blocks must be rank 3 [batch or 1, query heads or 1, query tiles], got 'tensor<2x4xi32>'}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4xi32>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @indices_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1xi32>) {
  // expected-error @+1 {{kv_indices must be rank 4 [batch or 1, query heads or 1, query tiles, max key tiles], got 'tensor<2x4x1xi32>'}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @counts_batch(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<3x4x1xi32>, %i: tensor<3x4x1x1xi32>) {
  // expected-error @+1 {{kv_num_blocks dimension 0 is 3, expected 2 (the batch)}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<3x4x1xi32>, tensor<3x4x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @counts_heads(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x2x1xi32>, %i: tensor<2x2x1x1xi32>) {
  // expected-error @+1 {{kv_num_blocks dimension 1 is 2, expected 4 (the query heads, or 1)}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x2x1xi32>, tensor<2x2x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @counts_query_tiles(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{kv_num_blocks dimension 2 is 1, expected 2 (ceil(query length / block_q))}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 4, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @indices_vs_counts(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<1x1x1xi32>, %i: tensor<1x4x1x1xi32>) {
  // expected-error @+1 {{kv_indices dimension 1 is 4, expected 1 (dimension 1 of kv_num_blocks)}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x4x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @indices_empty(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x0xi32>) {
  // expected-error @+1 {{kv_indices must have a non-empty last dimension}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x0xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @full_counts_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>, %fn: tensor<1xi32>, %fi: tensor<2x4x1x1xi32>) {
  // expected-error @+1 {{full_kv_num_blocks must be rank 3 [batch or 1, query heads or 1, query tiles], got 'tensor<1xi32>'}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) full(%fn, %fi : tensor<1xi32>, tensor<2x4x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @full_indices_vs_counts(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>, %fn: tensor<2x4x1xi32>, %fi: tensor<2x4x2x1xi32>) {
  // expected-error @+1 {{full_kv_indices dimension 2 is 2, expected 1 (dimension 2 of full_kv_num_blocks)}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) full(%fn, %fi : tensor<2x4x1xi32>, tensor<2x4x2x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @full_counts_type(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %n: tensor<2x4x1xi32>, %i: tensor<2x4x1x1xi32>, %fn: tensor<1x1x1xi32>, %fi: tensor<1x1x1x1xi32>) {
  // expected-error @+1 {{full_kv_num_blocks must have the type of kv_num_blocks ('tensor<2x4x1xi32>'), got 'tensor<1x1x1xi32>'}}
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<2x4x1xi32>, tensor<2x4x1x1xi32>) full(%fn, %fi : tensor<1x1x1xi32>, tensor<1x1x1x1xi32>) {block_sizes = array<i64: 8, 8>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

//===-- results --===//
func.func @output_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{output must be rank 4 [batch, query heads, query length, value dim], got 'tensor<2x4x8xf32>'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @output_heads(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{output dimension 1 is 2, expected 4 (its query heads)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x2x8x16xf32>
  return
}

// -----

func.func @output_value_dim(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x32xf32>) {
  // expected-error @+1 {{output dimension 3 is 16, expected 32 (its value dim)}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x32xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @output_elt(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{output element type must be 'f32', got 'f16'}}
  %o = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf16>
  return
}

// -----

func.func @lse_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{lse must be rank 3 [batch, query heads, query length], got 'tensor<2x4x8x1xf32>'}}
  %o, %lse = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8x1xf32>
  return
}

// -----

func.func @lse_length(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{lse dimension 2 is 4, expected 8 (its query length)}}
  %o, %lse = flash.attention %q, %k, %v : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x4xf32>
  return
}

// -----

//===-- flash.attention_grad --===//
func.func @grad_lse_f16(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf16>) {
  // expected-error @+1 {{operand #5 must be ranked tensor of 32-bit float values}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf16> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_output_shape(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x4x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{output dimension 2 is 4, expected 8 (its query length)}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_output_elt(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xbf16>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{output element type must be 'f32', got 'bf16'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xbf16>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_grad_output_shape(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<1x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{grad_output dimension 0 is 1, expected 2 (its batch)}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_grad_output_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{grad_output must be rank 4 [batch, query heads, query length, value dim], got 'tensor<4x8x16xf32>'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_lse_shape(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x2x8xf32>) {
  // expected-error @+1 {{lse dimension 1 is 2, expected 4 (its query heads)}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x2x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_lse_rank(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8x16xf32>) {
  // expected-error @+1 {{lse must be rank 3 [batch, query heads, query length], got 'tensor<2x4x8x16xf32>'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_query_type(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{grad_query must have the type of query ('tensor<2x4x8x16xf32>'), got 'tensor<2x4x8x16xf16>'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf16>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_key_type(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{grad_key must have the type of key ('tensor<2x2x8x16xf32>'), got 'tensor<2x4x8x16xf32>'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_value_type(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{grad_value must have the type of value ('tensor<2x2x8x16xf32>'), got 'tensor<2x2x?x16xf32>'}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x?x16xf32>
  return
}

// -----

func.func @grad_gqa(%q: tensor<2x4x8x16xf32>, %k: tensor<2x3x8x16xf32>, %v: tensor<2x3x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3) for grouped-query attention}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32>
  return
}

// -----

func.func @grad_window(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>) {
  // expected-error @+1 {{mask_kind sliding_window requires window = array<i64: left, right>}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse {mask_kind = #flash.mask<sliding_window>}
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_mask(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>, %m: tensor<1x1x2x8xi1>) {
  // expected-error @+1 {{mask dimension 2 is 2, expected 1 or 8 (the query length)}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse mask(%m : tensor<1x1x2x8xi1>) 
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

func.func @grad_layout(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>, %o: tensor<2x4x8x16xf32>, %do: tensor<2x4x8x16xf32>, %lse: tensor<2x4x8xf32>, %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x1xi32>) {
  // expected-error @+1 {{kv_num_blocks dimension 2 is 1, expected 2 (ceil(query length / block_q))}}
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x1xi32>) {block_sizes = array<i64: 4, 4>}
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32> -> tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
  return
}

// -----

//===-- flash.block_sparse_layout --===//
func.func @layout_mask_i8(%t: tensor<1x2x4x4xi8>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 1-bit signless integer values}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi8> -> tensor<1x2x4xi32>, tensor<1x2x4x4xi32>
  return
}

// -----

func.func @layout_indices_i64(%t: tensor<1x2x4x4xi1>) {
  // expected-error @+1 {{result #1 must be ranked tensor of 32-bit signless integer values}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi1> -> tensor<1x2x4xi32>, tensor<1x2x4x4xi64>
  return
}

// -----

func.func @layout_mask_rank(%t: tensor<4x4xi1>) {
  // expected-error @+1 {{tile_mask must be rank 4 [batch, heads, query tiles, key tiles], got 'tensor<4x4xi1>'}}
  %n, %i = flash.block_sparse_layout %t : tensor<4x4xi1> -> tensor<1x2x4xi32>, tensor<1x2x4x4xi32>
  return
}

// -----

func.func @layout_indices_rank(%t: tensor<1x2x4x4xi1>) {
  // expected-error @+1 {{indices must be rank 4 [batch, heads, query tiles, key tiles], got 'tensor<1x2x4xi32>'}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi1> -> tensor<1x2x4xi32>, tensor<1x2x4xi32>
  return
}

// -----

func.func @layout_indices_shape(%t: tensor<1x2x4x4xi1>) {
  // expected-error @+1 {{indices dimension 3 is 2, expected 4 (its key tiles)}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi1> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return
}

// -----

func.func @layout_counts_rank(%t: tensor<1x2x4x4xi1>) {
  // expected-error @+1 {{num_blocks must be rank 3 [batch, heads, query tiles], got 'tensor<1x2x4x4xi32>'}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi1> -> tensor<1x2x4x4xi32>, tensor<1x2x4x4xi32>
  return
}

// -----

func.func @layout_counts_shape(%t: tensor<1x2x4x4xi1>) {
  // expected-error @+1 {{num_blocks dimension 1 is 1, expected 2 (its heads)}}
  %n, %i = flash.block_sparse_layout %t : tensor<1x2x4x4xi1> -> tensor<1x1x4xi32>, tensor<1x2x4x4xi32>
  return
}

// -----

//===-- attribute syntax --===//
func.func @unknown_mask_kind(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+2 {{expected ::mlir::flash::MaskKind to be one of: none, causal, causal_bottom_right, sliding_window}}
  // expected-error @+1 {{failed to parse Flash_MaskKindAttr parameter 'value'}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<diagonal>} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @masked_score_infinite(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{masked_score must be finite (omit it for -inf)}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>, masked_score = 0xFF800000 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @masked_score_nan(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<2x2x8x16xf32>) {
  // expected-error @+1 {{masked_score must be finite (omit it for -inf)}}
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>, masked_score = 0x7FC00000 : f32} : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

// expected-error @+1 {{'flash.kernel_plan' must be a #flash.kernel_plan, got 128 : i64}}
func.func @kernel_plan_not_a_plan() attributes {flash.kernel_plan = 128} {
  return
}
