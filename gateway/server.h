// Server: the gateway's HTTP/1.1 listener over TLS (or plain TCP with --insecure-http). It owns
// an Asio io_context run by ServerOptions::io_threads threads, accepts connections up to the
// connection cap, and runs one Session per connection that reads requests under the limits and
// deadlines of ServerOptions and hands each one to the Handler as an Exchange (exchange.h).
// See gateway/README.md ("Transport") for the behaviour at each limit.
//
// Thread-safety: port(), stats() and Shutdown() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "gateway/server_options.h"
#include "gateway/server_stats.h"

namespace parapet::gateway {

class Handler;
class TlsContext;

class Server {
 public:
  // Binds and listens on options.listen_host:listen_port and starts serving. `tls` null means
  // plain HTTP (only for --insecure-http); otherwise each new connection takes tls->current(),
  // so a TlsContext::Reload affects new connections only. Errors: InvalidArgument (options,
  // host), Unavailable (bind/listen, e.g. the port is in use).
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::shared_ptr<TlsContext> tls,
                                               std::shared_ptr<Handler> handler);

  // Shuts down with no grace if Shutdown was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the ephemeral one when listen_port was 0).
  uint16_t port() const;

  // Stops accepting, closes connections that are between requests, lets exchanges in flight
  // finish for up to `grace_ms` (closing each connection after its response), then aborts the
  // rest (their OnAbort runs) and closes them, and finally stops and joins the io threads.
  // Blocks until done. Idempotent. REQUIRES: not called from an io thread (a Handler).
  void Shutdown(int grace_ms);

  ServerStatsSnapshot stats() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parapet::gateway
