// Wire formatting for the session: request ids, the Date header, the headers every response
// carries, the HTTP/1.1 response head, chunk framing, and the transport's own error responses.
// The session writes bytes it formatted here through one write queue, so complete and streamed
// responses share one path and no Beast serializer is instantiated per stream type.
// Thread-safe (the Date cache is per thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/exchange.h"
#include "gateway/server_options.h"

namespace parapet::gateway::internal {

// "req_" + 24 lower-case hex digits from OpenSSL's CSPRNG (96 random bits).
std::string NewRequestId();
// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string HttpDate();

// Sets x-request-id, Server: parapet, Date and, when `tls` and hsts_max_age_s > 0,
// Strict-Transport-Security.
void AddStandardHeaders(ResponseHeader& header, std::string_view request_id, bool tls,
                        int64_t hsts_max_age_s);

// Connection: close when !keep_alive; keep-alive for an HTTP/1.0 head that keeps the
// connection; nothing for HTTP/1.1 (Beast's message::keep_alive for a bare header).
void SetConnection(ResponseHeader& header, bool keep_alive);

// "HTTP/1.1 200 OK\r\n" + fields + "\r\n".
std::string SerializeHead(const ResponseHeader& header);
// One chunk of chunked transfer coding: hex size, CRLF, data, CRLF. REQUIRES: !data.empty().
std::string Chunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// What the session knows when it formats a response head.
struct HeadContext {
  std::string_view request_id;
  unsigned version = 11;  // the request's HTTP version: 10 or 11
  bool keep_alive = false;
  bool tls = false;
  int64_t hsts_max_age_s = 0;
};

// A complete response's bytes: sets the version, Connection, the standard headers and
// Content-Length; the body follows unless `with_body` is false (HEAD).
std::string FormatResponse(Response& response, const HeadContext& context, bool with_body);
// A streamed response's head: as above without Content-Length, with Transfer-Encoding: chunked
// for HTTP/1.1 (an HTTP/1.0 stream is delimited by the close instead).
std::string FormatStreamHead(ResponseHeader& header, const HeadContext& context);

// The errors the transport answers itself, before a Handler sees a request.
enum class TransportError {
  kMalformed,       // 400 malformed_request
  kTimeout,         // 408 request_timeout
  kBodyTooLarge,    // 413 request_too_large
  kHeaderTooLarge,  // 431 request_header_too_large
  kOverloaded,      // 503 server_overloaded, with Retry-After
};

// The response for `error`: an OpenAI-shaped error body, Connection: close; the limits in the
// message come from `options`; `detail` is appended to the message (e.g. the parse error).
Response TransportErrorResponse(TransportError error, const ServerOptions& options,
                                std::string_view detail = {});

}  // namespace parapet::gateway::internal
