// A Handler for the transport tests, with routes that echo, stream, answer late or hold the
// exchange, plus small helpers (a temporary directory, a query-string reader). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/exchange.h"

namespace parapet::gateway::testing {

// Routes (any method):
//   /echo                  200, body = request body, x-echo-method = the method
//   /peer                  200, body = "<remote>|<tls|plain>|<client cert subject>"
//   /stream?n=N&delay_ms=D streams "chunk-0\n" ... "chunk-<N-1>\n" from another thread
//   /slow?ms=M             200 "slow" after M ms, from another thread
//   /hold                  never answers; keeps the exchange (held())
//   /hold-stream           starts a stream, writes "first", keeps the exchange
//   /flood?chunk=B&delay_ms=D  writes B-byte chunks (one per D ms) until Write returns false
//                          (flood_rejected())
// Every exchange gets an OnAbort that counts it in aborts().
class TestHandler : public Handler {
 public:
  ~TestHandler() override;
  void Handle(std::shared_ptr<Exchange> exchange) override;

  std::shared_ptr<Exchange> held();
  int requests() const { return requests_.load(); }
  int aborts() const { return aborts_.load(); }
  int64_t last_abort_ms() const { return last_abort_ms_.load(); }
  bool flood_rejected() const { return flood_rejected_.load(); }
  // Waits until aborts() >= n; false after timeout_ms.
  bool WaitAborts(int n, int timeout_ms) const;
  bool WaitRequests(int n, int timeout_ms) const;

 private:
  void Spawn(std::function<void()> fn);
  void Hold(const std::shared_ptr<Exchange>& exchange);

  std::atomic<int> requests_{0};
  std::atomic<int> aborts_{0};
  std::atomic<int64_t> last_abort_ms_{0};
  std::atomic<bool> flood_rejected_{false};
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  std::shared_ptr<Exchange> held_;    // GUARDED_BY(mu_)
};

// The integer value of `key` in the target's query string, or `fallback`.
int64_t QueryInt(const std::string& target, const std::string& key, int64_t fallback);

// A fresh directory under the system temp dir; removed by ~TempDir.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace parapet::gateway::testing
