// ComputeReportStats.
#include "audit/internal/report_stats.h"

#include <algorithm>
#include <map>
#include <utility>

namespace parapet::audit::internal {
namespace {

// Bucket unit from the span of the log: minutes up to 3 hours, hours up to 10 days, then days;
// then wide enough for at most kMaxBuckets buckets.
TimeSeries MakeSeries(TimeUs first, TimeUs last) {
  TimeSeries s;
  const TimeUs span = last - first;
  TimeUs unit = kMicrosPerDay;
  s.unit = "day";
  if (span <= 3 * kMicrosPerHour) {
    unit = kMicrosPerMinute;
    s.unit = "minute";
  } else if (span <= 10 * kMicrosPerDay) {
    unit = kMicrosPerHour;
    s.unit = "hour";
  }
  s.start = first - first % unit;
  const TimeUs units = (last - s.start) / unit + 1;
  const TimeUs per_bucket = (units + kMaxBuckets - 1) / static_cast<TimeUs>(kMaxBuckets);
  s.width = unit * per_bucket;
  s.buckets.resize(static_cast<size_t>((last - s.start) / s.width + 1));
  return s;
}

void CountRules(const LogRecord& r, bool input, std::map<std::string, RuleCount>* rules) {
  for (const LogFinding& f : r.findings) {
    RuleCount& c = (*rules)[f.rule];
    c.rule = f.rule;
    ++(input ? c.input : c.output);
    if (f.mode == "shadow") ++c.shadow;
  }
}

void SeeVersion(const std::string& policy, const std::string& version, const LogRecord& r,
                std::map<std::pair<std::string, std::string>, PolicyVersionSeen>* seen) {
  auto [it, inserted] = seen->try_emplace({policy, version});
  PolicyVersionSeen& v = it->second;
  if (inserted) {
    v.policy = policy;
    v.version = version;
    v.source = r.type;
    v.first = r.ts_us;
  }
  v.first = std::min(v.first, r.ts_us);
  v.last = std::max(v.last, r.ts_us);
  if (r.type == "admission") ++v.admissions;
}

void CountRequests(const std::vector<Request>& requests, ReportStats* s) {
  std::map<std::string, TenantCount> tenants;
  for (const Request& q : requests) {
    ++s->requests;
    const std::string& worst = MostSevereDecision(q.input_decision(), q.output_decision());
    const TimeUs t = q.ts_us();
    s->series.buckets[static_cast<size_t>((t - s->series.start) / s->series.width)].Add(worst);
    const std::string tenant = q.admission != nullptr ? q.admission->tenant : "";
    TenantCount& tc = tenants[tenant];
    tc.tenant = tenant;
    ++tc.requests;
    tc.worst.Add(worst);
    if (q.admission != nullptr) s->input.Add(q.admission->decision);
    if (q.completion == nullptr) {
      ++s->unfinished;
      continue;
    }
    s->output.Add(q.completion->decision);
    s->prompt_tokens += q.completion->prompt_tokens;
    s->completion_tokens += q.completion->completion_tokens;
    if (IsError(*q.completion)) {
      ++s->errors;
      ++tc.errors;
    }
  }
  for (auto& [name, tc] : tenants) s->tenants.push_back(std::move(tc));
  std::stable_sort(
      s->tenants.begin(), s->tenants.end(),
      [](const TenantCount& a, const TenantCount& b) { return a.requests > b.requests; });
}

}  // namespace

void DecisionCounts::Add(const std::string& decision) {
  if (decision == "block") {
    ++block;
  } else if (decision == "redact") {
    ++redact;
  } else if (decision == "flag") {
    ++flag;
  } else if (decision == "allow") {
    ++allow;
  }
}

bool IsError(const LogRecord& completion) {
  return completion.finish_reason == "error" || completion.finish_reason == "timeout" ||
         completion.status >= 500;
}

ReportStats ComputeReportStats(const AuditLog& log) {
  ReportStats s;
  std::map<std::string, RuleCount> rules;
  std::map<std::pair<std::string, std::string>, PolicyVersionSeen> versions;
  for (const LogRecord& r : log.records) {
    ++s.records;
    s.first_ts = s.has_records ? std::min(s.first_ts, r.ts_us) : r.ts_us;
    s.last_ts = s.has_records ? std::max(s.last_ts, r.ts_us) : r.ts_us;
    s.has_records = true;
    if (r.type == "admission" || r.type == "completion") {
      CountRules(r, r.type == "admission", &rules);
      if (r.type == "admission" && !r.policy_version.empty()) {
        SeeVersion(r.policy, r.policy_version, r, &versions);
      }
      continue;
    }
    s.lifecycle.push_back(&r);
    for (const auto& [policy, version] : r.policy_versions)
      SeeVersion(policy, version, r, &versions);
  }
  s.series = MakeSeries(s.first_ts, s.last_ts);
  CountRequests(JoinRequests(log), &s);
  for (auto& [id, c] : rules) s.rules.push_back(std::move(c));
  std::stable_sort(s.rules.begin(), s.rules.end(),
                   [](const RuleCount& a, const RuleCount& b) { return a.total() > b.total(); });
  for (auto& [key, v] : versions) s.policy_versions.push_back(std::move(v));
  std::stable_sort(
      s.policy_versions.begin(), s.policy_versions.end(),
      [](const PolicyVersionSeen& a, const PolicyVersionSeen& b) { return a.first < b.first; });
  return s;
}

}  // namespace parapet::audit::internal
