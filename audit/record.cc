// Audit record fields: fixed key order, compact JSON.
#include "audit/record.h"

#include <cmath>
#include <cstdio>

#include "common/json_writer.h"

namespace parapet::audit {
namespace {

// Numbers with up to 6 decimals, no exponent, no trailing zeros ("0.7", "11.4", "1").
std::string Decimal(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

void AppendString(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ',';
  AppendJsonString(key, &out);
  out += ':';
  AppendJsonString(value, &out);
}

void AppendRaw(std::string& out, std::string_view key, std::string_view raw) {
  if (!out.empty()) out += ',';
  AppendJsonString(key, &out);
  out += ':';
  out += raw;
}

std::string EncodeFinding(const FindingRecord& f) {
  std::string o;
  AppendString(o, "stage", f.stage);
  AppendString(o, "rule", f.rule);
  AppendString(o, "type", f.type);
  AppendString(o, "action", f.action);
  AppendString(o, "mode", f.mode);
  AppendRaw(o, "score", Decimal(f.score));
  AppendRaw(o, "message", std::to_string(f.message));
  AppendRaw(o, "begin", std::to_string(f.begin));
  AppendRaw(o, "end", std::to_string(f.end));
  return "{" + o + "}";
}

// "findings":[…] within the line budget left; `truncated` says whether some were dropped.
void AppendFindings(std::string& out, const std::vector<FindingRecord>& findings) {
  // Room for the envelope (~230 bytes), the hash (~76) and "truncated":true.
  const size_t budget = kMaxLineBytes - 512;
  std::string list;
  bool truncated = false;
  for (const FindingRecord& f : findings) {
    const std::string e = EncodeFinding(f);
    if (out.size() + list.size() + e.size() + 16 > budget) {
      truncated = true;
      break;
    }
    if (!list.empty()) list += ',';
    list += e;
  }
  AppendRaw(out, "findings", "[" + list + "]");
  if (truncated) AppendRaw(out, "truncated", "true");
}

}  // namespace

std::string EncodeAdmission(const AdmissionRecord& r) {
  std::string o;
  AppendString(o, "request_id", r.request_id);
  AppendString(o, "tenant", r.tenant);
  AppendString(o, "key_id", r.key_id);
  AppendString(o, "route", r.route);
  AppendString(o, "model", r.model);
  AppendString(o, "model_sha256", r.model_sha256);
  std::string p;
  AppendRaw(p, "max_tokens", std::to_string(r.max_tokens));
  AppendRaw(p, "temperature", Decimal(r.temperature));
  AppendRaw(p, "top_p", Decimal(r.top_p));
  AppendRaw(p, "top_k", std::to_string(r.top_k));
  AppendRaw(p, "seed", std::to_string(r.seed));
  AppendRaw(p, "stream", r.stream ? "true" : "false");
  AppendRaw(o, "params", "{" + p + "}");
  AppendString(o, "policy", r.policy);
  AppendString(o, "policy_version", r.policy_version);
  std::string pr;
  AppendString(pr, "hmac", r.prompt_hmac);
  AppendRaw(pr, "chars", std::to_string(r.prompt_chars));
  AppendRaw(pr, "tokens", std::to_string(r.prompt_tokens));
  AppendRaw(pr, "messages", std::to_string(r.messages));
  AppendRaw(pr, "stored", r.prompt_stored ? "true" : "false");
  AppendRaw(o, "prompt", "{" + pr + "}");
  AppendString(o, "decision", r.decision);
  AppendRaw(o, "stages_us", Decimal(r.stages_us));
  AppendFindings(o, r.findings);
  return o;
}

std::string EncodeCompletion(const CompletionRecord& r) {
  std::string o;
  AppendString(o, "request_id", r.request_id);
  AppendRaw(o, "status", std::to_string(r.status));
  AppendString(o, "finish_reason", r.finish_reason);
  AppendString(o, "error", r.error);
  std::string u;
  AppendRaw(u, "prompt_tokens", std::to_string(r.prompt_tokens));
  AppendRaw(u, "completion_tokens", std::to_string(r.completion_tokens));
  AppendRaw(o, "usage", "{" + u + "}");
  AppendRaw(o, "ttft_ms", Decimal(r.ttft_ms));
  AppendRaw(o, "duration_ms", Decimal(r.duration_ms));
  std::string out;
  AppendString(out, "hmac", r.output_hmac);
  AppendRaw(out, "chars", std::to_string(r.output_chars));
  AppendRaw(out, "stored", r.output_stored ? "true" : "false");
  AppendRaw(o, "output", "{" + out + "}");
  AppendString(o, "decision", r.decision);
  AppendFindings(o, r.findings);
  return o;
}

void Fields::Key(std::string_view key) {
  if (!out_.empty()) out_ += ',';
  AppendJsonString(key, &out_);
  out_ += ':';
}

Fields& Fields::Str(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(value, &out_);
  return *this;
}

Fields& Fields::Int(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

Fields& Fields::Bool(std::string_view key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
  return *this;
}

Fields& Fields::Map(std::string_view key, const std::map<std::string, std::string>& values) {
  Key(key);
  std::string o;
  for (const auto& [k, v] : values) AppendString(o, k, v);
  out_ += "{" + o + "}";
  return *this;
}

int64_t CountChars(std::string_view text) {
  int64_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) == 0x80 ? 0 : 1;
  return n;
}

}  // namespace parapet::audit
