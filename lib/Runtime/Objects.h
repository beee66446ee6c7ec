//===- Objects.h - The runtime's handle types -------------------*- C++ -*-===//

#ifndef FLASH_LIB_RUNTIME_OBJECTS_H
#define FLASH_LIB_RUNTIME_OBJECTS_H

#include "CudaDriver.h"

#include <atomic>
#include <string>

/// A device and its retained primary context. Kernels hold a reference, so
/// the context outlives them whatever order the user destroys things in.
struct flashrt_context {
  const flashrt::CudaDriver *driver = nullptr;
  flashrt::cu::Device device = 0;
  flashrt::cu::Context context = nullptr;
  /// The device's chip, e.g. 900 for compute capability 9.0.
  int chip = 0;
  /// The most dynamic shared memory a CTA may opt in to.
  int maxSharedOptin = 0;
  std::atomic<int> refs{1};
};

struct flashrt_kernel {
  flashrt_context *ctx = nullptr;
  std::string name;
  /// info.name points at `name`.
  flashrt_kernel_info info{};
  flashrt::cu::Module module = nullptr;
  flashrt::cu::Function function = nullptr;
  /// Backward kernels: the preprocessing and dQ kernels of the module.
  flashrt::cu::Function preprocess = nullptr;
  flashrt::cu::Function queryGrad = nullptr;
};

namespace flashrt {

/// Drops one reference to `ctx`, releasing it with the last one.
void releaseContext(flashrt_context *ctx);

/// Makes a context current on this thread for the life of the object when it
/// is not already, and restores the caller's context afterwards.
class ScopedContext {
public:
  explicit ScopedContext(const flashrt_context &ctx) : ctx(ctx) {}
  ~ScopedContext();
  ScopedContext(const ScopedContext &) = delete;
  ScopedContext &operator=(const ScopedContext &) = delete;

  flashrt_status enter();

private:
  const flashrt_context &ctx;
  bool pushed = false;
};

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_OBJECTS_H
