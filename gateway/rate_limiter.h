// RateLimiter: per-API-key admission limits. Two token buckets per key:
//   - requests: `requests_per_second` refill, capacity `burst` (0 = max(1, ceil(rps))),
//     one request costs 1;
//   - tokens: `tokens_per_minute` / 60 refill per second, capacity `tokens_per_minute`; a request
//     reserves prompt tokens + max_tokens at admission and the unused part is refunded by Release
//     when it completes (an overrun, used > reserved, is debited then).
// TryAcquire admits only when both buckets can pay (neither is charged otherwise) and else says
// after how many whole seconds (>= 1) the request would fit: the Retry-After value of the 429.
// A reservation larger than the token bucket's capacity can never fit (kTooLarge: answer 429
// "request too large", no Retry-After). Limits of 0 mean unlimited.
//
// Time comes from an injected monotonic clock (tests step it; no sleeps).
// Thread-safe: keys are sharded over 16 mutex-protected maps; calls on different keys rarely
// contend. Key state lives as long as the limiter (keys are configured, so few).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parapet::gateway {

// Per-key limits (configuration).
struct RateLimits {
  double requests_per_second = 0;  // sustained request rate; 0 = unlimited
  int32_t burst = 0;               // requests admitted at once after idling; 0 = max(1, ceil(rps))
  int64_t tokens_per_minute = 0;   // prompt + max_tokens reserved per minute; 0 = unlimited
};

using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;

// What TryAcquire decided.
struct Admission {
  enum class Outcome { kAdmitted, kLimited, kTooLarge };
  Outcome outcome = Outcome::kAdmitted;  // kTooLarge: limited_by "tokens", no retry_after_s
  bool admitted() const { return outcome == Outcome::kAdmitted; }
  // kLimited: which bucket refused ("requests" or "tokens") and whole seconds until it would
  // admit this request (>= 1), for the Retry-After header.
  std::string limited_by;
  int64_t retry_after_s = 0;
  // kAdmitted: tokens reserved (pass to Release).
  int64_t reserved_tokens = 0;
};

class RateLimiter {
 public:
  // `clock` defaults to std::chrono::steady_clock::now.
  explicit RateLimiter(MonotonicClock clock = {});

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Admits one request for `key_id` (a stable key identity, e.g. its configured hash) under
  // `limits`, reserving `reserve_tokens` (>= 0) from its token bucket. A changed `limits` for a
  // known key takes effect from this call on (buckets are clamped to the new capacity).
  Admission TryAcquire(std::string_view key_id, const RateLimits& limits, int64_t reserve_tokens);

  // Completes an admitted request: refunds reserved - used tokens (or debits the overrun).
  // REQUIRES: `admission` came from TryAcquire(key_id, …) and was admitted; called once.
  void Release(std::string_view key_id, const Admission& admission, int64_t used_tokens);

 private:
  struct Bucket {
    double requests = 0;  // available request tokens
    double tokens = 0;    // available LLM tokens (may go negative after an overrun)
    std::chrono::steady_clock::time_point last;
    RateLimits limits;
    bool initialized = false;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // GUARDED_BY(mu)
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(std::string_view key_id);
  void Refill(Bucket& bucket, const RateLimits& limits,
              std::chrono::steady_clock::time_point now) const;

  MonotonicClock clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace parapet::gateway
