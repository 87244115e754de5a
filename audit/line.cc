// Record lines: building and checking them.
#include "audit/line.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "audit/record.h"
#include "common/json_writer.h"
#include "common/utf8.h"

namespace parapet::audit {
namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";
constexpr size_t kHashSuffix = kHashKey.size() + 64 + 2;  // ,"hash":"<64>"}

bool IsHexLower(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string LogFileName(std::string_view log_id, uint64_t first_seq) {
  char seq[32];
  std::snprintf(seq, sizeof(seq), "%020llu", static_cast<unsigned long long>(first_seq));
  return "audit-" + std::string(log_id) + "-" + seq + ".jsonl";
}

std::string CheckpointFileName(std::string_view log_id) {
  return "checkpoints-" + std::string(log_id) + ".jsonl";
}

bool ParseLogFileName(std::string_view name, std::string* log_id, uint64_t* first_seq) {
  // audit-<32 hex>-<20 digits>.jsonl
  if (name.size() != 6 + 32 + 1 + 20 + 6 || !name.starts_with("audit-") ||
      !name.ends_with(".jsonl") || name[38] != '-') {
    return false;
  }
  const std::string_view id = name.substr(6, 32), seq = name.substr(39, 20);
  if (!IsHexLower(id)) return false;
  uint64_t v = 0;
  for (char c : seq) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *log_id = std::string(id);
  *first_seq = v;
  return true;
}

std::string TimestampNow() {
  const auto now = std::chrono::system_clock::now();
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

std::string RecordBody(std::string_view log_id, uint64_t seq, std::string_view ts,
                       std::string_view type, const Hash& prev, std::string_view fields) {
  std::string b = "{\"v\":1,\"log_id\":\"";
  b += log_id;
  b += "\",\"seq\":" + std::to_string(seq) + ",\"ts\":\"";
  b += ts;
  b += "\",\"type\":";
  AppendJsonString(type, &b);
  b += ",\"prev\":\"" + Hex(prev) + "\"";
  if (!fields.empty()) {
    b += ',';
    b += fields;
  }
  return b;
}

std::string RecordLine(std::string_view body, const Hash& hash) {
  std::string line(body);
  line += kHashKey;
  line += Hex(hash);
  line += "\"}\n";
  return line;
}

Result<ParsedLine> ParseRecordLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return InvalidArgumentError("too long (over 64 KiB)");
  if (!IsValidUtf8(line)) return InvalidArgumentError("not UTF-8");
  if (line.size() < kHashSuffix || !line.ends_with("\"}") ||
      line.substr(line.size() - kHashSuffix, kHashKey.size()) != kHashKey) {
    return InvalidArgumentError("no hash as the last key");
  }
  const std::string_view body = line.substr(0, line.size() - kHashSuffix);
  const std::string_view hash_hex = line.substr(line.size() - 66, 64);
  std::optional<Hash> hash = HashFromHex(hash_hex);
  if (!hash) return InvalidArgumentError("the hash is not 64 lowercase hex");
  if (LeafHash(body) != *hash)
    return InvalidArgumentError("hash mismatch (the record was changed)");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("not a JSON object");
  const boost::json::object& o = v.as_object();
  static const char* kEnvelope[] = {"v", "log_id", "seq", "ts", "type", "prev"};
  auto it = o.begin();
  for (const char* key : kEnvelope) {
    if (it == o.end() || it->key() != key) {
      return InvalidArgumentError(std::string("key order: expected \"") + key + "\"");
    }
    ++it;
  }
  if (o.size() < 7 || std::prev(o.end())->key() != "hash") {
    return InvalidArgumentError("key order: \"hash\" must be last");
  }
  ParsedLine p;
  const boost::json::value& ver = o.at("v");
  if (!ver.is_int64() || ver.as_int64() != 1) return InvalidArgumentError("unknown version v");
  const boost::json::value& seq = o.at("seq");
  if (!seq.is_int64() && !seq.is_uint64()) return InvalidArgumentError("seq is not an integer");
  if (seq.is_int64() && seq.as_int64() < 0) return InvalidArgumentError("seq is negative");
  p.seq = seq.is_uint64() ? seq.as_uint64() : static_cast<uint64_t>(seq.as_int64());
  for (const char* key : {"log_id", "ts", "type", "prev"}) {
    if (!o.at(key).is_string()) return InvalidArgumentError(std::string(key) + " is not a string");
  }
  p.log_id = std::string(o.at("log_id").as_string());
  if (p.log_id.size() != 32 || !IsHexLower(p.log_id)) return InvalidArgumentError("bad log_id");
  p.ts = std::string(o.at("ts").as_string());
  p.type = std::string(o.at("type").as_string());
  std::optional<Hash> prev = HashFromHex(std::string_view(o.at("prev").as_string()));
  if (!prev) return InvalidArgumentError("prev is not 64 lowercase hex");
  p.prev = *prev;
  p.hash = *hash;
  if (auto r = o.find("request_id"); r != o.end() && r->value().is_string()) {
    p.request_id = std::string(r->value().as_string());
  }
  return p;
}

}  // namespace parapet::audit
