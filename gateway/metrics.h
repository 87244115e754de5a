// Metrics: a small Prometheus registry for /metrics. Families of counters, gauges and histograms,
// each with a fixed list of label names; a child per distinct list of label values. Callback
// gauges are evaluated at render time (engine queue depth, active sequences, KV-cache use).
// Render() writes the text exposition format 0.0.4:
//   # HELP parapet_http_requests_total Requests by route and status.
//   # TYPE parapet_http_requests_total counter
//   parapet_http_requests_total{route="/v1/chat/completions",status="200"} 12
//   parapet_request_seconds_bucket{route="chat",le="0.1"} 3 … le="+Inf"} 5, _sum, _count
// Families appear in registration order, children sorted by label values. Label values are
// escaped (\\, \", \n); HELP text escapes \\ and \n.
//
// Thread-safety: everything may be called from any thread. Counter/Gauge/Histogram updates are
// lock-free atomics; finding or creating a child (WithLabels) takes the family's mutex, so hot
// paths should look a child up once and keep the reference (children live as long as the
// registry). Registration and Render take the registry's mutex. Callback gauges run on the
// thread that calls Render, under that mutex: they must be thread-safe and must not call back
// into the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace parapet::gateway {

class Counter {
 public:
  // REQUIRES: v >= 0.
  void Inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1);
  void Dec(double v = 1) { Inc(-v); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // REQUIRES: `upper_bounds` strictly increasing, finite (the +Inf bucket is implicit).
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  // Snapshot accessors (for Render and tests).
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  uint64_t bucket_count(size_t i) const;  // observations in bucket i alone (not cumulative);
                                          // i == upper_bounds().size() is the +Inf bucket
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // [upper_bounds_.size() + 1]
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Default buckets: request latency in seconds, and time to first token in seconds.
std::vector<double> LatencyBucketsSeconds();  // 0.005 … 60
std::vector<double> TtftBucketsSeconds();     // 0.01 … 30

// A metric family: one name, one help text, fixed label names, a child per label-value list.
template <typename T>
class Family {
 public:
  // The child for `values` (one per label name, in order), created on first use.
  // REQUIRES: values.size() == label names' count.
  T& WithLabels(const std::vector<std::string>& values);
  T& WithLabels(std::initializer_list<std::string_view> values);
  // For families without labels.
  T& Get() { return WithLabels(std::vector<std::string>{}); }

 private:
  friend class MetricsRegistry;
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;  // GUARDED_BY(mu_)
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family, or returns the existing one of the same name (REQUIRES: same kind and
  // label names). Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
  // and not start with "__" (checked: a bad name is a bug). The family lives as long as the
  // registry.
  Family<Counter>& AddCounter(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> upper_bounds,
                                  std::vector<std::string> label_names = {});

  // A gauge whose value is `fn()` at render time, e.g. the engine's queue depth. Several
  // callbacks may share a name with different label values (same label names). `fn` must be
  // thread-safe and cheap; NaN and infinities are rendered as NaN, +Inf, -Inf.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> fn,
                        std::vector<std::pair<std::string, std::string>> labels = {});

  // The text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string Render() const;

 private:
  struct Entry;
  Entry& FindOrAdd(std::string_view name, std::string_view help, int kind,
                   const std::vector<std::string>& label_names);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // GUARDED_BY(mu_), registration order
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Content-Type of Render()'s output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace parapet::gateway
