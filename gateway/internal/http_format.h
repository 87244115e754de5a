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

namespace parapet::gateway::internal {

// "req_" + 24 lower-case hex digits from OpenSSL's CSPRNG (96 random bits).
std::string NewRequestId();
// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string HttpDate();

// Sets x-request-id, Server: parapet, Date and, when `tls` and hsts_max_age_s > 0,
// Strict-Transport-Security.
void AddStandardHeaders(ResponseHeader& header, std::string_view request_id, bool tls,
                        int64_t hsts_max_age_s);

// "HTTP/1.1 200 OK\r\n" + fields + "\r\n".
std::string SerializeHead(const ResponseHeader& header);
// One chunk of chunked transfer coding: hex size, CRLF, data, CRLF. REQUIRES: !data.empty().
std::string Chunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// A `status` response with an OpenAI-shaped error body and Connection: close.
Response ErrorResponse(http::status status, std::string_view type, std::string_view message,
                       std::string_view code);

}  // namespace parapet::gateway::internal
