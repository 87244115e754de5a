#include "gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace parapet::gateway {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A clock the test steps by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point now{seconds(1000)};
  MonotonicClock Fn() {
    return [this] { return now; };
  }
};

TEST(RateLimiter, UnlimitedAlwaysAdmits) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  for (int i = 0; i < 1000; ++i) {
    Admission a = limiter.TryAcquire("k", RateLimits{}, 1 << 20);
    ASSERT_TRUE(a.admitted());
    EXPECT_EQ(a.reserved_tokens, 0);
  }
}

TEST(RateLimiter, RequestBucketWithBurst) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{/*requests_per_second=*/2, /*burst=*/5, /*tokens_per_minute=*/0};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.TryAcquire("k", limits, 0).admitted()) << i;
  Admission a = limiter.TryAcquire("k", limits, 0);
  ASSERT_EQ(a.outcome, Admission::Outcome::kLimited);
  EXPECT_EQ(a.limited_by, "requests");
  EXPECT_EQ(a.retry_after_s, 1);
  clock.now += milliseconds(499);
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 0).admitted());
  clock.now += milliseconds(2);
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 0).admitted());
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 0).admitted());
  // Idle refills up to the burst, not beyond.
  clock.now += seconds(3600);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.TryAcquire("k", limits, 0).admitted());
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 0).admitted());
}

TEST(RateLimiter, DefaultBurstIsCeilOfRate) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{0.5, 0, 0};  // one request every 2 s, burst 1
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 0).admitted());
  Admission a = limiter.TryAcquire("k", limits, 0);
  ASSERT_FALSE(a.admitted());
  EXPECT_EQ(a.retry_after_s, 2);
}

TEST(RateLimiter, KeysAreIndependent) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{1, 1, 0};
  EXPECT_TRUE(limiter.TryAcquire("a", limits, 0).admitted());
  EXPECT_FALSE(limiter.TryAcquire("a", limits, 0).admitted());
  EXPECT_TRUE(limiter.TryAcquire("b", limits, 0).admitted());
}

TEST(RateLimiter, TokensReservedAndRefunded) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{0, 0, /*tokens_per_minute=*/600};  // 10 tokens per second
  Admission a = limiter.TryAcquire("k", limits, 500);
  ASSERT_TRUE(a.admitted());
  EXPECT_EQ(a.reserved_tokens, 500);
  Admission b = limiter.TryAcquire("k", limits, 200);  // 100 left
  ASSERT_EQ(b.outcome, Admission::Outcome::kLimited);
  EXPECT_EQ(b.limited_by, "tokens");
  EXPECT_EQ(b.retry_after_s, 10);                // 100 missing at 10/s
  limiter.Release("k", a, /*used_tokens=*/120);  // refund 380 -> 480 available
  Admission c = limiter.TryAcquire("k", limits, 480);
  ASSERT_TRUE(c.admitted());
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 1).admitted());
  clock.now += milliseconds(100);  // +1 token
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 1).admitted());
}

TEST(RateLimiter, RefundNeverExceedsCapacityAndOverrunIsDebited) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{0, 0, 600};
  Admission a = limiter.TryAcquire("k", limits, 100);
  ASSERT_TRUE(a.admitted());
  clock.now += seconds(60);  // full again
  limiter.Release("k", a, 0);
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 600).admitted());
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 1).admitted());
  clock.now += seconds(60);
  Admission b = limiter.TryAcquire("k", limits, 100);
  ASSERT_TRUE(b.admitted());
  limiter.Release("k", b, 300);  // used 200 more than reserved -> 300 left
  EXPECT_FALSE(limiter.TryAcquire("k", limits, 301).admitted());
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 300).admitted());
}

TEST(RateLimiter, TooLargeNeverFits) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  Admission a = limiter.TryAcquire("k", RateLimits{0, 0, 100}, 101);
  EXPECT_EQ(a.outcome, Admission::Outcome::kTooLarge);
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_EQ(a.retry_after_s, 0);
}

TEST(RateLimiter, RejectionChargesNeitherBucket) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  RateLimits limits{1, 2, 60};
  ASSERT_TRUE(limiter.TryAcquire("k", limits, 60).admitted());
  // Tokens are exhausted: this is refused and must not use up a request slot.
  Admission a = limiter.TryAcquire("k", limits, 30);
  ASSERT_FALSE(a.admitted());
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_EQ(a.retry_after_s, 30);
  EXPECT_TRUE(limiter.TryAcquire("k", limits, 0).admitted());  // second of the burst of 2
  Admission b = limiter.TryAcquire("k", limits, 0);
  EXPECT_EQ(b.limited_by, "requests");
}

TEST(RateLimiter, LimitsChangeTakesEffect) {
  FakeClock clock;
  RateLimiter limiter(clock.Fn());
  EXPECT_TRUE(limiter.TryAcquire("k", RateLimits{10, 10, 0}, 0).admitted());
  // Lowered burst: the bucket is clamped to 1, which the next request uses.
  EXPECT_TRUE(limiter.TryAcquire("k", RateLimits{1, 1, 0}, 0).admitted());
  EXPECT_FALSE(limiter.TryAcquire("k", RateLimits{1, 1, 0}, 0).admitted());
}

TEST(RateLimiter, ConcurrentCallersNeverOverAdmit) {
  FakeClock clock;  // frozen: exactly `burst` admissions in total
  RateLimiter limiter(clock.Fn());
  RateLimits limits{1, 1000, 0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.TryAcquire(i % 2 ? "a" : "b", limits, 0).admitted()) admitted++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 2000);  // 1000 for each of the two keys
}

}  // namespace
}  // namespace parapet::gateway
