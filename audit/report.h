// `parapet audit report`: one self-contained HTML page summarizing an audit log read by
// ReadAuditLog — the verification result (computed by the caller), request and decision counts,
// decisions over time, the rules that fired, per-tenant counts, the policy versions in force and
// the gateway's lifecycle events.
//
// The page has no external references at all (no scripts, fonts, stylesheets or images to fetch;
// CSS and SVG charts are inline) so it can be archived and opened offline. Every string that
// comes from the log (tenants, rule ids, request fields, errors) is HTML-escaped: a log written by
// a hostile client cannot inject markup.
//
// Thread-safety: RenderHtmlReport is a pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "audit/log_reader.h"
#include "audit/timestamp.h"

namespace parapet::audit {

// What verifying the log found, as the caller (the `audit report` command, which runs the
// verifier) reports it.
struct VerificationSummary {
  bool ran = false;    // false: the report says the log was not verified
  bool valid = false;  // meaningful when ran
  std::string text;    // one line, e.g. "1042 records, 3 files, 2 checkpoints verified"
  std::vector<std::string> problems;  // what failed, one entry each
};

struct ReportOptions {
  std::string title = "Parapet audit report";  // page title and heading
  TimeUs generated_at = 0;                     // when the report was made (shown as UTC)
  VerificationSummary verification;
  size_t max_rules = 20;        // rules in the top-rules table and chart
  size_t max_table_rows = 500;  // other tables stop here and say how many rows were left out
};

// The report page for `log`. Counts, as the page states them:
//   requests        admission records joined with completions (JoinRequests), each counted once;
//   input/output    requests by admission decision and by completion decision;
//   errors          completions with finish_reason error or timeout, or an HTTP status >= 500;
//   unfinished      admissions with no completion in the log;
//   over time       each request in the bucket of its time, stacked by its most severe decision
//                   (input or output); buckets of a minute, an hour or a day, from the log's span;
//   rules           findings per rule id, input and output, enforced and shadow;
//   policy versions (policy, sha256) pairs named by start records, successful policy_reload
//                   records and admissions, with the first and last time each was seen.
std::string RenderHtmlReport(const AuditLog& log, const ReportOptions& options);

}  // namespace parapet::audit
