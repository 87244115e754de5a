#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace parapet::gateway {
namespace {

TEST(MetricsRegistry, CountersAndGaugesRender) {
  MetricsRegistry reg;
  auto& requests = reg.AddCounter("parapet_http_requests_total", "Requests by route and status.",
                                  {"route", "status"});
  requests.WithLabels({"/v1/models", "200"}).Inc();
  requests.WithLabels({"/v1/chat/completions", "200"}).Inc(2);
  requests.WithLabels({"/v1/chat/completions", "400"}).Inc();
  auto& active = reg.AddGauge("parapet_active_streams", "Open SSE streams.");
  active.Get().Inc(3);
  active.Get().Dec();
  EXPECT_EQ(reg.Render(),
            "# HELP parapet_http_requests_total Requests by route and status.\n"
            "# TYPE parapet_http_requests_total counter\n"
            "parapet_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2\n"
            "parapet_http_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 1\n"
            "parapet_http_requests_total{route=\"/v1/models\",status=\"200\"} 1\n"
            "# HELP parapet_active_streams Open SSE streams.\n"
            "# TYPE parapet_active_streams gauge\n"
            "parapet_active_streams 2\n");
}

TEST(MetricsRegistry, HistogramRender) {
  MetricsRegistry reg;
  auto& latency = reg.AddHistogram("parapet_request_seconds", "Latency.", {0.1, 0.5, 1}, {"route"});
  Histogram& h = latency.WithLabels({"chat"});
  for (double v : {0.0625, 0.1, 0.25, 2.0, 0.75}) h.Observe(v);
  h.Observe(NAN);  // ignored
  EXPECT_EQ(reg.Render(),
            "# HELP parapet_request_seconds Latency.\n"
            "# TYPE parapet_request_seconds histogram\n"
            "parapet_request_seconds_bucket{route=\"chat\",le=\"0.1\"} 2\n"
            "parapet_request_seconds_bucket{route=\"chat\",le=\"0.5\"} 3\n"
            "parapet_request_seconds_bucket{route=\"chat\",le=\"1\"} 4\n"
            "parapet_request_seconds_bucket{route=\"chat\",le=\"+Inf\"} 5\n"
            "parapet_request_seconds_sum{route=\"chat\"} 3.1625\n"
            "parapet_request_seconds_count{route=\"chat\"} 5\n");
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.bucket_count(3), 1u);
}

TEST(MetricsRegistry, HistogramWithoutLabels) {
  MetricsRegistry reg;
  reg.AddHistogram("ttft_seconds", "TTFT.", {1}).Get().Observe(0.5);
  EXPECT_EQ(reg.Render(),
            "# HELP ttft_seconds TTFT.\n# TYPE ttft_seconds histogram\n"
            "ttft_seconds_bucket{le=\"1\"} 1\nttft_seconds_bucket{le=\"+Inf\"} 1\n"
            "ttft_seconds_sum 0.5\nttft_seconds_count 1\n");
}

TEST(MetricsRegistry, EscapingOfLabelValuesAndHelp) {
  MetricsRegistry reg;
  reg.AddCounter("c_total", "Line one\nback\\slash \"quoted\"", {"v"})
      .WithLabels({"a\"b\\c\nd"})
      .Inc();
  EXPECT_EQ(reg.Render(),
            "# HELP c_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsRegistry, CallbackGauges) {
  MetricsRegistry reg;
  int depth = 4;
  reg.AddCallbackGauge("parapet_queue_depth", "Queued requests.", [&] { return depth; });
  reg.AddCallbackGauge("parapet_kv_cache_used_ratio", "KV use.", [] { return 0.25; },
                       {{"model", "b"}});
  reg.AddCallbackGauge("parapet_kv_cache_used_ratio", "KV use.", [] { return NAN; },
                       {{"model", "a"}});
  depth = 7;
  EXPECT_EQ(reg.Render(),
            "# HELP parapet_queue_depth Queued requests.\n"
            "# TYPE parapet_queue_depth gauge\n"
            "parapet_queue_depth 7\n"
            "# HELP parapet_kv_cache_used_ratio KV use.\n"
            "# TYPE parapet_kv_cache_used_ratio gauge\n"
            "parapet_kv_cache_used_ratio{model=\"a\"} NaN\n"
            "parapet_kv_cache_used_ratio{model=\"b\"} 0.25\n");
}

TEST(MetricsRegistry, SameNameReturnsSameFamily) {
  MetricsRegistry reg;
  auto& a = reg.AddCounter("x_total", "X.", {"k"});
  auto& b = reg.AddCounter("x_total", "X.", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"1"}), &b.WithLabels({"1"}));
}

TEST(MetricsRegistry, FamilyWithNoChildrenRendersHeaderOnly) {
  MetricsRegistry reg;
  reg.AddCounter("y_total", "Y.", {"k"});
  EXPECT_EQ(reg.Render(), "# HELP y_total Y.\n# TYPE y_total counter\n");
}

TEST(MetricsRegistryDeathTest, BadNamesAreBugs) {
  MetricsRegistry reg;
  EXPECT_DEATH(reg.AddCounter("1bad", "h"), "");
  EXPECT_DEATH(reg.AddCounter("ok_total", "h", {"__reserved"}), "");
  EXPECT_DEATH(reg.AddCounter("ok_total", "h", {"le"}), "");
  EXPECT_DEATH(reg.AddHistogram("h", "h", {1, 0.5}), "");
  reg.AddCounter("dup", "h");
  EXPECT_DEATH(reg.AddGauge("dup", "h"), "");
}

TEST(Histogram, DefaultBucketsAreIncreasing) {
  Histogram a(LatencyBucketsSeconds());
  Histogram b(TtftBucketsSeconds());
  EXPECT_EQ(a.upper_bounds().back(), 60);
  EXPECT_EQ(b.upper_bounds().front(), 0.01);
}

TEST(MetricsRegistry, ConcurrentUpdatesAreCounted) {
  MetricsRegistry reg;
  auto& family = reg.AddCounter("n_total", "N.", {"t"});
  auto& hist = reg.AddHistogram("lat", "L.", {0.5}).Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        family.WithLabels({t % 2 ? "odd" : "even"}).Inc();
        hist.Observe(i % 2 ? 0.25 : 1.0);
        if (i % 1000 == 0) (void)reg.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.WithLabels({"odd"}).value(), 40000);
  EXPECT_EQ(family.WithLabels({"even"}).value(), 40000);
  EXPECT_EQ(hist.count(), 80000u);
  EXPECT_EQ(hist.bucket_count(0), 40000u);
  EXPECT_DOUBLE_EQ(hist.sum(), 40000 * 1.25);
}

}  // namespace
}  // namespace parapet::gateway
