// Audit records as plain structs (the gateway fills them; audit knows nothing of HTTP or
// policies) and their encoding into the fields of a record line (audit/FORMAT.md). The writer adds
// the envelope (v, log_id, seq, ts, type, prev) and the hash.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace parapet::audit {

// One stage finding, never with the matched text. Offsets are characters (code points).
struct FindingRecord {
  std::string stage;
  std::string rule;
  std::string type;
  std::string action;  // allow | flag | redact | block
  std::string mode;    // enforce | shadow
  double score = 1;
  int32_t message = -1;  // index of the scanned message; -1 for whole-input findings
  int64_t begin = 0;
  int64_t end = 0;
};

struct AdmissionRecord {
  std::string request_id;
  std::string tenant;
  std::string key_id;  // the API key's configured hash, never the key
  std::string route;
  std::string model;
  std::string model_sha256;
  int64_t max_tokens = 0;
  double temperature = 1;
  double top_p = 1;
  int64_t top_k = 0;
  int64_t seed = -1;
  bool stream = false;
  std::string policy;
  std::string policy_version;
  std::string prompt_hmac;  // HmacKey::Tag of the prompt as sent
  int64_t prompt_chars = 0;
  int64_t prompt_tokens = 0;
  int64_t messages = 0;
  bool prompt_stored = false;  // sealed in the content store (audit.content_dir)
  std::string decision = "allow";
  double stages_us = 0;
  std::vector<FindingRecord> findings;
};

struct CompletionRecord {
  std::string request_id;
  int status = 200;
  std::string finish_reason;
  std::string error;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double ttft_ms = -1;  // < 0: no token came
  double duration_ms = 0;
  std::string output_hmac;
  int64_t output_chars = 0;
  bool output_stored = false;      // sealed in the content store
  std::string decision = "allow";  // the output stages' decision ("allow" without any)
  std::vector<FindingRecord> findings;
};

// The fields of a record between `prev` and `hash`, as JSON members without braces:
// `"request_id":"…",…`. Lines stay under 64 KiB: findings past that are dropped and
// `"truncated":true` added.
std::string EncodeAdmission(const AdmissionRecord& r);
std::string EncodeCompletion(const CompletionRecord& r);

// Builds lifecycle fields in order: Fields().Str("reason", "signal").Int("pid", 7).str().
class Fields {
 public:
  Fields& Str(std::string_view key, std::string_view value);
  Fields& Int(std::string_view key, int64_t value);
  Fields& Bool(std::string_view key, bool value);
  Fields& Map(std::string_view key, const std::map<std::string, std::string>& values);
  const std::string& str() const { return out_; }

 private:
  void Key(std::string_view key);
  std::string out_;
};

// Characters (code points) in `text`; an invalid byte counts as one.
int64_t CountChars(std::string_view text);

// The largest record line the writer accepts (FORMAT.md), newline excluded.
inline constexpr size_t kMaxLineBytes = 65536;

}  // namespace parapet::audit
