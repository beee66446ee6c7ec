//===- flash/Runtime/Runtime.hpp - C++ wrapper of the runtime ---*- C++ -*-===//
//
// A header-only C++17 layer over Runtime.h: handles become move-only RAII
// objects, failures come back as values (Status, Result<T>) carrying the
// code and the message, and nothing throws. It needs no LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_RUNTIME_RUNTIME_HPP
#define FLASH_RUNTIME_RUNTIME_HPP

#include "flash/Runtime/Runtime.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace flash {
namespace rt {

/// The outcome of a call: a code, and the message when it failed.
class Status {
public:
  Status() = default;
  Status(flashrt_status code, std::string message)
      : code_(code), message_(std::move(message)) {}

  /// Wraps a C call's result, taking the message of a failure.
  static Status fromC(flashrt_status code) {
    if (code == FLASHRT_SUCCESS)
      return Status();
    return Status(code, flashrt_last_error());
  }

  bool ok() const { return code_ == FLASHRT_SUCCESS; }
  explicit operator bool() const { return ok(); }
  flashrt_status code() const { return code_; }
  const std::string &message() const { return message_; }
  /// "TENSOR_SHAPE: k: sizes[0] (B) is 3, expected 2 as in q".
  std::string toString() const {
    if (ok())
      return "SUCCESS";
    return std::string(flashrt_status_name(code_)) + ": " + message_;
  }

private:
  flashrt_status code_ = FLASHRT_SUCCESS;
  std::string message_;
};

/// A value or the Status that prevented it.
template <typename T> class Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status &status() const { return status_; }

  /// Only when ok().
  T &value() { return *value_; }
  const T &value() const { return *value_; }
  T &operator*() { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }

private:
  std::optional<T> value_;
  Status status_;
};

/// flashrt_tensor with constructors.
struct Tensor : flashrt_tensor {
  Tensor() : flashrt_tensor() {}

  /// A tensor of `sizes` with the given strides, or row-major strides when
  /// `strides` is empty.
  Tensor(void *data, flashrt_dtype dtype, std::initializer_list<int64_t> sizes,
         std::initializer_list<int64_t> strides = {})
      : flashrt_tensor() {
    this->data = data;
    this->dtype = dtype;
    rank = static_cast<int>(sizes.size() < 4 ? sizes.size() : 4);
    int i = 0;
    for (int64_t size : sizes)
      if (i < rank)
        this->sizes[i++] = size;
    if (strides.size() == 0) {
      int64_t stride = 1;
      for (int d = rank - 1; d >= 0; --d) {
        this->strides[d] = stride;
        stride *= this->sizes[d];
      }
      return;
    }
    i = 0;
    for (int64_t stride : strides)
      if (i < rank)
        this->strides[i++] = stride;
  }
};

/// Checks that the loaded library has the ABI of this header
/// (flashrt_abi_version() == FLASHRT_ABI_VERSION); otherwise UNSUPPORTED,
/// naming both versions. Structures must not be passed to a library of
/// another version (docs/runtime.md, "Compatibility").
inline Status checkAbiVersion() {
  int loaded = flashrt_abi_version();
  if (loaded == FLASHRT_ABI_VERSION)
    return Status();
  return Status(FLASHRT_ERROR_UNSUPPORTED,
                "libFlashRuntime has ABI version " + std::to_string(loaded) +
                    ", this program was built against version " +
                    std::to_string(FLASHRT_ABI_VERSION) +
                    " (flash/Runtime/Runtime.h)");
}

/// 1 / sqrt(head_dim), the usual softmax scale.
inline float defaultScale(int64_t headDim) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(headDim)));
}

/// Checks a forward call without a driver; see flashrt_validate_forward.
inline Status validateForward(const flashrt_kernel_info &info,
                              const flashrt_tensor &q, const flashrt_tensor &k,
                              const flashrt_tensor &v, const flashrt_tensor &o,
                              const flashrt_tensor &lse, float scale,
                              int64_t windowLeft = 0,
                              int64_t windowRight = 0) {
  return Status::fromC(flashrt_validate_forward(
      &info, &q, &k, &v, &o, &lse, scale, windowLeft, windowRight));
}

/// Checks a block-sparse forward call without a driver; see
/// flashrt_validate_forward_sparse.
inline Status validateForwardSparse(
    const flashrt_kernel_info &info, const flashrt_tensor &q,
    const flashrt_tensor &k, const flashrt_tensor &v, const flashrt_tensor &o,
    const flashrt_tensor &lse, const flashrt_block_layout &layout, float scale,
    int64_t windowLeft = 0, int64_t windowRight = 0) {
  return Status::fromC(flashrt_validate_forward_sparse(
      &info, &q, &k, &v, &o, &lse, scale, windowLeft, windowRight, &layout));
}

/// Checks a forward call with dropout without a driver; see
/// flashrt_validate_forward_dropout.
inline Status validateForwardDropout(
    const flashrt_kernel_info &info, const flashrt_tensor &q,
    const flashrt_tensor &k, const flashrt_tensor &v, const flashrt_tensor &o,
    const flashrt_tensor &lse, const flashrt_dropout &dropout, float scale,
    int64_t windowLeft = 0, int64_t windowRight = 0) {
  return Status::fromC(flashrt_validate_forward_dropout(
      &info, &q, &k, &v, &o, &lse, scale, windowLeft, windowRight, &dropout));
}

/// The dynamic shared memory of a block-sparse launch; see
/// flashrt_sparse_shared_memory.
inline Result<int64_t> sparseSharedMemory(const flashrt_kernel_info &info,
                                          int64_t keyLen, int64_t blockKV) {
  int64_t bytes = 0;
  if (flashrt_status code =
          flashrt_sparse_shared_memory(&info, keyLen, blockKV, &bytes))
    return Status::fromC(code);
  return bytes;
}

/// The workspace bytes of a backward launch; see
/// flashrt_backward_workspace_size.
inline Result<size_t> backwardWorkspaceSize(const flashrt_kernel_info &info,
                                            int64_t batch, int64_t queryHeads,
                                            int64_t queryLen) {
  size_t bytes = 0;
  if (flashrt_status code = flashrt_backward_workspace_size(
          &info, batch, queryHeads, queryLen, &bytes))
    return Status::fromC(code);
  return bytes;
}

namespace detail {
struct LibraryDeleter {
  void operator()(flashrt_library *lib) const { flashrt_library_destroy(lib); }
};
struct ContextDeleter {
  void operator()(flashrt_context *ctx) const { flashrt_context_destroy(ctx); }
};
struct KernelDeleter {
  void operator()(flashrt_kernel *kernel) const {
    flashrt_kernel_destroy(kernel);
  }
};
} // namespace detail

/// The kernels of a flash-aot directory.
class Library {
public:
  static Result<Library> open(const std::string &dir) {
    flashrt_library *lib = nullptr;
    if (flashrt_status code = flashrt_library_open(dir.c_str(), &lib))
      return Status::fromC(code);
    return Library(lib);
  }

  static Result<Library> parse(std::string_view json,
                               const std::string &dir = "") {
    flashrt_library *lib = nullptr;
    if (flashrt_status code =
            flashrt_library_parse(json.data(), json.size(), dir.c_str(), &lib))
      return Status::fromC(code);
    return Library(lib);
  }

  size_t size() const { return flashrt_library_size(get()); }

  Result<flashrt_kernel_info> info(size_t index) const {
    flashrt_kernel_info info;
    if (flashrt_status code = flashrt_library_info(get(), index, &info))
      return Status::fromC(code);
    return info;
  }

  Result<flashrt_selection> select(const flashrt_spec &spec,
                                   int deviceChip) const {
    flashrt_selection selection;
    if (flashrt_status code =
            flashrt_library_select(get(), &spec, deviceChip, &selection))
      return Status::fromC(code);
    return selection;
  }

  const flashrt_library *get() const { return lib_.get(); }

private:
  explicit Library(flashrt_library *lib) : lib_(lib) {}
  std::unique_ptr<flashrt_library, detail::LibraryDeleter> lib_;
};

/// A loaded kernel; it keeps its context alive.
class Kernel {
public:
  const flashrt_kernel_info &info() const {
    return *flashrt_kernel_get_info(get());
  }
  const flashrt_kernel *get() const { return kernel_.get(); }

private:
  friend class Context;
  explicit Kernel(flashrt_kernel *kernel) : kernel_(kernel) {}
  std::unique_ptr<flashrt_kernel, detail::KernelDeleter> kernel_;
};

/// A device's primary context and the kernels loaded in it.
class Context {
public:
  static Result<Context> create(int ordinal = 0) {
    flashrt_context *ctx = nullptr;
    if (flashrt_status code = flashrt_context_create(ordinal, &ctx))
      return Status::fromC(code);
    return Context(ctx);
  }

  /// e.g. 900 for compute capability 9.0.
  int chip() const { return flashrt_context_chip(get()); }

  Result<Kernel> load(const Library &lib, const flashrt_spec &spec) {
    flashrt_kernel *kernel = nullptr;
    if (flashrt_status code =
            flashrt_kernel_load(get(), lib.get(), &spec, &kernel))
      return Status::fromC(code);
    return Kernel(kernel);
  }

  Result<Kernel> loadPtx(const flashrt_kernel_info &info,
                         std::string_view ptx) {
    flashrt_kernel *kernel = nullptr;
    if (flashrt_status code = flashrt_kernel_load_ptx(
            get(), &info, ptx.data(), ptx.size(), &kernel))
      return Status::fromC(code);
    return Kernel(kernel);
  }

  Result<Kernel> loadCubin(const flashrt_kernel_info &info, const void *data,
                           size_t size) {
    flashrt_kernel *kernel = nullptr;
    if (flashrt_status code =
            flashrt_kernel_load_cubin(get(), &info, data, size, &kernel))
      return Status::fromC(code);
    return Kernel(kernel);
  }

  /// Validates and launches; see flashrt_attention_forward.
  Status forward(const Kernel &kernel, const flashrt_tensor &q,
                 const flashrt_tensor &k, const flashrt_tensor &v,
                 const flashrt_tensor &o, const flashrt_tensor &lse,
                 float scale, int64_t windowLeft = 0, int64_t windowRight = 0,
                 void *stream = nullptr) {
    return Status::fromC(flashrt_attention_forward(
        get(), kernel.get(), &q, &k, &v, &o, &lse, scale, windowLeft,
        windowRight, stream));
  }

  /// Validates and launches a block-sparse kernel; see
  /// flashrt_attention_forward_sparse.
  Status forwardSparse(const Kernel &kernel, const flashrt_tensor &q,
                       const flashrt_tensor &k, const flashrt_tensor &v,
                       const flashrt_tensor &o, const flashrt_tensor &lse,
                       const flashrt_block_layout &layout, float scale,
                       int64_t windowLeft = 0, int64_t windowRight = 0,
                       void *stream = nullptr) {
    return Status::fromC(flashrt_attention_forward_sparse(
        get(), kernel.get(), &q, &k, &v, &o, &lse, scale, windowLeft,
        windowRight, &layout, stream));
  }

  /// Validates and launches a kernel with dropout; see
  /// flashrt_attention_forward_dropout.
  Status forwardDropout(const Kernel &kernel, const flashrt_tensor &q,
                        const flashrt_tensor &k, const flashrt_tensor &v,
                        const flashrt_tensor &o, const flashrt_tensor &lse,
                        const flashrt_dropout &dropout, float scale,
                        int64_t windowLeft = 0, int64_t windowRight = 0,
                        void *stream = nullptr) {
    return Status::fromC(flashrt_attention_forward_dropout(
        get(), kernel.get(), &q, &k, &v, &o, &lse, scale, windowLeft,
        windowRight, &dropout, stream));
  }

  /// Validates and launches a backward kernel's three kernels; see
  /// flashrt_attention_backward.
  Status backward(const Kernel &kernel,
                  const flashrt_backward_tensors &tensors, float scale,
                  void *workspace, size_t workspaceBytes,
                  int64_t windowLeft = 0, int64_t windowRight = 0,
                  void *stream = nullptr) {
    return Status::fromC(flashrt_attention_backward(
        get(), kernel.get(), &tensors, scale, windowLeft, windowRight,
        workspace, workspaceBytes, stream));
  }

  flashrt_context *get() const { return ctx_.get(); }

private:
  explicit Context(flashrt_context *ctx) : ctx_(ctx) {}
  std::unique_ptr<flashrt_context, detail::ContextDeleter> ctx_;
};

} // namespace rt
} // namespace flash

#endif // FLASH_RUNTIME_RUNTIME_HPP
