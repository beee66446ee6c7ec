// The named pipelines reject what they cannot run with a diagnostic (issue
// 25): an anchor other than builtin.module, tile sizes out of range, an
// unknown chip, and features that would break the textual sub-pipeline.
// RUN: not flash-opt %s --pass-pipeline='builtin.module(func.func(flash-to-cpu))' 2>&1 | FileCheck %s --check-prefix=CPU-NESTED
// RUN: not flash-opt %s --pass-pipeline='builtin.module(func.func(flash-to-ptx))' 2>&1 | FileCheck %s --check-prefix=PTX-NESTED
// RUN: not flash-opt %s --flash-to-cpu="tile-q=0" 2>&1 | FileCheck %s --check-prefix=CPU-ZERO
// RUN: not flash-opt %s --flash-to-cpu="tile-kv=4294967296" 2>&1 | FileCheck %s --check-prefix=CPU-HUGE
// RUN: not flash-opt %s --flash-to-ptx="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=PTX-CHIP
// RUN: not flash-opt %s --flash-to-ptx="features=a}b" 2>&1 | FileCheck %s --check-prefix=PTX-FEATURES

// CPU-NESTED: flash-to-cpu runs on 'builtin.module', not on 'func.func'
// PTX-NESTED: flash-to-ptx runs on 'builtin.module', not on 'func.func'
// CPU-ZERO: flash-to-cpu: tile-q must be in [1, 1048576], got 0
// CPU-HUGE: flash-to-cpu: tile-kv must be in [1, 1048576], got 4294967296
// PTX-CHIP: flash-to-ptx: chip must be one of sm_80, {{.*}}, got 'sm_70'
// PTX-FEATURES: flash-to-ptx: features must be a nonempty list of letters, digits and '+-_.,', got 'a}b'

func.func @f(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %o = flash.attention %q, %q, %q
      : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
      -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}
