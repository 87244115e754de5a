// One audit record line, checked on its own (FORMAT.md): the envelope keys in order, valid JSON,
// and the hash over the exact body bytes. Chain checks (seq, prev) are the caller's. Shared by
// the writer's recovery and the verifier.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/crypto.h"
#include "common/status.h"

namespace parapet::audit {

struct ParsedLine {
  uint64_t seq = 0;
  std::string log_id;
  std::string ts;
  std::string type;
  Hash prev{};
  Hash hash{};
  std::string request_id;  // admission / completion; "" otherwise
};

// `line` without its "\n". An InvalidArgument error names the check that failed: "not UTF-8",
// "not JSON", "key order", "hash mismatch", "too long", ...
Result<ParsedLine> ParseRecordLine(std::string_view line);

// "audit-<log_id>-<20-digit first seq>.jsonl" and "checkpoints-<log_id>.jsonl".
std::string LogFileName(std::string_view log_id, uint64_t first_seq);
std::string CheckpointFileName(std::string_view log_id);
// Splits a log file name; false when `name` is not one.
bool ParseLogFileName(std::string_view name, std::string* log_id, uint64_t* first_seq);

// The envelope of a record (everything up to the type's fields) and the full line.
std::string RecordBody(std::string_view log_id, uint64_t seq, std::string_view ts,
                       std::string_view type, const Hash& prev, std::string_view fields);
std::string RecordLine(std::string_view body, const Hash& hash);  // with "\n"
// UTC now as "2026-11-30T01:02:03.456789Z".
std::string TimestampNow();

inline const Hash kZeroHash{};

}  // namespace parapet::audit
