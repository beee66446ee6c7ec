//===- Manifest.cpp - Read manifest.json ----------------------------------===//
//
// The format is in docs/kernel-abi.md. Unknown members are ignored so that
// newer writers stay readable; every known member is checked, and errors
// name the member by its path, e.g. "kernels[2].spec.head_dim". Version 2
// is what flash-aot writes; version 1 (no kind, spec.block_sparse for the
// features, config.block_q and block_kv for cta_q and cta_kv) is read as
// the forward kernels it describes.
//
//===----------------------------------------------------------------------===//

#include "Error.h"
#include "Json.h"
#include "Library.h"
#include "Spec.h"

#include <climits>
#include <iterator>
#include <vector>

using namespace flashrt;

namespace {

/// The parameters of the forward kernels (docs/kernel-abi.md): the dense
/// kernels' eight, then the six that block-sparse kernels add.
const char *const kParams[] = {
    "memref4:q",          "memref4:k",
    "memref4:v",          "memref4:o",
    "memref3:lse",        "f32:scale_log2",
    "i64:window_left",    "i64:window_right",
    "memref3:kv_num_blocks", "memref4:kv_indices",
    "memref3:full_kv_num_blocks", "memref4:full_kv_indices",
    "i64:layout_block_q", "i64:layout_block_kv"};
constexpr size_t kNumDenseParams = 8;
constexpr size_t kNumSparseParams = sizeof(kParams) / sizeof(*kParams);

/// The parameters of the backward kernels, which all three take.
const char *const kBackwardParams[] = {
    "memref4:q",        "memref4:k",       "memref4:v",
    "memref4:o",        "memref4:do",      "memref3:lse",
    "memref3:dlse",     "memref3:delta",   "memref4:dq_accum",
    "memref4:dq",       "memref4:dk",      "memref4:dv",
    "f32:scale_log2",   "i64:window_left", "i64:window_right",
    "i64:dq_semaphores"};
/// The parameters that kernels with dropout take after all others.
const char *const kDropoutParams[] = {"i64:dropout_seed", "i64:dropout_offset",
                                      "i64:dropout_keep"};

/// The manifest versions this runtime reads.
constexpr int kOldestVersion = 1;
constexpr int kNewestVersion = 2;

class ManifestReader {
public:
  ManifestReader(const std::string &source, const std::string &dir)
      : source(source), dir(dir) {}

  flashrt_status read(const JsonValue &root, std::vector<LibraryKernel> &out) {
    if (root.kind != JsonValue::Kind::Object)
      return wrongKind("the top level", root, "an object");
    FLASHRT_RETURN_IF_ERROR(getInt(root, "", "version", version));
    if (version < kOldestVersion || version > kNewestVersion)
      return error("version: expected " + std::to_string(kOldestVersion) +
                   " or " + std::to_string(kNewestVersion) +
                   " (the versions this runtime reads), got " +
                   std::to_string(version));
    const JsonValue *kernels = root.get("kernels");
    if (!kernels)
      return error("missing member 'kernels'");
    if (kernels->kind != JsonValue::Kind::Array)
      return wrongKind("kernels", *kernels, "an array");
    for (size_t i = 0, e = kernels->elements.size(); i != e; ++i) {
      std::string path = "kernels[" + std::to_string(i) + "]";
      LibraryKernel kernel;
      FLASHRT_RETURN_IF_ERROR(readKernel(kernels->elements[i], path, kernel));
      for (const LibraryKernel &other : out)
        if (other.name == kernel.name)
          return error(path + ".name: duplicate kernel '" + kernel.name + "'");
      out.push_back(std::move(kernel));
    }
    return FLASHRT_SUCCESS;
  }

private:
  const std::string &source;
  const std::string &dir;
  int version = kNewestVersion;

  flashrt_status error(const std::string &what) {
    return fail(FLASHRT_ERROR_MANIFEST, source + ": " + what);
  }

  flashrt_status wrongKind(const std::string &path, const JsonValue &value,
                           const char *expected) {
    return error(path + ": expected " + expected + ", got " +
                 value.kindName());
  }

  static std::string join(const std::string &path, const char *key) {
    return path.empty() ? key : path + "." + key;
  }

  flashrt_status getMember(const JsonValue &object, const std::string &path,
                           const char *key, JsonValue::Kind kind,
                           const char *kindName, const JsonValue *&out) {
    out = object.get(key);
    if (!out)
      return error((path.empty() ? "" : path + ": ") + "missing member '" +
                   key + "'");
    if (out->kind != kind)
      return wrongKind(join(path, key), *out, kindName);
    return FLASHRT_SUCCESS;
  }

  flashrt_status getInt(const JsonValue &object, const std::string &path,
                        const char *key, int &out) {
    const JsonValue *value;
    FLASHRT_RETURN_IF_ERROR(getMember(object, path, key,
                                      JsonValue::Kind::Number, "an integer",
                                      value));
    if (!value->isInteger || value->integer < INT_MIN ||
        value->integer > INT_MAX)
      return error(join(path, key) + ": expected an integer, got " +
                   (value->isInteger ? "one out of range" : "a fraction"));
    out = static_cast<int>(value->integer);
    return FLASHRT_SUCCESS;
  }

  flashrt_status getString(const JsonValue &object, const std::string &path,
                           const char *key, std::string &out) {
    const JsonValue *value;
    FLASHRT_RETURN_IF_ERROR(getMember(object, path, key,
                                      JsonValue::Kind::String, "a string",
                                      value));
    out = value->string;
    return FLASHRT_SUCCESS;
  }

  /// Member `key` of `object`: a string that `parse` accepts, else an error
  /// naming the member, the `expected` values and the one given.
  template <typename Parse>
  flashrt_status getName(const JsonValue &object, const std::string &path,
                         const char *key, const char *expected, Parse parse) {
    std::string text;
    FLASHRT_RETURN_IF_ERROR(getString(object, path, key, text));
    if (!parse(text))
      return error(join(path, key) + ": expected " + expected + ", got \"" +
                   text + "\"");
    return FLASHRT_SUCCESS;
  }

  /// spec.kind (version 2; version 1 describes forward kernels only).
  flashrt_status readKind(const JsonValue &object, const std::string &path,
                          flashrt_spec &spec) {
    spec.kind = FLASHRT_KIND_FORWARD;
    if (version == 1)
      return FLASHRT_SUCCESS;
    return getName(object, path, "kind",
                   "\"forward\", \"backward\", \"decode\" or \"combine\"",
                   [&](const std::string &text) {
                     return parseKind(text, spec.kind);
                   });
  }

  /// spec.features, an array of names (version 2), or spec.block_sparse, a
  /// boolean (version 1).
  flashrt_status readFeatures(const JsonValue &object, const std::string &path,
                              flashrt_spec &spec) {
    const JsonValue *value;
    spec.features = 0;
    if (version == 1) {
      FLASHRT_RETURN_IF_ERROR(getMember(object, path, "block_sparse",
                                        JsonValue::Kind::Bool, "a boolean",
                                        value));
      spec.features = value->boolean ? FLASHRT_FEATURE_BLOCK_SPARSE : 0;
      return FLASHRT_SUCCESS;
    }
    FLASHRT_RETURN_IF_ERROR(getMember(
        object, path, "features", JsonValue::Kind::Array, "an array", value));
    for (size_t i = 0, e = value->elements.size(); i != e; ++i) {
      const JsonValue &name = value->elements[i];
      std::string where = path + ".features[" + std::to_string(i) + "]";
      if (name.kind != JsonValue::Kind::String)
        return wrongKind(where, name, "a string");
      unsigned feature;
      if (!parseFeature(name.string, feature))
        return error(where + ": unknown feature \"" + name.string +
                     "\", expected one of " + listFeatureNames());
      if (spec.features & feature)
        return error(where + ": feature \"" + name.string +
                     "\" is listed twice");
      spec.features |= feature;
    }
    return FLASHRT_SUCCESS;
  }

  flashrt_status readSpec(const JsonValue &kernel, const std::string &kpath,
                          flashrt_spec &spec) {
    const JsonValue *object;
    std::string path = kpath + ".spec";
    FLASHRT_RETURN_IF_ERROR(getMember(kernel, kpath, "spec",
                                      JsonValue::Kind::Object, "an object",
                                      object));
    FLASHRT_RETURN_IF_ERROR(readKind(*object, path, spec));
    FLASHRT_RETURN_IF_ERROR(getInt(*object, path, "head_dim", spec.head_dim));
    if (!isKernelHeadDim(spec.head_dim))
      return error(path + ".head_dim: expected a positive multiple of 8 up to 256, "
                          "got " +
                   std::to_string(spec.head_dim));
    FLASHRT_RETURN_IF_ERROR(getName(
        *object, path, "dtype", "\"f16\" or \"bf16\"",
        [&](const std::string &text) {
          return parseDtype(text, spec.dtype) &&
                 spec.dtype != FLASHRT_DTYPE_F32;
        }));
    FLASHRT_RETURN_IF_ERROR(getName(
        *object, path, "mask",
        "\"none\", \"causal\", \"causal_bottom_right\" or "
        "\"sliding_window\"",
        [&](const std::string &text) { return parseMask(text, spec.mask); }));
    FLASHRT_RETURN_IF_ERROR(readFeatures(*object, path, spec));
    return getName(*object, path, "chip", "sm_80 or newer (e.g. \"sm_90a\")",
                   [&](const std::string &text) {
                     return parseChip(text, spec.chip) &&
                            spec.chip >= FLASHRT_CHIP_SM_80;
                   });
  }

  flashrt_status readConfig(const JsonValue &kernel, const std::string &kpath,
                            flashrt_kernel_info &info) {
    const JsonValue *object;
    std::string path = kpath + ".config";
    FLASHRT_RETURN_IF_ERROR(getMember(kernel, kpath, "config",
                                      JsonValue::Kind::Object, "an object",
                                      object));
    struct Field {
      const char *key;
      int *slot;
    };
    // Version 1 named the CTA's tile as the layout names its blocks.
    bool v1 = version == 1;
    for (Field field :
         {Field{v1 ? "block_q" : "cta_q", &info.cta_q},
          Field{v1 ? "block_kv" : "cta_kv", &info.cta_kv},
          Field{"warps", &info.warps}, Field{"stages", &info.stages}}) {
      FLASHRT_RETURN_IF_ERROR(getInt(*object, path, field.key, *field.slot));
      if (*field.slot <= 0)
        return error(join(path, field.key) + ": expected a positive integer, "
                                             "got " +
                     std::to_string(*field.slot));
    }
    return FLASHRT_SUCCESS;
  }

  flashrt_status readParams(const JsonValue &kernel, const std::string &kpath,
                            const flashrt_spec &spec) {
    const JsonValue *params = kernel.get("params");
    // No list: the ABI's is implied. The parameters of the kinds this
    // runtime does not launch are not its to check.
    bool backward = spec.kind == FLASHRT_KIND_BACKWARD;
    if (!params || (spec.kind != FLASHRT_KIND_FORWARD && !backward))
      return FLASHRT_SUCCESS;
    bool sparse = isBlockSparse(spec);
    std::string path = kpath + ".params";
    if (params->kind != JsonValue::Kind::Array)
      return wrongKind(path, *params, "an array");
    std::vector<const char *> names;
    if (backward)
      names.assign(std::begin(kBackwardParams), std::end(kBackwardParams));
    else
      names.assign(kParams, kParams + (sparse ? kNumSparseParams
                                              : kNumDenseParams));
    bool dropout = hasDropout(spec);
    if (dropout)
      names.insert(names.end(), std::begin(kDropoutParams),
                   std::end(kDropoutParams));
    size_t count = params->elements.size();
    if (count != names.size())
      return error(path + ": expected " + std::to_string(names.size()) +
                   " entries for a " +
                   (backward ? "backward"
                    : sparse ? "block-sparse"
                             : "dense") +
                   (dropout ? " kernel with dropout" : " kernel") +
                   ", got " + std::to_string(count));
    for (size_t i = 0; i != count; ++i) {
      const JsonValue &param = params->elements[i];
      std::string where = path + "[" + std::to_string(i) + "]";
      if (param.kind != JsonValue::Kind::String)
        return wrongKind(where, param, "a string");
      if (param.string != names[i])
        return error(where + ": expected \"" + names[i] + "\", got \"" +
                     param.string + "\" (docs/kernel-abi.md)");
    }
    return FLASHRT_SUCCESS;
  }

  /// A backward's row_kernels: the geometry of its preprocessing and dQ
  /// kernels, which this runtime launches as kBackwardRowsPerCta and
  /// kBackwardRowThreads say.
  flashrt_status readRowKernels(const JsonValue &kernel,
                                const std::string &kpath) {
    const JsonValue *object;
    std::string path = kpath + ".row_kernels";
    FLASHRT_RETURN_IF_ERROR(getMember(kernel, kpath, "row_kernels",
                                      JsonValue::Kind::Object, "an object",
                                      object));
    struct Field {
      const char *key;
      int expected;
    };
    for (Field field : {Field{"rows_per_cta", kBackwardRowsPerCta},
                        Field{"threads", kBackwardRowThreads}}) {
      int value = 0;
      FLASHRT_RETURN_IF_ERROR(getInt(*object, path, field.key, value));
      if (value != field.expected)
        return error(join(path, field.key) + ": this runtime launches " +
                     std::to_string(field.expected) + ", got " +
                     std::to_string(value) +
                     " (a library from another flash-mlir version)");
    }
    return FLASHRT_SUCCESS;
  }

  flashrt_status readFile(const JsonValue &kernel, const std::string &kpath,
                          const char *key, std::string &out) {
    if (!kernel.get(key))
      return FLASHRT_SUCCESS;
    std::string name;
    FLASHRT_RETURN_IF_ERROR(getString(kernel, kpath, key, name));
    if (name.empty())
      return error(join(kpath, key) + ": expected a file name, got \"\"");
    out = name.front() == '/' || dir.empty() ? name : dir + "/" + name;
    return FLASHRT_SUCCESS;
  }

  flashrt_status readKernel(const JsonValue &value, const std::string &path,
                            LibraryKernel &kernel) {
    if (value.kind != JsonValue::Kind::Object)
      return wrongKind(path, value, "an object");
    flashrt_kernel_info &info = kernel.info;
    FLASHRT_RETURN_IF_ERROR(getString(value, path, "name", kernel.name));
    FLASHRT_RETURN_IF_ERROR(readFile(value, path, "ptx", kernel.ptxPath));
    FLASHRT_RETURN_IF_ERROR(readFile(value, path, "cubin", kernel.cubinPath));
    if (kernel.ptxPath.empty() && kernel.cubinPath.empty())
      return error(path + ": kernel '" + kernel.name +
                   "' has neither 'ptx' nor 'cubin'");
    FLASHRT_RETURN_IF_ERROR(readSpec(value, path, info.spec));
    std::string symbol = specSymbol(info.spec);
    if (kernel.name != symbol)
      return error(path + ".name: expected \"" + symbol +
                   "\" for its spec, got \"" + kernel.name + "\"");
    FLASHRT_RETURN_IF_ERROR(readConfig(value, path, info));
    FLASHRT_RETURN_IF_ERROR(getInt(value, path, "threads", info.threads));
    if (info.warps > 32 || info.threads != 32 * info.warps)
      return error(path + ".threads: expected 32 * warps = " +
                   std::to_string(32 * static_cast<long>(info.warps)) +
                   " (at most 1024), got " + std::to_string(info.threads));
    FLASHRT_RETURN_IF_ERROR(getInt(value, path, "smem_bytes", info.smem_bytes));
    if (info.smem_bytes < 0)
      return error(path + ".smem_bytes: expected a non-negative integer, got " +
                   std::to_string(info.smem_bytes));
    if (info.spec.kind == FLASHRT_KIND_BACKWARD)
      FLASHRT_RETURN_IF_ERROR(readRowKernels(value, path));
    return readParams(value, path, info.spec);
  }
};

} // namespace

flashrt_status flashrt::parseManifest(std::string_view text,
                                      const std::string &source,
                                      const std::string &dir,
                                      std::vector<LibraryKernel> &out) {
  JsonValue root;
  std::string jsonError;
  if (!parseJson(text, root, jsonError))
    return fail(FLASHRT_ERROR_MANIFEST,
                source + ": invalid JSON: " + jsonError);
  return ManifestReader(source, dir).read(root, out);
}
