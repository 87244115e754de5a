// Query, FormatJsonl, FormatTable.
#include "audit/query.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/json_writer.h"
#include "common/utf8.h"

namespace parapet::audit {
namespace {

constexpr std::array<std::string_view, 10> kLifecycleTypes = {
    "start",           "stop",          "policy_reload", "cert_reload",  "key_rotation",
    "audit_suspended", "audit_resumed", "recovery",      "writer_fault", "rotation"};

bool IsLifecycleType(std::string_view t) {
  return std::find(kLifecycleTypes.begin(), kLifecycleTypes.end(), t) != kLifecycleTypes.end();
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The filter with its policy_version lowered, or why it is not valid.
Result<QueryFilter> Validate(const QueryFilter& in, bool* lifecycle) {
  QueryFilter f = in;
  const std::string type = f.type.value_or("request");
  if (type == "admission" || type == "completion") {
    return InvalidArgumentError("--type " + type +
                                ": admission and completion records are queried as requests; "
                                "omit --type or use --type request");
  }
  *lifecycle = type == "lifecycle" || IsLifecycleType(type);
  if (type != "request" && !*lifecycle) {
    std::string known = "request, lifecycle";
    for (std::string_view t : kLifecycleTypes) known += ", " + std::string(t);
    return InvalidArgumentError("unknown --type \"" + type + "\" (one of: " + known + ")");
  }
  if (f.decision && *f.decision != "block" && *f.decision != "redact" && *f.decision != "flag" &&
      *f.decision != "allow") {
    return InvalidArgumentError("unknown --decision \"" + *f.decision +
                                "\" (one of: block, redact, flag, allow)");
  }
  if (f.policy_version) {
    if (f.policy_version->size() < 8 || f.policy_version->size() > 64 ||
        !IsHex(*f.policy_version)) {
      return InvalidArgumentError("--policy-version \"" + *f.policy_version +
                                  "\": expected 8 to 64 hex characters (a sha256 or its prefix)");
    }
    f.policy_version = Lower(*f.policy_version);
  }
  if (f.since && f.until && *f.since >= *f.until) {
    return InvalidArgumentError("--since must be earlier than --until");
  }
  if (*lifecycle && (f.tenant || f.decision || f.rule)) {
    return InvalidArgumentError(
        "--tenant, --decision and --rule apply to requests, not to --type " + type);
  }
  return f;
}

bool InTime(const QueryFilter& f, TimeUs t) {
  return (!f.since || t >= *f.since) && (!f.until || t < *f.until);
}

bool HasRule(const LogRecord* r, const std::string& rule) {
  if (r == nullptr) return false;
  return std::any_of(r->findings.begin(), r->findings.end(),
                     [&](const LogFinding& x) { return x.rule == rule; });
}

bool DecisionMatches(const Request& q, const std::string& d) {
  const std::string& in = q.input_decision();
  const std::string& out = q.output_decision();
  if (d != "allow") return in == d || out == d;
  // allow: every decision the request has is allow (and it has at least one).
  return (in.empty() || in == "allow") && (out.empty() || out == "allow") &&
         !(in.empty() && out.empty());
}

bool RequestMatches(const QueryFilter& f, const Request& q) {
  if (!InTime(f, q.ts_us())) return false;
  if (f.tenant && (q.admission == nullptr || q.admission->tenant != *f.tenant)) return false;
  if (f.decision && !DecisionMatches(q, *f.decision)) return false;
  if (f.rule && !HasRule(q.admission, *f.rule) && !HasRule(q.completion, *f.rule)) return false;
  if (f.policy_version &&
      (q.admission == nullptr || q.admission->policy_version.rfind(*f.policy_version, 0) != 0)) {
    return false;
  }
  return true;
}

bool LifecycleMatches(const QueryFilter& f, const std::string& type, const LogRecord& r) {
  if (r.IsRequestRecord()) return false;
  if (type != "lifecycle" && r.type != type) return false;
  if (!InTime(f, r.ts_us)) return false;
  if (f.policy_version) {
    return std::any_of(r.policy_versions.begin(), r.policy_versions.end(),
                       [&](const auto& kv) { return kv.second.rfind(*f.policy_version, 0) == 0; });
  }
  return true;
}

// Distinct rule ids of the request's findings, input first.
std::vector<std::string> RulesFired(const Request& q) {
  std::vector<std::string> rules;
  for (const LogRecord* r : {q.admission, q.completion}) {
    if (r == nullptr) continue;
    for (const LogFinding& x : r->findings) {
      if (std::find(rules.begin(), rules.end(), x.rule) == rules.end()) rules.push_back(x.rule);
    }
  }
  return rules;
}

const std::string& AdmissionField(const Request& q, std::string LogRecord::*field) {
  static const std::string* const kEmpty = new std::string();
  return q.admission != nullptr ? q.admission->*field : *kEmpty;
}

// ---- JSON Lines ----

void WriteRequest(const Request& q, JsonWriter* w) {
  w->BeginObject();
  w->StringField("request_id", q.request_id());
  w->StringField("ts", q.first().ts);
  w->StringField("tenant", AdmissionField(q, &LogRecord::tenant));
  w->StringField("route", AdmissionField(q, &LogRecord::route));
  w->StringField("model", AdmissionField(q, &LogRecord::model));
  w->StringField("policy", AdmissionField(q, &LogRecord::policy));
  w->StringField("policy_version", AdmissionField(q, &LogRecord::policy_version));
  w->StringField("input_decision", q.input_decision());
  w->StringField("output_decision", q.output_decision());
  w->StringField("finish_reason", q.completion ? q.completion->finish_reason : "");
  w->Key("status");
  q.completion ? w->Int(q.completion->status) : w->Null();
  w->Key("rules");
  w->BeginArray();
  for (const std::string& rule : RulesFired(q)) w->String(rule);
  w->EndArray();
  w->Key("admission_seq");
  q.admission ? w->Int(static_cast<int64_t>(q.admission->seq)) : w->Null();
  w->Key("completion_seq");
  q.completion ? w->Int(static_cast<int64_t>(q.completion->seq)) : w->Null();
  w->EndObject();
}

// The record's fields are copied as the log has them (already compact JSON).
std::string LifecycleJson(const LogRecord& r) {
  std::string out = "{\"seq\":" + std::to_string(r.seq) + ",\"ts\":";
  AppendJsonString(r.ts, &out);
  out += ",\"type\":";
  AppendJsonString(r.type, &out);
  for (const LogField& field : r.details) {
    out += ',';
    AppendJsonString(field.key, &out);
    out += ':';
    out += field.json;
  }
  out += '}';
  return out;
}

// ---- table ----

// `s` safe for a terminal: control characters (C0, DEL, C1), bidirectional overrides and bytes
// that are not UTF-8 are written as escapes; "" becomes "-".
std::string Printable(std::string_view s) {
  if (s.empty()) return "-";
  std::string out;
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s.substr(i));
    if (len == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    const uint32_t cp = Utf8Decode(s.substr(i));
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

// Display width in code points (the text is already Printable).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++n;
  }
  return n;
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], Width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - Width(row[c]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::vector<std::string> RequestRow(const Request& q) {
  std::string rules;
  for (const std::string& rule : RulesFired(q)) rules += (rules.empty() ? "" : ",") + rule;
  const std::string version = AdmissionField(q, &LogRecord::policy_version).substr(0, 12);
  return {Printable(q.first().ts),
          Printable(q.request_id()),
          Printable(AdmissionField(q, &LogRecord::tenant)),
          Printable(AdmissionField(q, &LogRecord::route)),
          Printable(AdmissionField(q, &LogRecord::policy)),
          Printable(version),
          Printable(q.input_decision()),
          Printable(q.output_decision()),
          Printable(q.completion ? q.completion->finish_reason : ""),
          q.completion ? std::to_string(q.completion->status) : "-",
          Printable(rules)};
}

std::vector<std::string> LifecycleRow(const LogRecord& r) {
  std::string details;
  for (const LogField& field : r.details) {
    details += (details.empty() ? "" : " ") + field.key + "=" + field.text;
  }
  return {std::to_string(r.seq), Printable(r.ts), Printable(r.type), Printable(details)};
}

}  // namespace

Result<QueryResult> Query(const AuditLog& log, const QueryFilter& filter) {
  QueryResult result;
  PARAPET_ASSIGN_OR_RETURN(const QueryFilter f, Validate(filter, &result.lifecycle));
  if (result.lifecycle) {
    const std::string type = f.type.value_or("lifecycle");
    for (const LogRecord& r : log.records) {
      if (LifecycleMatches(f, type, r)) result.records.push_back(&r);
    }
    return result;
  }
  for (const Request& q : JoinRequests(log)) {
    if (RequestMatches(f, q)) result.requests.push_back(q);
  }
  return result;
}

std::string FormatJsonl(const QueryResult& result) {
  std::string out;
  if (result.lifecycle) {
    for (const LogRecord* r : result.records) out += LifecycleJson(*r) + "\n";
    return out;
  }
  for (const Request& q : result.requests) {
    JsonWriter w;
    WriteRequest(q, &w);
    out += w.str() + "\n";
  }
  return out;
}

std::string FormatTable(const QueryResult& result) {
  std::vector<std::vector<std::string>> rows;
  if (result.lifecycle) {
    rows.push_back({"SEQ", "TIME", "TYPE", "DETAILS"});
    for (const LogRecord* r : result.records) rows.push_back(LifecycleRow(*r));
  } else {
    rows.push_back({"TIME", "REQUEST", "TENANT", "ROUTE", "POLICY", "VERSION", "IN", "OUT",
                    "FINISH", "STATUS", "RULES"});
    for (const Request& q : result.requests) rows.push_back(RequestRow(q));
  }
  return Table(rows);
}

}  // namespace parapet::audit
