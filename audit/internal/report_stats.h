// The numbers behind the HTML report (audit/report.h), computed in one pass over an AuditLog and
// kept apart from the markup so each can be read on its own. Internal to parapet_audit.
//
// Thread-safety: ComputeReportStats is a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/log_reader.h"
#include "audit/timestamp.h"

namespace parapet::audit::internal {

struct DecisionCounts {
  int64_t block = 0;
  int64_t redact = 0;
  int64_t flag = 0;
  int64_t allow = 0;

  void Add(const std::string& decision);
  int64_t total() const { return block + redact + flag + allow; }
};

struct RuleCount {
  std::string rule;
  int64_t input = 0;   // admission findings
  int64_t output = 0;  // completion findings
  int64_t shadow = 0;  // of those, findings in shadow mode
  int64_t total() const { return input + output; }
};

struct TenantCount {
  std::string tenant;
  int64_t requests = 0;
  DecisionCounts worst;  // by the request's most severe decision
  int64_t errors = 0;
};

struct PolicyVersionSeen {
  std::string policy;
  std::string version;
  std::string source;  // record type where it was first seen: start, policy_reload, admission
  TimeUs first = 0;
  TimeUs last = 0;
  int64_t admissions = 0;  // admissions checked under it
};

// Requests per time bucket: bucket i covers [start + i * width, start + (i + 1) * width).
struct TimeSeries {
  std::string unit;  // "minute", "hour" or "day"
  TimeUs start = 0;
  TimeUs width = 0;  // a whole number of units
  std::vector<DecisionCounts> buckets;
};

struct ReportStats {
  int64_t records = 0;
  int64_t requests = 0;
  DecisionCounts input;   // admissions' decisions
  DecisionCounts output;  // completions' decisions
  int64_t errors = 0;
  int64_t unfinished = 0;
  int64_t prompt_tokens = 0;      // from completions' usage
  int64_t completion_tokens = 0;  // from completions' usage
  bool has_records = false;
  TimeUs first_ts = 0;
  TimeUs last_ts = 0;
  TimeSeries series;
  std::vector<RuleCount> rules;                    // by total, descending, then rule id
  std::vector<TenantCount> tenants;                // by requests, descending, then tenant
  std::vector<PolicyVersionSeen> policy_versions;  // by first seen
  std::vector<const LogRecord*> lifecycle;         // every non-request record, in log order
};

// At most this many buckets; a longer span widens the buckets by a whole number of units.
inline constexpr size_t kMaxBuckets = 240;

ReportStats ComputeReportStats(const AuditLog& log);

// True for a completion that counts as an error: finish_reason error or timeout, or status >= 500.
bool IsError(const LogRecord& completion);

}  // namespace parapet::audit::internal
