// Reading an audit directory for `parapet audit query` and `parapet audit report`: the log files
// `audit-<log_id>-<20-digit first seq>.jsonl` in seq order, each line parsed into a LogRecord that
// keeps the fields the query and report tools use (record format: audit/FORMAT.md).
//
// This is not verification: hashes, `prev` links, seq continuity and checkpoints are left to
// audit/verify.h. What the reader checks is that each line is a JSON object with the common keys
// and that the fields it keeps have the documented JSON types; a line that fails is not dropped
// silently but reported as a ReadIssue, and the rest of the log is still read.
//
// Thread-safety: free functions are thread-safe; results are plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/timestamp.h"
#include "common/status.h"

namespace parapet::audit {

// One entry of an admission or completion record's `findings`.
struct LogFinding {
  std::string stage;   // "pii", "regex", ...
  std::string rule;    // rule id, e.g. "pii.email"
  std::string action;  // "block" "redact" "flag" ...
  std::string mode;    // "enforce" or "shadow"
};

// One key of a record, as compact JSON and as display text (a string's value unquoted, any
// other value as its JSON).
struct LogField {
  std::string key;
  std::string json;
  std::string text;
};

// The fields of one record that query and report use. Fields a record's type does not have stay
// empty / zero.
struct LogRecord {
  // Where the record is: file name (no directory) and 1-based line number.
  std::string file;
  uint64_t line = 0;

  // Common keys.
  std::string log_id;
  uint64_t seq = 0;
  std::string ts;  // as written, e.g. "2026-11-30T01:02:03.456789Z"
  TimeUs ts_us = 0;
  std::string type;

  // admission and completion.
  std::string request_id;
  std::string decision;  // admission: input verdict; completion: output verdict
  std::vector<LogFinding> findings;
  bool truncated = false;  // the writer cut the findings list

  // admission.
  std::string tenant;
  std::string key_id;
  std::string route;
  std::string model;
  std::string policy;
  std::string policy_version;
  int64_t prompt_tokens = 0;  // admission: prompt.tokens; completion: usage.prompt_tokens

  // completion.
  int64_t status = 0;  // HTTP status
  std::string finish_reason;
  std::string error;
  int64_t completion_tokens = 0;
  double duration_ms = 0;

  // Lifecycle records. `ok` for policy_reload and cert_reload; `policy_versions` is a start
  // record's `policy_versions` or a successful policy_reload's `new` (name -> sha256).
  std::optional<bool> ok;
  std::map<std::string, std::string> policy_versions;
  // Every field after `prev` except `hash`, in record order: what a lifecycle record says, for
  // listings.
  std::vector<LogField> details;

  bool IsRequestRecord() const { return type == "admission" || type == "completion"; }
};

// A line that could not be used, and why.
struct ReadIssue {
  std::string file;
  uint64_t line = 0;  // 1-based; 0 for a problem with the file as a whole
  std::string message;
};

struct AuditLog {
  std::string dir;
  std::string log_id;              // from the file names
  std::vector<std::string> files;  // file names, in seq order
  std::vector<LogRecord> records;  // in file order, then line order
  std::vector<ReadIssue> issues;   // lines that were not turned into records
};

// Reads every audit file of the log in `dir`. NotFound when `dir` is not a readable directory or
// holds no `audit-<log_id>-<seq>.jsonl` file; InvalidArgument when it holds files of more than one
// log; Internal when a file cannot be read. Bad lines are not errors: they are listed in
// `issues` (unparseable JSON, missing or mistyped keys, an unfinished last line).
Result<AuditLog> ReadAuditLog(const std::string& dir);

// Parses one line (without its "\n") of an audit file. InvalidArgument saying what is wrong when
// the line is not a usable record. `file` and `line` are copied into the record.
Result<LogRecord> ParseLogRecord(std::string_view text, const std::string& file, uint64_t line);

// One request: its admission record joined with its completion record by `request_id`. Either
// may be missing (a request still in flight, or one whose other record is in a file not read).
// The pointers point into the AuditLog the requests were built from, which must outlive them.
struct Request {
  const LogRecord* admission = nullptr;
  const LogRecord* completion = nullptr;

  // The first record's fields (admission when present).
  const LogRecord& first() const { return admission != nullptr ? *admission : *completion; }
  const std::string& request_id() const { return first().request_id; }
  TimeUs ts_us() const { return first().ts_us; }
  // Decisions; "" when the record is missing.
  const std::string& input_decision() const;
  const std::string& output_decision() const;
};

// The log's requests, in order of their first record. A completion is joined to the latest
// admission with its request_id that has no completion yet.
std::vector<Request> JoinRequests(const AuditLog& log);

// The most severe of two decisions: block > redact > flag > allow > "".
const std::string& MostSevereDecision(const std::string& a, const std::string& b);

}  // namespace parapet::audit
