//===- Chip.cpp - The chip table ------------------------------------------===//

#include "flash/Conversion/FlashToGPU/Chip.h"

#include "llvm/ADT/Twine.h"

#include <iterator>

using namespace mlir;
using namespace mlir::flash;

/// The chip table: one row per Chip, in the enum's order. Shared memory: the
/// opt-in maximum per CTA of the CUDA programming guide.
static constexpr ChipInfo kChips[] = {
    // chip       name      code  shared memory  wgmma  default library
    {Chip::SM80, "sm_80", 800, 163 * 1024, false, true},
    {Chip::SM86, "sm_86", 860, 99 * 1024, false, false},
    {Chip::SM89, "sm_89", 890, 99 * 1024, false, false},
    {Chip::SM90, "sm_90", 900, 227 * 1024, false, false},
    {Chip::SM90a, "sm_90a", 901, 227 * 1024, true, true},
};

static constexpr bool isInEnumOrder() {
  for (size_t i = 0; i < std::size(kChips); ++i)
    if (static_cast<size_t>(kChips[i].chip) != i)
      return false;
  return true;
}
static_assert(isInEnumOrder(), "the chip table lists the chips in the "
                               "enum's order");

ArrayRef<ChipInfo> mlir::flash::getChipTable() { return kChips; }

const ChipInfo &mlir::flash::getChipInfo(Chip chip) {
  return kChips[static_cast<size_t>(chip)];
}

std::optional<Chip> mlir::flash::parseChip(StringRef name) {
  for (const ChipInfo &info : kChips)
    if (info.name == name)
      return info.chip;
  return std::nullopt;
}

StringRef mlir::flash::stringifyChip(Chip chip) {
  return getChipInfo(chip).name;
}

std::string
mlir::flash::listChips(function_ref<bool(const ChipInfo &)> filter) {
  std::string list;
  for (const ChipInfo &info : kChips) {
    if (filter && !filter(info))
      continue;
    if (!list.empty())
      list += ", ";
    list += info.name;
  }
  return list;
}

std::string mlir::flash::describeChipError(StringRef name) {
  return (Twine("chip must be one of ") + listChips() + ", got '" + name + "'")
      .str();
}

StringRef mlir::flash::getChipOptionDescription() {
  static const std::string description = "Target chip: one of " + listChips();
  return description;
}
