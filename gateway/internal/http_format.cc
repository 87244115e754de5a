// Response formatting helpers (see http_format.h).
#include "gateway/internal/http_format.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/check.h"

namespace parapet::gateway::internal {

std::string NewRequestId() {
  unsigned char bytes[12];
  PARAPET_CHECK_MSG(RAND_bytes(bytes, sizeof(bytes)) == 1, "OpenSSL RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "req_";
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

std::string HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // Fixed English names: strftime's %a/%b would follow the process locale.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                          kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                          tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached.assign(buf, static_cast<size_t>(n));
    cached_second = now;
  }
  return cached;
}

void AddStandardHeaders(ResponseHeader& header, std::string_view request_id, bool tls,
                        int64_t hsts_max_age_s) {
  header.set("x-request-id", request_id);
  header.set(http::field::server, "parapet");
  header.set(http::field::date, HttpDate());
  if (tls && hsts_max_age_s > 0) {
    header.set(http::field::strict_transport_security, "max-age=" + std::to_string(hsts_max_age_s));
  }
}

void SetConnection(ResponseHeader& header, bool keep_alive) {
  if (!keep_alive) {
    header.set(http::field::connection, "close");
  } else if (header.version() == 10) {
    header.set(http::field::connection, "keep-alive");
  } else {
    header.erase(http::field::connection);
  }
}

std::string SerializeHead(const ResponseHeader& header) {
  std::string out = header.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(header.result_int());
  out += ' ';
  out += header.reason();
  out += "\r\n";
  for (const auto& field : header) {
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string Chunk(std::string_view data) {
  char size[24];
  int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out;
  out.reserve(static_cast<size_t>(n) + data.size() + 2);
  out.append(size, static_cast<size_t>(n));
  out.append(data);
  out.append("\r\n");
  return out;
}

std::string FormatResponse(Response& response, const HeadContext& c, bool with_body) {
  response.version(c.version);
  response.keep_alive(c.keep_alive);
  AddStandardHeaders(response, c.request_id, c.tls, c.hsts_max_age_s);
  response.prepare_payload();
  std::string bytes = SerializeHead(response);
  if (with_body) bytes += response.body();
  return bytes;
}

std::string FormatStreamHead(ResponseHeader& header, const HeadContext& c) {
  header.version(c.version);
  SetConnection(header, c.keep_alive);
  header.erase(http::field::content_length);
  if (c.version == 11) header.set(http::field::transfer_encoding, "chunked");
  AddStandardHeaders(header, c.request_id, c.tls, c.hsts_max_age_s);
  return SerializeHead(header);
}

Response TransportErrorResponse(TransportError error, const ServerOptions& options,
                                std::string_view detail) {
  http::status status = http::status::bad_request;
  std::string type = "invalid_request_error", message, code;
  switch (error) {
    case TransportError::kMalformed:
      message = "malformed HTTP request", code = "malformed_request";
      break;
    case TransportError::kTimeout:
      status = http::status::request_timeout;
      message = "request not received in time", code = "request_timeout";
      break;
    case TransportError::kBodyTooLarge:
      status = http::status::payload_too_large;
      message = "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes";
      code = "request_too_large";
      break;
    case TransportError::kHeaderTooLarge:
      status = http::status::request_header_fields_too_large;
      message = "request header exceeds " + std::to_string(options.max_header_bytes) + " bytes";
      code = "request_header_too_large";
      break;
    case TransportError::kOverloaded:
      status = http::status::service_unavailable;
      type = "server_error";
      message = "the server is at its connection limit; retry later", code = "server_overloaded";
      break;
  }
  if (!detail.empty()) message += ": " + std::string(detail);
  Response response(status, 11);
  response.set(http::field::content_type, "application/json");
  if (error == TransportError::kOverloaded) {
    response.set(http::field::retry_after, std::to_string(options.overload_retry_after_s));
  }
  response.body() = ErrorBody(type, message, {}, code);
  response.keep_alive(false);
  return response;
}

}  // namespace parapet::gateway::internal
