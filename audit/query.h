// `parapet audit query`: selecting requests (or lifecycle records) from an audit log read by
// ReadAuditLog, and printing them as JSON Lines or as an aligned table.
//
// What a filter matches. Without `type` (or with type "request") the query lists requests: an
// admission record joined with its completion record by request_id (JoinRequests). Every filter
// set must match, and each applies to the request as a whole:
//   since / until   the request's time (its admission's `ts`, or its completion's when the
//                   admission is not in the log) is >= since and < until;
//   tenant          the admission's tenant, exactly;
//   decision        block, redact or flag: the input decision (admission) OR the output decision
//                   (completion) is that one, so "block" finds requests blocked at admission and
//                   requests whose output was blocked. allow: every decision the request has is
//                   allow (nothing was blocked, redacted or flagged on either side);
//   rule            a rule id among the admission's or the completion's findings (enforced or
//                   shadow);
//   policy_version  the admission's policy_version starts with this (at least 8 hex characters;
//                   case does not matter).
// With a lifecycle type (start, stop, policy_reload, ...) or "lifecycle" (all of them) the query
// lists those records instead; since/until apply to their `ts`, policy_version matches the
// versions a start or successful policy_reload record names, and tenant/decision/rule are
// rejected as meaningless there. "admission" and "completion" are rejected: those records are
// queried as requests.
//
// Thread-safety: free functions are thread-safe. Results point into the AuditLog they came
// from, which must outlive them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audit/log_reader.h"
#include "audit/timestamp.h"
#include "common/status.h"

namespace parapet::audit {

// A query's filters; unset ones match everything. Built from command-line flags: times through
// ParseTime, the rest as given (Query validates them).
struct QueryFilter {
  std::optional<TimeUs> since;                // inclusive
  std::optional<TimeUs> until;                // exclusive
  std::optional<std::string> tenant;          // exact
  std::optional<std::string> decision;        // block | redact | flag | allow
  std::optional<std::string> rule;            // rule id, exact
  std::optional<std::string> policy_version;  // hex prefix, >= 8 characters
  std::optional<std::string> type;            // request (default) | lifecycle | a lifecycle type
};

struct QueryResult {
  bool lifecycle = false;                 // true: `records` holds the answer, else `requests`
  std::vector<Request> requests;          // matching requests, in log order
  std::vector<const LogRecord*> records;  // matching lifecycle records, in log order
};

// The requests or lifecycle records of `log` that `filter` matches (semantics above).
// InvalidArgument for an unknown decision or type, a policy_version that is not >= 8 hex
// characters, since >= until, or request-only filters with a lifecycle type.
Result<QueryResult> Query(const AuditLog& log, const QueryFilter& filter);

// One JSON object per line. A request: {"request_id", "ts", "tenant", "route", "model",
// "policy", "policy_version", "input_decision", "output_decision", "finish_reason", "status",
// "rules", "admission_seq", "completion_seq"} — fields of a missing record are "" (status and
// the seq of a missing record null), "rules" the distinct rule ids that fired, input then
// output. A lifecycle record: {"seq", "ts", "type", then its own fields as in the log}.
std::string FormatJsonl(const QueryResult& result);

// A header row and one row per request or record, columns aligned with spaces; empty values as
// "-". Control characters in values (which come from the log) are shown escaped, never sent to
// the terminal.
std::string FormatTable(const QueryResult& result);

}  // namespace parapet::audit
