// Session: one HTTP/1.1 connection, plain or TLS (through the Stream seam), from the handshake to
// the close. It owns itself (shared_from_this held by its pending operations), runs every step
// on its strand, and keeps a deadline on each network step: handshake, request header (total,
// from its first byte), body, keep-alive idle, each write, and the closing drain. Requests on a
// connection are handled one at a time, in order (pipelined requests wait in the read buffer);
// while the Handler works on one, a read stays pending so a client that goes away aborts the
// exchange at once.
//
// Thread-safety: the Post* methods and BeginShutdown/ForceClose may be called from any thread
// (they post to the strand); everything else runs on the strand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gateway/exchange.h"
#include "gateway/internal/session_registry.h"
#include "gateway/server_options.h"
#include "gateway/server_stats.h"

namespace parapet::gateway::internal {

class Session;
class Stream;
class ExchangeImpl;

// What every session of one server shares. Immutable after the server starts.
struct SessionShared {
  ServerOptions options;
  std::shared_ptr<Handler> handler;
  std::shared_ptr<ServerStats> stats;
  std::shared_ptr<SessionRegistry> registry;
};

class Session {
 public:
  // `reject`: over the connection cap: answer the first request 503 + Retry-After and close.
  static std::shared_ptr<Session> Create(std::unique_ptr<Stream> stream,
                                         std::shared_ptr<const SessionShared> shared, bool reject);
  virtual ~Session() = default;

  // Starts the handshake (TLS) and the first request read.
  virtual void Start() = 0;
  // Server shutdown: closes the connection if it is between requests; otherwise closes it
  // after the current response.
  virtual void BeginShutdown() = 0;
  // Server shutdown past its grace period: aborts the exchange in flight and closes.
  virtual void ForceClose() = 0;

  // From ExchangeImpl (any thread, under its SessionLink mutex); ignored unless `exchange` is
  // the one in flight.
  virtual void PostRespond(std::shared_ptr<ExchangeImpl> exchange, Response response) = 0;
  virtual void PostStartStream(std::shared_ptr<ExchangeImpl> exchange, ResponseHeader header) = 0;
  virtual void PostWrite(std::shared_ptr<ExchangeImpl> exchange, std::string data) = 0;
  virtual void PostEnd(std::shared_ptr<ExchangeImpl> exchange) = 0;
  // The exchange's stream buffer limit was hit: abort it and disconnect.
  virtual void PostOverflow(std::shared_ptr<ExchangeImpl> exchange) = 0;
};

}  // namespace parapet::gateway::internal
