// Status and Result<T>: Parapet's error values. A Status is either OK or a code from a small set
// plus a human-readable message; Result<T> holds a T or a non-OK Status. Recoverable errors travel
// as these values (never as exceptions) and gain context as they rise:
//   PARAPET_RETURN_IF_ERROR(file.Validate());
//   PARAPET_ASSIGN_OR_RETURN(auto model, Model::Load(path));
// Values are immutable once built and safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/check.h"

namespace parapet {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (bad flag, bad file contents)
  kNotFound,           // a named thing does not exist
  kUnavailable,        // transient: try again later
  kResourceExhausted,  // a budget (memory, queue, context) would be exceeded
  kDataLoss,           // stored data is corrupt or truncated
  kInternal,           // an operation failed in a way that is not the caller's fault
  kCancelled,          // the operation was cancelled by its owner
  kDeadlineExceeded,   // the operation ran out of time
};

// Returns a stable lower-case name for `code`, e.g. "invalid_argument".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status WithContext(std::string_view context) const;

  // Explicitly ignores a status (for best-effort calls whose failure is acceptable).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status DataLossError(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status CancelledError(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
inline Status DeadlineExceededError(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}

// Result<T>: a T on success, a non-OK Status on failure.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    PARAPET_CHECK(!status_.ok());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    PARAPET_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    PARAPET_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    PARAPET_CHECK(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace parapet

#define PARAPET_STATUS_CONCAT_INNER(a, b) a##b
#define PARAPET_STATUS_CONCAT(a, b) PARAPET_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
// (The temporary is named per line so that nested uses inside lambdas do not shadow.)
#define PARAPET_RETURN_IF_ERROR(expr) \
  PARAPET_RETURN_IF_ERROR_IMPL(PARAPET_STATUS_CONCAT(parapet_status_, __LINE__), expr)
#define PARAPET_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                          \
    ::parapet::Status tmp = (expr);             \
    if (!tmp.ok()) return tmp;                  \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns its status, else moves the value into `lhs`.
#define PARAPET_ASSIGN_OR_RETURN(lhs, expr) \
  PARAPET_ASSIGN_OR_RETURN_IMPL(PARAPET_STATUS_CONCAT(parapet_result_, __LINE__), lhs, expr)
#define PARAPET_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
