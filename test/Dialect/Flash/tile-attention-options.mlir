// flash-tile-attention range-checks its tile sizes (issue 25): the values
// print as numbers, and sizes past 2^20 are refused.
// RUN: not flash-opt %s --flash-tile-attention="tile-q=0 tile-kv=-3" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not flash-opt %s --flash-tile-attention="tile-q=4294967296" 2>&1 | FileCheck %s --check-prefix=HUGE
// RUN: flash-opt %s --flash-tile-attention="tile-q=1048576 tile-kv=1" | FileCheck %s --check-prefix=MAX

// ZERO: flash-tile-attention: tile-q must be in [1, 1048576], got 0
// HUGE: flash-tile-attention: tile-q must be in [1, 1048576], got 4294967296
// MAX-NOT: flash.attention

func.func @f(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %o = flash.attention %q, %q, %q
      : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
      -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}
