//===- Chip.h - The chips that GPU kernels are generated for ---*- C++ -*-===//
//
// The one list of chips: the table in Chip.cpp gives each its name, the
// runtime's code and what the kernel generator asks of it. Everything in
// C++ that names a chip (options, messages, the plan table, flash-aot)
// reads it; python/flash_mlir/_spec.py's COMPILE_CHIPS mirrors its names
// (test/tools/flash-aot/chips.test checks that they agree).
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_CONVERSION_FLASHTOGPU_CHIP_H
#define FLASH_CONVERSION_FLASHTOGPU_CHIP_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::flash {

/// A chip that kernels are generated for, oldest first.
enum class Chip { SM80, SM86, SM89, SM90, SM90a };

/// One row of the chip table.
struct ChipInfo {
  Chip chip;
  /// The PTX target and ptxas -arch, e.g. "sm_90a"; the suffix of kernel
  /// symbols.
  StringLiteral name;
  /// The runtime's code (include/flash/Runtime/Runtime.h): major * 100 +
  /// minor * 10, plus 1 for an arch-specific "a" chip (sm_90a is 901).
  int runtimeCode;
  /// The most dynamic shared memory a CTA can opt in to.
  int64_t maxSharedMemoryBytes;
  /// Whether the chip has Hopper warpgroup MMAs (wgmma), which the plan
  /// table then chooses.
  bool warpgroupMMA;
  /// Whether flash-aot generates kernels for it without --chip (the
  /// default library).
  bool inDefaultLibrary;
};

/// The chip table, oldest first.
ArrayRef<ChipInfo> getChipTable();

/// The row of `chip`.
const ChipInfo &getChipInfo(Chip chip);

/// "sm_90a" -> Chip::SM90a; std::nullopt for a name not in the table.
std::optional<Chip> parseChip(StringRef name);

/// Chip::SM90a -> "sm_90a".
StringRef stringifyChip(Chip chip);

/// The names of the chips for which `filter` holds (every chip without
/// one), for messages and option help: "sm_80, sm_86, sm_89, sm_90, sm_90a".
std::string listChips(function_ref<bool(const ChipInfo &)> filter = nullptr);

/// "Target chip: one of sm_80, ...": the help of chip options, in storage
/// that lives as long as the program (llvm::cl::desc keeps a StringRef).
StringRef getChipOptionDescription();

/// The message for a name that is not a chip of the table: "chip must be
/// one of sm_80, ..., got 'sm_70'".
std::string describeChipError(StringRef name);

} // namespace mlir::flash

#endif // FLASH_CONVERSION_FLASHTOGPU_CHIP_H
