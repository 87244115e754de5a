// Per-key token buckets for requests per second and tokens per minute (semantics:
// rate_limiter.h).
#include "gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/check.h"

namespace parapet::gateway {
namespace {

double RequestCapacity(const RateLimits& limits) {
  if (limits.burst > 0) return limits.burst;
  return std::max(1.0, std::ceil(limits.requests_per_second));
}

// Whole seconds (>= 1) until `deficit` refills at `per_second`.
int64_t SecondsToRefill(double deficit, double per_second) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(deficit / per_second - 1e-9)));
}

}  // namespace

RateLimiter::RateLimiter(MonotonicClock clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

RateLimiter::Shard& RateLimiter::ShardFor(std::string_view key_id) {
  return shards_[std::hash<std::string_view>()(key_id) % kShards];
}

void RateLimiter::Refill(Bucket& bucket, const RateLimits& limits,
                         std::chrono::steady_clock::time_point now) const {
  double request_capacity = RequestCapacity(limits);
  double token_capacity = static_cast<double>(limits.tokens_per_minute);
  if (!bucket.initialized) {
    bucket = Bucket{request_capacity, token_capacity, now, limits, true};
    return;
  }
  double seconds = std::chrono::duration<double>(now - bucket.last).count();
  if (seconds > 0) {
    bucket.requests += seconds * limits.requests_per_second;
    bucket.tokens += seconds * token_capacity / 60.0;
    bucket.last = now;
  }
  bucket.requests = std::min(bucket.requests, request_capacity);
  bucket.tokens = std::min(bucket.tokens, token_capacity);
  bucket.limits = limits;
}

Admission RateLimiter::TryAcquire(std::string_view key_id, const RateLimits& limits,
                                  int64_t reserve_tokens) {
  PARAPET_CHECK(reserve_tokens >= 0);
  bool limit_requests = limits.requests_per_second > 0;
  bool limit_tokens = limits.tokens_per_minute > 0;
  Admission admission;
  if (!limit_requests && !limit_tokens) return admission;
  if (limit_tokens && reserve_tokens > limits.tokens_per_minute) {
    admission.outcome = Admission::Outcome::kTooLarge;
    admission.limited_by = "tokens";
    return admission;
  }
  auto now = clock_();
  Shard& shard = ShardFor(key_id);
  std::lock_guard<std::mutex> lock(shard.mu);
  Bucket& bucket = shard.buckets[std::string(key_id)];
  Refill(bucket, limits, now);
  int64_t wait_requests = 0;
  int64_t wait_tokens = 0;
  if (limit_requests && bucket.requests < 1.0) {
    wait_requests = SecondsToRefill(1.0 - bucket.requests, limits.requests_per_second);
  }
  double tokens = static_cast<double>(reserve_tokens);
  if (limit_tokens && bucket.tokens < tokens) {
    wait_tokens = SecondsToRefill(tokens - bucket.tokens, limits.tokens_per_minute / 60.0);
  }
  if (wait_requests > 0 || wait_tokens > 0) {
    admission.outcome = Admission::Outcome::kLimited;
    admission.limited_by = wait_tokens > wait_requests ? "tokens" : "requests";
    admission.retry_after_s = std::max(wait_requests, wait_tokens);
    return admission;
  }
  if (limit_requests) bucket.requests -= 1.0;
  if (limit_tokens) {
    bucket.tokens -= tokens;
    admission.reserved_tokens = reserve_tokens;
  }
  return admission;
}

void RateLimiter::Release(std::string_view key_id, const Admission& admission,
                          int64_t used_tokens) {
  PARAPET_CHECK(admission.admitted());
  if (admission.reserved_tokens == 0 && used_tokens <= 0) return;  // nothing to settle
  auto now = clock_();
  Shard& shard = ShardFor(key_id);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(std::string(key_id));
  if (it == shard.buckets.end()) return;
  Bucket& bucket = it->second;
  if (bucket.limits.tokens_per_minute <= 0) return;  // tokens are not limited for this key
  Refill(bucket, bucket.limits, now);
  bucket.tokens +=
      static_cast<double>(admission.reserved_tokens - std::max<int64_t>(0, used_tokens));
  bucket.tokens = std::min(bucket.tokens, static_cast<double>(bucket.limits.tokens_per_minute));
}

}  // namespace parapet::gateway
