//===- KernelKind.h - What a kernel computes, with what ---------*- C++ -*-===//
//
// A kernel spec (KernelPlan.h) has a kind, the computation (forward,
// backward, decode, split-KV combine), and features, the options of that
// computation (block-sparse, ...). Their names are those of manifests
// (spec.kind, spec.features; docs/kernel-abi.md) and of kernel symbols
// (flash_fwd_..., _sparse); the runtime mirrors them as flashrt_kernel_kind
// and FLASHRT_FEATURE_* (include/flash/Runtime/Runtime.h).
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_KERNELKIND_H
#define FLASH_CONVERSION_FLASHTOGPU_KERNELKIND_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::flash {

/// The computation of a kernel, in the runtime's order
/// (flashrt_kernel_kind). Forward and Backward kernels are generated;
/// Decode and Combine not yet.
enum class KernelKind { Forward, Backward, Decode, Combine };

/// "forward", "backward", "decode", "combine": the manifest's spec.kind.
StringRef stringifyKernelKind(KernelKind kind);

/// The inverse of stringifyKernelKind; std::nullopt for another name.
std::optional<KernelKind> parseKernelKind(StringRef name);

/// The prefix of the kind's kernel symbols: "flash_fwd", "flash_bwd",
/// "flash_dec", "flash_combine".
StringRef getKernelSymbolPrefix(KernelKind kind);

/// "kind must be one of forward, backward, decode, combine, got 'x'".
std::string describeKernelKindError(StringRef name);

/// The features of a kernel: options of its kind that change what it takes
/// or computes. Each has a name in manifests (spec.features).
struct KernelFeatures {
  /// The kernel visits only the live tiles of a block-sparse layout, which
  /// it takes after the dense parameters (KernelABI.h); its symbol ends in
  /// _sparse before the chip. Name: "block_sparse".
  bool blockSparse = false;
  /// Attention dropout: the kernel drops probabilities by a counter-based
  /// Philox stream from a seed and offset (Dropout.h), which the backward
  /// regenerates; it takes the dropout parameters last (KernelABI.h); its
  /// symbol ends in _dropout before the chip. Name: "dropout".
  bool dropout = false;

  bool operator==(const KernelFeatures &other) const {
    return blockSparse == other.blockSparse && dropout == other.dropout;
  }
  bool operator!=(const KernelFeatures &other) const {
    return !(*this == other);
  }

  /// The names of the features that are set, in the table's order.
  SmallVector<StringRef> getNames() const;
};

/// The features named in `names`; an error names every unknown one and
/// lists the known names.
llvm::Expected<KernelFeatures> parseKernelFeatures(ArrayRef<StringRef> names);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_KERNELKIND_H
