//===- Spec.cpp - Kernel specs, chips and symbols -------------------------===//

#include "Spec.h"
#include "Error.h"

#include <cstdio>
#include <cstring>

using namespace flashrt;

namespace {

struct KindInfo {
  int kind;
  const char *name;
  const char *symbolPrefix;
};

/// The kinds, as the compiler's kind table names them (KernelKind.cpp).
constexpr KindInfo kKinds[] = {
    {FLASHRT_KIND_FORWARD, "forward", "flash_fwd"},
    {FLASHRT_KIND_BACKWARD, "backward", "flash_bwd"},
    {FLASHRT_KIND_DECODE, "decode", "flash_dec"},
    {FLASHRT_KIND_COMBINE, "combine", "flash_combine"},
};

const KindInfo *findKind(int kind) {
  for (const KindInfo &info : kKinds)
    if (info.kind == kind)
      return &info;
  return nullptr;
}

/// The entry of `table` named `name`, or nullptr.
template <typename Entry, size_t N>
const Entry *findNamed(const Entry (&table)[N], std::string_view name) {
  for (const Entry &entry : table)
    if (name == entry.name)
      return &entry;
  return nullptr;
}

struct FeatureInfo {
  unsigned bit;
  const char *name;
};

/// The features, in manifest order (the compiler's KernelKind.cpp).
constexpr FeatureInfo kFeatures[] = {
    {FLASHRT_FEATURE_BLOCK_SPARSE, "block_sparse"},
    {FLASHRT_FEATURE_DROPOUT, "dropout"},
};

std::string hexBits(unsigned bits) {
  char text[16];
  std::snprintf(text, sizeof(text), "%x", bits);
  return text;
}

} // namespace

const char *flashrt::kindName(int kind) {
  const KindInfo *info = findKind(kind);
  return info ? info->name : nullptr;
}

bool flashrt::parseKind(std::string_view name, int &kind) {
  const KindInfo *info = findNamed(kKinds, name);
  if (info)
    kind = info->kind;
  return info != nullptr;
}

const char *flashrt::featureName(unsigned feature) {
  for (const FeatureInfo &info : kFeatures)
    if (info.bit == feature)
      return info.name;
  return nullptr;
}

bool flashrt::parseFeature(std::string_view name, unsigned &feature) {
  const FeatureInfo *info = findNamed(kFeatures, name);
  if (info)
    feature = info->bit;
  return info != nullptr;
}

std::string flashrt::listFeatureNames() {
  std::string list;
  for (const FeatureInfo &info : kFeatures)
    list += (list.empty() ? "\"" : ", \"") + std::string(info.name) + "\"";
  return list;
}

const char *flashrt::dtypeName(int dtype) {
  switch (dtype) {
  case FLASHRT_DTYPE_F16:
    return "f16";
  case FLASHRT_DTYPE_BF16:
    return "bf16";
  case FLASHRT_DTYPE_F32:
    return "f32";
  case FLASHRT_DTYPE_I32:
    return "i32";
  default:
    return nullptr;
  }
}

bool flashrt::parseDtype(std::string_view name, int &dtype) {
  for (int d : {FLASHRT_DTYPE_F16, FLASHRT_DTYPE_BF16, FLASHRT_DTYPE_F32}) {
    if (name == dtypeName(d)) {
      dtype = d;
      return true;
    }
  }
  return false;
}

const char *flashrt::maskName(int mask) {
  switch (mask) {
  case FLASHRT_MASK_NONE:
    return "none";
  case FLASHRT_MASK_CAUSAL:
    return "causal";
  case FLASHRT_MASK_CAUSAL_BOTTOM_RIGHT:
    return "causal_bottom_right";
  case FLASHRT_MASK_SLIDING_WINDOW:
    return "sliding_window";
  default:
    return nullptr;
  }
}

bool flashrt::parseMask(std::string_view name, int &mask) {
  for (int m : {FLASHRT_MASK_NONE, FLASHRT_MASK_CAUSAL,
                FLASHRT_MASK_CAUSAL_BOTTOM_RIGHT,
                FLASHRT_MASK_SLIDING_WINDOW}) {
    if (name == maskName(m)) {
      mask = m;
      return true;
    }
  }
  return false;
}

bool flashrt::isValidChip(int chip) {
  // sm_10 is the oldest chip there ever was; cap the number well above any
  // real one so that the encoding cannot overflow.
  return chip >= 100 && chip < 100000 && chip % 10 <= 1;
}

bool flashrt::parseChip(std::string_view name, int &chip) {
  if (name.substr(0, 3) != "sm_")
    return false;
  std::string_view rest = name.substr(3);
  int archSpecific = 0;
  if (!rest.empty() && rest.back() == 'a') {
    archSpecific = 1;
    rest.remove_suffix(1);
  }
  if (rest.empty() || rest.size() > 4 || rest.front() == '0')
    return false;
  int number = 0;
  for (char c : rest) {
    if (c < '0' || c > '9')
      return false;
    number = number * 10 + (c - '0');
  }
  chip = number * 10 + archSpecific;
  return isValidChip(chip);
}

std::string flashrt::chipName(int chip) {
  if (!isValidChip(chip))
    return "sm_?" + std::to_string(chip);
  return "sm_" + std::to_string(chip / 10) + (chip % 10 ? "a" : "");
}

bool flashrt::chipRuns(int deviceChip, int codeChip, bool isPtx) {
  if (!isValidChip(deviceChip) || !isValidChip(codeChip))
    return false;
  int device = deviceChip / 10, code = codeChip / 10;
  if (codeChip % 10) // arch-specific: that chip only
    return device == code;
  if (isPtx)
    return code <= device;
  return code / 10 == device / 10 && code <= device;
}

bool flashrt::isKernelHeadDim(int headDim) {
  // The generator pads other multiples of 8 to its tile widths internally.
  return headDim > 0 && headDim % 8 == 0 && headDim <= 256;
}

flashrt_status flashrt::checkSpec(const flashrt_spec &spec, bool allowAnyChip,
                                  const std::string &what) {
  if (!kindName(spec.kind))
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": kind " + std::to_string(spec.kind) +
                    " is not a flashrt_kernel_kind (0 forward, 1 backward, "
                    "2 decode, 3 combine)");
  if (!isKernelHeadDim(spec.head_dim))
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": head_dim " + std::to_string(spec.head_dim) +
                    " is not a positive multiple of 8 up to 256");
  if (spec.dtype != FLASHRT_DTYPE_F16 && spec.dtype != FLASHRT_DTYPE_BF16)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": dtype " + std::to_string(spec.dtype) +
                    " is not f16 (0) or bf16 (1)");
  if (!maskName(spec.mask))
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": mask " + std::to_string(spec.mask) +
                    " is not a flashrt_mask");
  if (unsigned unknown = spec.features & ~kKnownFeatures)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": features has unknown bits 0x" + hexBits(unknown) +
                    " (known: FLASHRT_FEATURE_BLOCK_SPARSE = 0x1, "
                    "FLASHRT_FEATURE_DROPOUT = 0x2)");
  if (allowAnyChip && spec.chip == FLASHRT_CHIP_ANY)
    return FLASHRT_SUCCESS;
  if (!isValidChip(spec.chip) || spec.chip < FLASHRT_CHIP_SM_80)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": chip " + std::to_string(spec.chip) +
                    " is not an sm_80 or newer chip (e.g. 800 for sm_80, "
                    "901 for sm_90a)");
  return FLASHRT_SUCCESS;
}

std::string flashrt::specSymbol(const flashrt_spec &spec) {
  std::string symbol = std::string(findKind(spec.kind)->symbolPrefix) + "_d" +
                       std::to_string(spec.head_dim) + "_" +
                       dtypeName(spec.dtype) + "_" + maskName(spec.mask);
  if (isBlockSparse(spec))
    symbol += "_sparse";
  if (hasDropout(spec))
    symbol += "_dropout";
  return symbol + "_" + chipName(spec.chip);
}

flashrt_status flashrt::checkKernelInfo(const flashrt_kernel_info &info) {
  std::string what = "kernel '" + std::string(info.name ? info.name : "") + "'";
  if (!info.name || !*info.name)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "kernel info has no name");
  FLASHRT_RETURN_IF_ERROR(checkSpec(info.spec, /*allowAnyChip=*/false, what));
  std::string symbol = specSymbol(info.spec);
  if (symbol != info.name)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": the name of its spec is '" + symbol + "'");
  struct Field {
    const char *name;
    int value;
  };
  for (Field field : {Field{"cta_q", info.cta_q}, Field{"cta_kv", info.cta_kv},
                      Field{"warps", info.warps}, Field{"stages", info.stages}})
    if (field.value <= 0)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  what + ": " + field.name + " must be positive, got " +
                      std::to_string(field.value));
  if (info.warps > 32 || info.threads != 32 * info.warps)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": threads must be 32 * warps (at most 1024), got " +
                    std::to_string(info.threads) + " for " +
                    std::to_string(info.warps) + " warps");
  if (info.smem_bytes < 0)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                what + ": smem_bytes must not be negative, got " +
                    std::to_string(info.smem_bytes));
  return FLASHRT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

namespace {
flashrt_status copyOut(const std::string &text, char *buf, size_t size) {
  if (!buf || size == 0)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "buffer is null or empty");
  size_t n = text.size() < size - 1 ? text.size() : size - 1;
  std::memcpy(buf, text.data(), n);
  buf[n] = '\0';
  if (n != text.size())
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "buffer of " + std::to_string(size) + " bytes cannot hold '" +
                    text + "'");
  return FLASHRT_SUCCESS;
}
} // namespace

extern "C" int flashrt_abi_version(void) { return FLASHRT_ABI_VERSION; }

extern "C" flashrt_status flashrt_chip_parse(const char *name, int *chip) {
  return guarded([&] {
    if (!name || !chip)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "name or chip is null");
    if (!parseChip(name, *chip))
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "'" + std::string(name) +
                      "' is not a chip name like sm_80 or sm_90a");
    return FLASHRT_SUCCESS;
  });
}

extern "C" flashrt_status flashrt_chip_name(int chip, char *buf, size_t size) {
  return guarded([&] {
    if (!isValidChip(chip))
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  std::to_string(chip) + " is not a chip");
    return copyOut(chipName(chip), buf, size);
  });
}

extern "C" int flashrt_chip_runs(int deviceChip, int codeChip, int isPtx) {
  return chipRuns(deviceChip, codeChip, isPtx != 0) ? 1 : 0;
}

extern "C" flashrt_status flashrt_spec_symbol(const flashrt_spec *spec,
                                              char *buf, size_t size) {
  return guarded([&] {
    if (!spec)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "spec is null");
    FLASHRT_RETURN_IF_ERROR(checkSpec(*spec, /*allowAnyChip=*/false, "spec"));
    return copyOut(specSymbol(*spec), buf, size);
  });
}

extern "C" flashrt_status
flashrt_kernel_info_check(const flashrt_kernel_info *info) {
  return guarded([&] {
    if (!info)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "kernel info is null");
    return checkKernelInfo(*info);
  });
}
