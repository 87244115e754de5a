// ServerStats: the transport's counters (connections, TLS failures, timeouts by phase, 4xx/5xx
// the transport itself answered). Sessions bump them with relaxed atomics from any thread;
// snapshot() copies them for /metrics. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace parapet::gateway {

// A copy of the counters at one moment (each read individually, so not a consistent cut).
struct ServerStatsSnapshot {
  uint64_t connections_accepted = 0;  // TCP connections accepted, all of them
  uint64_t connections_active = 0;    // sessions alive now (a gauge)
  uint64_t connections_rejected = 0;  // over the connection cap: answered 503 or closed at once
  uint64_t tls_handshake_failures = 0;
  uint64_t requests = 0;  // complete requests handed to the Handler
  uint64_t timeouts_handshake = 0;
  uint64_t timeouts_header = 0;
  uint64_t timeouts_body = 0;
  uint64_t timeouts_idle = 0;  // keep-alive connections closed for idleness (not an error)
  uint64_t timeouts_write = 0;
  uint64_t responses_400_malformed = 0;  // unparsable HTTP
  uint64_t responses_408_timeout = 0;    // header or body deadline
  uint64_t responses_413_body_too_large = 0;
  uint64_t responses_431_header_too_large = 0;
  uint64_t responses_503_overloaded = 0;  // connection cap
  uint64_t exchanges_aborted = 0;         // client gone, write failure, deadline or shutdown
  uint64_t stream_buffer_overflows = 0;   // a streaming client read too slowly
};

class ServerStats {
 public:
  using Counter = std::atomic<uint64_t>;
  static void Add(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  ServerStatsSnapshot snapshot() const;

  Counter connections_accepted{0};
  Counter connections_active{0};
  Counter connections_rejected{0};
  Counter tls_handshake_failures{0};
  Counter requests{0};
  Counter timeouts_handshake{0};
  Counter timeouts_header{0};
  Counter timeouts_body{0};
  Counter timeouts_idle{0};
  Counter timeouts_write{0};
  Counter responses_400_malformed{0};
  Counter responses_408_timeout{0};
  Counter responses_413_body_too_large{0};
  Counter responses_431_header_too_large{0};
  Counter responses_503_overloaded{0};
  Counter exchanges_aborted{0};
  Counter stream_buffer_overflows{0};
};

inline ServerStatsSnapshot ServerStats::snapshot() const {
  auto r = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
  ServerStatsSnapshot s;
  s.connections_accepted = r(connections_accepted);
  s.connections_active = r(connections_active);
  s.connections_rejected = r(connections_rejected);
  s.tls_handshake_failures = r(tls_handshake_failures);
  s.requests = r(requests);
  s.timeouts_handshake = r(timeouts_handshake);
  s.timeouts_header = r(timeouts_header);
  s.timeouts_body = r(timeouts_body);
  s.timeouts_idle = r(timeouts_idle);
  s.timeouts_write = r(timeouts_write);
  s.responses_400_malformed = r(responses_400_malformed);
  s.responses_408_timeout = r(responses_408_timeout);
  s.responses_413_body_too_large = r(responses_413_body_too_large);
  s.responses_431_header_too_large = r(responses_431_header_too_large);
  s.responses_503_overloaded = r(responses_503_overloaded);
  s.exchanges_aborted = r(exchanges_aborted);
  s.stream_buffer_overflows = r(stream_buffer_overflows);
  return s;
}

}  // namespace parapet::gateway
