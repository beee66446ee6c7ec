//===- Error.h - Per-thread error state of the runtime ----------*- C++ -*-===//
//
// Every C entry point runs its body through `guarded`, which clears the
// thread's last error, turns exceptions (only std::bad_alloc is expected)
// into status codes, and leaves the message of a failure in the thread's
// last-error slot.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_ERROR_H
#define FLASH_LIB_RUNTIME_ERROR_H

#include "flash/Runtime/Runtime.h"

#include <new>
#include <string>

namespace flashrt {

/// Records `message` as the thread's last error and returns `code`.
flashrt_status fail(flashrt_status code, std::string message);

/// Clears the thread's last error.
void clearError();

/// Runs `body` (returning flashrt_status) as a C entry point.
template <typename Body>
flashrt_status guarded(Body &&body) noexcept {
  try {
    clearError();
    return body();
  } catch (const std::bad_alloc &) {
    return fail(FLASHRT_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (...) {
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "unexpected internal error");
  }
}

/// Returns `code` unless it is a failure; for chaining checks.
#define FLASHRT_RETURN_IF_ERROR(expr)                                          \
  do {                                                                         \
    flashrt_status flashrtStatus_ = (expr);                                    \
    if (flashrtStatus_ != FLASHRT_SUCCESS)                                     \
      return flashrtStatus_;                                                   \
  } while (false)

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_ERROR_H
