//===- Spec.h - Kernel specs, chips and symbols -----------------*- C++ -*-===//
//
// The vocabulary of docs/kernel-abi.md: kind, feature, dtype, mask and chip
// names, the kernel symbol of a spec, and which chips run which code. The
// kind and feature names mirror the compiler's
// (include/flash/Conversion/FlashToGPU/KernelKind.h).
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_SPEC_H
#define FLASH_LIB_RUNTIME_SPEC_H

#include "flash/Runtime/Runtime.h"

#include <string>
#include <string_view>

namespace flashrt {

/// "forward", "backward", "decode", "combine", or nullptr for an unknown
/// value.
const char *kindName(int kind);
bool parseKind(std::string_view name, int &kind);

/// The FLASHRT_FEATURE_* bits that this runtime knows.
constexpr unsigned kKnownFeatures =
    FLASHRT_FEATURE_BLOCK_SPARSE | FLASHRT_FEATURE_DROPOUT;
/// The manifest name of one feature bit ("block_sparse"), or nullptr.
const char *featureName(unsigned feature);
/// Parses one feature name into its bit.
bool parseFeature(std::string_view name, unsigned &feature);
/// The known feature names, for messages: "\"block_sparse\"".
std::string listFeatureNames();

/// Whether `spec` has the block-sparse feature.
inline bool isBlockSparse(const flashrt_spec &spec) {
  return (spec.features & FLASHRT_FEATURE_BLOCK_SPARSE) != 0;
}

/// Whether `spec` has the dropout feature.
inline bool hasDropout(const flashrt_spec &spec) {
  return (spec.features & FLASHRT_FEATURE_DROPOUT) != 0;
}

/// "f16", "bf16", "f32", "i32", or nullptr for an unknown value.
const char *dtypeName(int dtype);
/// Parses the element types of kernel specs and tensors ("f16", "bf16",
/// "f32").
bool parseDtype(std::string_view name, int &dtype);

/// "none", "causal", ..., or nullptr for an unknown value.
const char *maskName(int mask);
bool parseMask(std::string_view name, int &mask);

/// Chips are encoded as N * 10 + a for "sm_N" / "sm_Na".
bool parseChip(std::string_view name, int &chip);
/// "sm_90a"; "sm_?<chip>" for a value that is no chip.
std::string chipName(int chip);
bool isValidChip(int chip);

/// Whether a device of `deviceChip` runs PTX (`isPtx`) or a cubin built for
/// `codeChip`. PTX runs on its chip and newer ones, a cubin only within its
/// major version; arch-specific ("a") code runs only on its own chip.
bool chipRuns(int deviceChip, int codeChip, bool isPtx);

/// Whether `headDim` is one the kernels are generated for.
bool isKernelHeadDim(int headDim);

/// Checks every field of `spec`; `allowAnyChip` admits FLASHRT_CHIP_ANY.
/// Messages start with `what` ("spec", "kernel 'x'").
flashrt_status checkSpec(const flashrt_spec &spec, bool allowAnyChip,
                         const std::string &what);

/// {prefix}_d{D}_{dtype}_{mask}[_sparse]_{chip}, for a checked spec; the
/// prefix is the kind's (flash_fwd for forward kernels).
std::string specSymbol(const flashrt_spec &spec);

/// The backward's preprocessing and dQ kernels: query rows per CTA and
/// threads per CTA. The runtime's copy of BackwardKernel.h's
/// kBackwardRowsPerCta and kBackwardRowThreads; manifests carry them as
/// row_kernels, which the reader checks against these.
constexpr int kBackwardRowsPerCta = 16;
constexpr int kBackwardRowThreads = 128;

/// Checks a whole kernel info (see flashrt_kernel_info_check).
flashrt_status checkKernelInfo(const flashrt_kernel_info &info);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_SPEC_H
