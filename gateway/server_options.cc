// ServerOptions::Validate.
#include "gateway/server_options.h"

#include <string>

namespace parapet::gateway {
namespace {

Status Positive(const char* field, int64_t value) {
  if (value > 0) return Status::Ok();
  return InvalidArgumentError(std::string("server option ") + field + " must be > 0, got " +
                              std::to_string(value));
}

}  // namespace

Status ServerOptions::Validate() const {
  if (listen_host.empty()) return InvalidArgumentError("server option listen_host is empty");
  if (io_threads < 0 || io_threads > 1024) {
    return InvalidArgumentError("server option io_threads must be in [0, 1024], got " +
                                std::to_string(io_threads));
  }
  if (max_header_bytes < 1024) {
    return InvalidArgumentError("server option max_header_bytes must be >= 1024, got " +
                                std::to_string(max_header_bytes));
  }
  PARAPET_RETURN_IF_ERROR(Positive("max_body_bytes", static_cast<int64_t>(max_body_bytes)));
  PARAPET_RETURN_IF_ERROR(Positive("handshake_timeout_ms", handshake_timeout_ms));
  PARAPET_RETURN_IF_ERROR(Positive("header_timeout_ms", header_timeout_ms));
  PARAPET_RETURN_IF_ERROR(Positive("body_timeout_ms", body_timeout_ms));
  PARAPET_RETURN_IF_ERROR(Positive("idle_timeout_ms", idle_timeout_ms));
  PARAPET_RETURN_IF_ERROR(Positive("write_timeout_ms", write_timeout_ms));
  PARAPET_RETURN_IF_ERROR(Positive("close_linger_ms", close_linger_ms));
  PARAPET_RETURN_IF_ERROR(Positive("max_connections", max_connections));
  PARAPET_RETURN_IF_ERROR(Positive("overload_retry_after_s", overload_retry_after_s));
  PARAPET_RETURN_IF_ERROR(
      Positive("stream_buffer_limit_bytes", static_cast<int64_t>(stream_buffer_limit_bytes)));
  if (shutdown_grace_ms < 0) {
    return InvalidArgumentError("server option shutdown_grace_ms must be >= 0, got " +
                                std::to_string(shutdown_grace_ms));
  }
  if (hsts_max_age_s < 0) {
    return InvalidArgumentError("server option hsts_max_age_s must be >= 0, got " +
                                std::to_string(hsts_max_age_s));
  }
  return Status::Ok();
}

}  // namespace parapet::gateway
