// RUN: flash-opt --help | FileCheck %s

// flash-opt registers the flash dialect and its passes.
// CHECK: Available Dialects: {{.*}}flash
// CHECK: --flash-decompose-attention {{.*}}Rewrite flash ops into linalg/tensor/arith/math
