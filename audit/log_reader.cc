// ReadAuditLog, ParseLogRecord, JoinRequests. Boost.JSON is used through its error_code overloads
// only, so nothing throws out of this file.
#include "audit/log_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace parapet::audit {
namespace json = boost::json;
namespace {

// ---- file names ----

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// "audit-<32 hex>-<20 digits>.jsonl" -> log id and first seq.
bool ParseFileName(std::string_view name, std::string* log_id, uint64_t* first_seq) {
  constexpr std::string_view kPrefix = "audit-", kSuffix = ".jsonl";
  constexpr size_t kLen = kPrefix.size() + 32 + 1 + 20 + kSuffix.size();
  if (name.size() != kLen || name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix || name[kPrefix.size() + 32] != '-') {
    return false;
  }
  const std::string_view id = name.substr(kPrefix.size(), 32);
  const std::string_view seq = name.substr(kPrefix.size() + 33, 20);
  if (!IsLowerHex(id)) return false;
  uint64_t v = 0;
  for (char c : seq) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *log_id = std::string(id);
  *first_seq = v;
  return true;
}

// ---- typed field access ----

// Reads keys of one JSON object into typed fields; remembers the first problem.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  const std::string& error() const { return error_; }

  void Str(std::string_view key, std::string* out, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "a string");
    *out = std::string(v->get_string());
  }
  void Int(std::string_view key, int64_t* out, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (v->is_int64()) {
      *out = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      *out = static_cast<int64_t>(v->get_uint64());
    } else {
      Fail(key, "an integer");
    }
  }
  void Number(std::string_view key, double* out, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (v->is_double()) {
      *out = v->get_double();
    } else if (v->is_int64()) {
      *out = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
      *out = static_cast<double>(v->get_uint64());
    } else {
      Fail(key, "a number");
    }
  }
  void Bool(std::string_view key, std::optional<bool>* out, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (!v->is_bool()) return Fail(key, "a boolean");
    *out = v->get_bool();
  }
  // The object at `key`, or nullptr (with an error when required or mistyped).
  const json::object* Object(std::string_view key, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Fail(key, "an object");
      return nullptr;
    }
    return &v->get_object();
  }
  const json::array* Array(std::string_view key, bool required = true) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(key, "an array");
      return nullptr;
    }
    return &v->get_array();
  }
  void Fail(std::string_view key, std::string_view what) {
    if (error_.empty()) error_ = "\"" + std::string(key) + "\" is not " + std::string(what);
  }

 private:
  const json::value* Find(std::string_view key, bool required) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr && required && error_.empty()) {
      error_ = "missing \"" + std::string(key) + "\"";
    }
    return v;
  }

  const json::object& o_;
  std::string error_;
};

void ReadFindings(Fields& f, LogRecord* r) {
  const json::array* findings = f.Array("findings");
  if (findings == nullptr) return;
  for (const json::value& v : *findings) {
    if (!v.is_object()) return f.Fail("findings", "an array of objects");
    Fields item(v.get_object());
    LogFinding finding;
    item.Str("stage", &finding.stage, false);
    item.Str("rule", &finding.rule);
    item.Str("action", &finding.action, false);
    item.Str("mode", &finding.mode, false);
    if (!item.error().empty()) return f.Fail("findings", "well-formed (" + item.error() + ")");
    r->findings.push_back(std::move(finding));
  }
  std::optional<bool> truncated;
  f.Bool("truncated", &truncated, false);
  r->truncated = truncated.value_or(false);
}

void ReadAdmission(Fields& f, LogRecord* r) {
  f.Str("request_id", &r->request_id);
  f.Str("tenant", &r->tenant);
  f.Str("key_id", &r->key_id, false);
  f.Str("route", &r->route);
  f.Str("model", &r->model, false);
  f.Str("policy", &r->policy);
  f.Str("policy_version", &r->policy_version);
  if (const json::object* prompt = f.Object("prompt", false)) {
    Fields p(*prompt);
    p.Int("tokens", &r->prompt_tokens, false);
    if (!p.error().empty()) f.Fail("prompt", "well-formed (" + p.error() + ")");
  }
  f.Str("decision", &r->decision);
  ReadFindings(f, r);
}

void ReadCompletion(Fields& f, LogRecord* r) {
  f.Str("request_id", &r->request_id);
  f.Int("status", &r->status);
  f.Str("finish_reason", &r->finish_reason);
  f.Str("error", &r->error, false);
  if (const json::object* usage = f.Object("usage", false)) {
    Fields u(*usage);
    u.Int("prompt_tokens", &r->prompt_tokens, false);
    u.Int("completion_tokens", &r->completion_tokens, false);
    if (!u.error().empty()) f.Fail("usage", "well-formed (" + u.error() + ")");
  }
  f.Number("duration_ms", &r->duration_ms, false);
  f.Str("decision", &r->decision);
  ReadFindings(f, r);
}

void ReadVersions(Fields& f, std::string_view key, LogRecord* r) {
  const json::object* versions = f.Object(key);
  if (versions == nullptr) return;
  for (const auto& [name, version] : *versions) {
    if (!version.is_string()) return f.Fail(key, "an object of strings");
    r->policy_versions[std::string(name)] = std::string(version.get_string());
  }
}

void ReadLifecycle(const json::object& o, Fields& f, LogRecord* r) {
  if (r->type == "start") {
    ReadVersions(f, "policy_versions", r);
  } else if (r->type == "policy_reload") {
    f.Bool("ok", &r->ok);
    if (r->ok == true) ReadVersions(f, "new", r);
  } else if (r->type == "cert_reload") {
    f.Bool("ok", &r->ok);
  }
  bool after_prev = false;
  for (const auto& [key, value] : o) {
    if (key == "hash") break;
    if (after_prev) {
      std::string text = json::serialize(value);
      r->details.push_back(
          {std::string(key), text, value.is_string() ? std::string(value.get_string()) : text});
    }
    if (key == "prev") after_prev = true;
  }
}

// ---- records to requests ----

const std::string& Empty() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

int Severity(const std::string& d) {
  if (d == "block") return 4;
  if (d == "redact") return 3;
  if (d == "flag") return 2;
  if (d == "allow") return 1;
  return 0;
}

// ---- files ----

void ReadFile(const std::filesystem::path& path, const std::string& name, AuditLog* log,
              Status* status) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *status = InternalError("cannot open " + path.string());
    return;
  }
  std::string text;
  for (uint64_t line = 1; std::getline(in, text); ++line) {
    if (in.eof()) {  // no "\n" after it: a write that did not finish
      log->issues.push_back({name, line, "unfinished last line (no newline); not used"});
      break;
    }
    Result<LogRecord> r = ParseLogRecord(text, name, line);
    if (r.ok()) {
      log->records.push_back(std::move(r).value());
    } else {
      log->issues.push_back({name, line, r.status().message()});
    }
  }
  if (in.bad()) *status = InternalError("cannot read " + path.string());
}

}  // namespace

Result<LogRecord> ParseLogRecord(std::string_view text, const std::string& file, uint64_t line) {
  if (text.empty()) return InvalidArgumentError("empty line");
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return InvalidArgumentError("not JSON: " + ec.message());
  if (!v.is_object()) return InvalidArgumentError("not a JSON object");
  const json::object& o = v.get_object();

  LogRecord r;
  r.file = file;
  r.line = line;
  Fields f(o);
  int64_t version = 0, seq = 0;
  f.Int("v", &version);
  f.Str("log_id", &r.log_id);
  f.Int("seq", &seq);
  f.Str("ts", &r.ts);
  f.Str("type", &r.type);
  if (!f.error().empty()) return InvalidArgumentError(f.error());
  if (version != 1)
    return InvalidArgumentError("unsupported record version " + std::to_string(version));
  if (seq < 0) return InvalidArgumentError("negative \"seq\"");
  r.seq = static_cast<uint64_t>(seq);
  Result<TimeUs> ts = ParseTime(r.ts);
  if (!ts.ok()) return InvalidArgumentError("\"ts\": " + ts.status().message());
  r.ts_us = *ts;

  if (r.type == "admission") {
    ReadAdmission(f, &r);
  } else if (r.type == "completion") {
    ReadCompletion(f, &r);
  } else {
    ReadLifecycle(o, f, &r);
  }
  if (!f.error().empty()) return InvalidArgumentError(r.type + " record: " + f.error());
  return r;
}

Result<AuditLog> ReadAuditLog(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return NotFoundError("cannot read audit directory " + dir + ": " + ec.message());
  AuditLog log;
  log.dir = dir;
  std::vector<std::pair<uint64_t, std::string>> files;  // first seq, name
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::string log_id;
    uint64_t first_seq = 0;
    if (!ParseFileName(name, &log_id, &first_seq)) continue;
    if (!log.log_id.empty() && log_id != log.log_id) {
      return InvalidArgumentError(dir + " holds the files of more than one log (" + log.log_id +
                                  ", " + log_id + ")");
    }
    log.log_id = log_id;
    files.emplace_back(first_seq, name);
  }
  if (ec) return InternalError("cannot list " + dir + ": " + ec.message());
  if (files.empty()) return NotFoundError("no audit-<log_id>-<seq>.jsonl files in " + dir);
  std::sort(files.begin(), files.end());
  for (const auto& [first_seq, name] : files) {
    log.files.push_back(name);
    Status status;
    ReadFile(fs::path(dir) / name, name, &log, &status);
    PARAPET_RETURN_IF_ERROR(status);
  }
  return log;
}

const std::string& Request::input_decision() const {
  return admission != nullptr ? admission->decision : Empty();
}

const std::string& Request::output_decision() const {
  return completion != nullptr ? completion->decision : Empty();
}

std::vector<Request> JoinRequests(const AuditLog& log) {
  std::vector<Request> requests;
  std::unordered_map<std::string, size_t> open;  // request_id -> index of a request not completed
  for (const LogRecord& r : log.records) {
    if (r.type == "admission") {
      open[r.request_id] = requests.size();
      requests.push_back({&r, nullptr});
    } else if (r.type == "completion") {
      auto it = open.find(r.request_id);
      if (it != open.end()) {
        requests[it->second].completion = &r;
        open.erase(it);
      } else {
        requests.push_back({nullptr, &r});
      }
    }
  }
  return requests;
}

const std::string& MostSevereDecision(const std::string& a, const std::string& b) {
  return Severity(b) > Severity(a) ? b : a;
}

}  // namespace parapet::audit
