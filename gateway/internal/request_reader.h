// RequestReader: incremental HTTP/1.1 request parsing for a Session, over Beast's
// request_parser<string_body>. The session appends the bytes it reads; Parse() reports when a
// request's header is complete (so limits can be enforced before any body byte is read) and
// when the whole request is. Bytes past the end of one request (pipelining) stay buffered for
// the next. Not thread-safe: owned by one session, used on its strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <boost/system/error_code.hpp>

#include "gateway/exchange.h"

namespace parapet::gateway::internal {

class RequestReader {
 public:
  enum class Event {
    kNeedMore,  // read more bytes, then Parse() again
    kHeader,    // the header just completed (once per request); Parse() again for the rest
    kRequest,   // the request is complete: Release() it
    kError,     // *ec: http::error::header_limit, body_limit, or a syntax error
  };

  // Limits: the header's size (request line + fields) and the body's (Content-Length or the
  // decoded chunked body), in bytes.
  RequestReader(uint64_t max_header_bytes, uint64_t max_body_bytes);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  void Append(const char* data, size_t n);
  // Buffered bytes not yet parsed.
  size_t buffered() const;
  // True when no byte of the next request has arrived.
  bool idle() const;

  Event Parse(boost::system::error_code* ec);

  // After kHeader: the header so far, its declared Content-Length, whether the body is
  // already complete (or absent), and whether the client sent Expect: 100-continue.
  const Request& header() const;
  std::optional<uint64_t> content_length() const;
  bool complete() const;
  bool expects_continue() const;

  // After kRequest: the request; the reader starts on the next one.
  Request Release();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parapet::gateway::internal
