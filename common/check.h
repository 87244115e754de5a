// PARAPET_CHECK: invariant checks. A failed check is a bug, not an error: it logs the failed
// condition with its source location and aborts the process. Thread-safe.
#pragma once

namespace parapet::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const char* msg);
}  // namespace parapet::internal

#define PARAPET_CHECK(cond)                                                       \
  do {                                                                            \
    if (!(cond)) ::parapet::internal::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define PARAPET_CHECK_MSG(cond, msg)                                               \
  do {                                                                             \
    if (!(cond)) ::parapet::internal::CheckFailed(__FILE__, __LINE__, #cond, msg); \
  } while (0)
