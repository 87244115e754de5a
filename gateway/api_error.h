// ApiError and ApiResult<T>: an error as the OpenAI API reports it (HTTP status + the four fields
// of the error body), produced by the request parsers and the auth / rate-limit helpers, and turned
// into the wire body by gateway::ErrorBody. Maps 1:1 to ErrorBody's arguments:
//   {"error":{"message":<message>,"type":<type>,"param":<param|null>,"code":<code|null>}}
// Plain values; safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/check.h"
#include "common/status.h"

namespace parapet::gateway {

struct Admission;  // rate_limiter.h

struct ApiError {
  int http_status = 400;                       // the HTTP status to answer with
  std::string type = "invalid_request_error";  // OpenAI error type
  std::string message;  // human-readable; never echoes secrets or prompt text
  std::string param;    // offending parameter ("messages[2].content"), or ""
  std::string code;     // machine-readable code ("invalid_type"), or ""

  // The JSON body: ErrorBody(type, message, param, code).
  std::string Body() const;
};

// ---- factories for the common cases (messages follow OpenAI's wording) ----

// 400 invalid_request_error naming `param`; `code` e.g. "invalid_type", "invalid_value".
ApiError InvalidParam(std::string param, std::string message, std::string code = "invalid_value");
// 400 "Invalid type for '<param>': expected <expected>, but got <got> instead." code invalid_type.
ApiError InvalidType(std::string param, std::string_view expected, std::string_view got);
// 400 "Missing required parameter: '<param>'." code missing_required_parameter.
ApiError MissingParam(std::string param);
// 400 "Unrecognized request argument supplied: <param>", param = <param>.
ApiError UnrecognizedParam(std::string param);
// 400 "<param> is not supported by this server ...", code unsupported_parameter.
ApiError UnsupportedParam(std::string param, std::string_view detail = {});
// 400 for a body that is not acceptable JSON (strict decoding failed); message carries `status`'s
// message (no input text), code "invalid_json".
ApiError InvalidJson(const Status& status);
// 401 "invalid_request_error"/"invalid_api_key" with a fixed message (never echoes the key).
ApiError InvalidApiKey();
// 404 "The model '<model>' does not exist", code model_not_found, param "model".
ApiError ModelNotFound(std::string_view model);
// 429 rate limit: type "requests" or "tokens", code "rate_limit_exceeded".
ApiError RateLimited(std::string_view type, std::string message);
// The 429 for a refused RateLimiter admission (REQUIRES: !admission.admitted()): type
// "requests" or "tokens" (limited_by), message naming the limit and, for kLimited, the wait
// ("Please try again in 3s."). The caller adds "Retry-After: <retry_after_s>" when it is > 0.
ApiError RateLimitedError(const Admission& admission);
// 503 "server_error"/"overloaded" (queue full); the caller adds Retry-After.
ApiError Overloaded(std::string message);
// 500 "server_error" for internal failures; `message` must not carry internal details.
ApiError ServerError(std::string message);

// ApiResult<T>: a T on success, an ApiError on failure (Result<T> for the OpenAI wire errors).
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  // REQUIRES: !ok().
  const ApiError& error() const {
    PARAPET_CHECK(!ok());
    return *error_;
  }
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
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  std::optional<ApiError> error_;
};

}  // namespace parapet::gateway
