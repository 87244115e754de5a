// Prometheus registry and text exposition format 0.0.4 (see metrics.h).
#include "gateway/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/check.h"

namespace parapet::gateway {
namespace {

enum Kind { kCounter = 0, kGauge = 1, kHistogram = 2, kCallbackGauge = 3 };

const char* TypeName(int kind) {
  switch (kind) {
    case kCounter:
      return "counter";
    case kHistogram:
      return "histogram";
    default:
      return "gauge";
  }
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void CheckNames(std::string_view name, const std::vector<std::string>& label_names) {
  PARAPET_CHECK(IsValidName(name, /*allow_colon=*/true));
  for (const std::string& label : label_names) {
    PARAPET_CHECK(IsValidName(label, /*allow_colon=*/false) && label.rfind("__", 0) != 0 &&
                  label != "le");
  }
}

// Shortest text that reads back as `v`; Prometheus spellings for the special values.
void AppendValue(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto result = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, result.ptr);
  }
}

void AppendEscaped(std::string_view text, bool quote_escapes, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote_escapes) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// {a="x",b="y"[,le="…"]} or nothing when there are no labels at all.
void AppendLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                  std::string_view le, std::string* out) {
  if (names.empty() && le.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(names[i]).append("=\"");
    AppendEscaped(values[i], /*quote_escapes=*/true, out);
    out->push_back('"');
  }
  if (!le.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append("le=\"").append(le).push_back('"');
  }
  out->push_back('}');
}

void AppendSample(std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& values, std::string_view le, double v,
                  std::string* out) {
  out->append(name).append(suffix);
  AppendLabels(label_names, values, le, out);
  out->push_back(' ');
  AppendValue(v, out);
  out->push_back('\n');
}

void AppendHistogram(std::string_view name, const std::vector<std::string>& label_names,
                     const std::vector<std::string>& values, const Histogram& h, std::string* out) {
  uint64_t cumulative = 0;
  const std::vector<double>& bounds = h.upper_bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += h.bucket_count(i);
    std::string le;
    AppendValue(i < bounds.size() ? bounds[i] : INFINITY, &le);
    AppendSample(name, "_bucket", label_names, values, le, static_cast<double>(cumulative), out);
  }
  AppendSample(name, "_sum", label_names, values, {}, h.sum(), out);
  // The +Inf bucket's total, so _count and the buckets agree even under concurrent updates.
  AppendSample(name, "_count", label_names, values, {}, static_cast<double>(cumulative), out);
}

}  // namespace

// ---- metric types ----

void Counter::Inc(double v) {
  PARAPET_CHECK(v >= 0);
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::Inc(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    PARAPET_CHECK(std::isfinite(upper_bounds_[i]));
    PARAPET_CHECK(i == 0 || upper_bounds_[i - 1] < upper_bounds_[i]);
  }
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // First bucket whose upper bound is >= v ("le" semantics); past the end = +Inf.
  size_t i =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) - upper_bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::bucket_count(size_t i) const {
  PARAPET_CHECK(i <= upper_bounds_.size());
  return buckets_[i].load(std::memory_order_relaxed);
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> TtftBucketsSeconds() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

// ---- families ----

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  PARAPET_CHECK(values.size() == label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_()).first;
  return *it->second;
}

template <typename T>
T& Family<T>::WithLabels(std::initializer_list<std::string_view> values) {
  return WithLabels(std::vector<std::string>(values.begin(), values.end()));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- registry ----

struct MetricsRegistry::Entry {
  int kind = kCounter;
  std::string name;
  std::string help;
  std::vector<std::string> label_names;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  std::map<std::vector<std::string>, std::function<double()>> callbacks;  // by label values
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Entry& MetricsRegistry::FindOrAdd(std::string_view name, std::string_view help,
                                                   int kind,
                                                   const std::vector<std::string>& label_names) {
  CheckNames(name, label_names);
  for (const auto& entry : entries_) {
    if (entry->name == name) {
      PARAPET_CHECK(entry->kind == kind && entry->label_names == label_names);
      return *entry;
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = kind;
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->label_names = label_names;
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Family<Counter>& MetricsRegistry::AddCounter(std::string_view name, std::string_view help,
                                             std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = FindOrAdd(name, help, kCounter, label_names);
  if (!e.counters) {
    e.counters.reset(
        new Family<Counter>(std::move(label_names), [] { return std::make_unique<Counter>(); }));
  }
  return *e.counters;
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                         std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = FindOrAdd(name, help, kGauge, label_names);
  if (!e.gauges) {
    e.gauges.reset(
        new Family<Gauge>(std::move(label_names), [] { return std::make_unique<Gauge>(); }));
  }
  return *e.gauges;
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                                 std::vector<double> upper_bounds,
                                                 std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = FindOrAdd(name, help, kHistogram, label_names);
  if (!e.histograms) {
    Histogram check(upper_bounds);  // validates the bounds now, not at first use
    e.histograms.reset(new Family<Histogram>(std::move(label_names), [upper_bounds] {
      return std::make_unique<Histogram>(upper_bounds);
    }));
  }
  return *e.histograms;
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       std::function<double()> fn,
                                       std::vector<std::pair<std::string, std::string>> labels) {
  PARAPET_CHECK(fn != nullptr);
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (auto& [label, value] : labels) {
    names.push_back(std::move(label));
    values.push_back(std::move(value));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = FindOrAdd(name, help, kCallbackGauge, names);
  e.callbacks[std::move(values)] = std::move(fn);
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& entry : entries_) {
    const Entry& e = *entry;
    out.append("# HELP ").append(e.name).push_back(' ');
    AppendEscaped(e.help, /*quote_escapes=*/false, &out);
    out.append("\n# TYPE ").append(e.name).push_back(' ');
    out.append(TypeName(e.kind)).push_back('\n');
    if (e.counters) {
      std::lock_guard<std::mutex> family_lock(e.counters->mu_);
      for (const auto& [values, c] : e.counters->children_) {
        AppendSample(e.name, "", e.label_names, values, {}, c->value(), &out);
      }
    } else if (e.gauges) {
      std::lock_guard<std::mutex> family_lock(e.gauges->mu_);
      for (const auto& [values, g] : e.gauges->children_) {
        AppendSample(e.name, "", e.label_names, values, {}, g->value(), &out);
      }
    } else if (e.histograms) {
      std::lock_guard<std::mutex> family_lock(e.histograms->mu_);
      for (const auto& [values, h] : e.histograms->children_) {
        AppendHistogram(e.name, e.label_names, values, *h, &out);
      }
    } else {
      for (const auto& [values, fn] : e.callbacks) {
        AppendSample(e.name, "", e.label_names, values, {}, fn(), &out);
      }
    }
  }
  return out;
}

}  // namespace parapet::gateway
