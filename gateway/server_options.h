// ServerOptions: the HTTP/TLS transport's limits, deadlines and sizes (gateway/server.h). A plain
// struct, filled from the config file and flags at the edge, checked once with Validate() and then
// passed down by const&. Every deadline is a total for its step, not a per-read inactivity timer,
// so a client that trickles bytes cannot stretch it.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parapet::gateway {

struct ServerOptions {
  // Address to listen on: an IPv4/IPv6 literal or "localhost" (127.0.0.1).
  std::string listen_host = "127.0.0.1";
  // TCP port; 0 picks an ephemeral port (Server::port() tells which).
  uint16_t listen_port = 8443;
  // Network threads running the io_context (TLS, HTTP, handlers). 0: one per hardware thread.
  int io_threads = 0;

  // Largest request header (request line + fields) in bytes; larger → 431 and close.
  uint64_t max_header_bytes = 16 * 1024;
  // Largest request body in bytes; a larger Content-Length → 413 before any body is read.
  uint64_t max_body_bytes = 4 * 1024 * 1024;

  // TLS handshake must finish within this many milliseconds of the accept.
  int handshake_timeout_ms = 10'000;
  // The whole request header must arrive within this many milliseconds of its first byte (of
  // the accept, for a connection's first request); else 408 and close (slowloris defence).
  int header_timeout_ms = 10'000;
  // The whole request body must arrive within this many milliseconds of the header's end.
  int body_timeout_ms = 60'000;
  // A keep-alive connection may wait this many milliseconds for its next request, then closes.
  int idle_timeout_ms = 60'000;
  // One socket write (a response or a burst of stream chunks) must complete within this many
  // milliseconds; else the connection closes and the exchange is aborted.
  int write_timeout_ms = 30'000;
  // After the last response of a connection, unread client bytes are drained for at most this
  // many milliseconds before the close, so the response is not lost to a TCP reset.
  int close_linger_ms = 1'000;

  // Connections served at once. Above it, up to max_connections / 8 + 16 more are accepted and
  // answered 503 with Retry-After (a TLS handshake first when TLS is on); beyond that, closed.
  int max_connections = 1024;
  // Seconds a 503 for the connection cap asks the client to wait (Retry-After).
  int overload_retry_after_s = 1;
  // Streamed response bytes queued but not yet written, per exchange; a client that reads
  // slower than this buffer allows is disconnected and the exchange aborted.
  uint64_t stream_buffer_limit_bytes = 1024 * 1024;
  // Server::Shutdown lets in-flight exchanges finish for this many milliseconds, then aborts.
  int shutdown_grace_ms = 10'000;
  // Strict-Transport-Security max-age in seconds, sent on TLS responses only; 0 omits it.
  int64_t hsts_max_age_s = 31'536'000;

  // OK, or InvalidArgument naming the first field out of range.
  Status Validate() const;
};

}  // namespace parapet::gateway
