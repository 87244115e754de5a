// Offline verification of an audit directory (FORMAT.md): every line's UTF-8, JSON, key order
// and hash; seq continuity and the prev chain across files; file names and order; record types;
// admission/completion pairing; every checkpoint's signature, size and Merkle root; and, given an
// exported (trusted) checkpoint, that the log still contains exactly what it covered. Each break
// is reported with its file, line, byte offset and the check that failed — the verifier goes on
// after a break (resynchronising on the next readable record) so one edit shows as one or two
// problems, not a cascade.
//
// Without --pubkey the checkpoints are checked with the keys named in the log's own `start`
// records, which proves consistency but not origin (an attacker who rewrote the log could have
// re-signed it): `notes` says so; pass the deployment's `signing.pub` for an independent check.
//
// Thread-safety: pure functions over files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/crypto.h"
#include "common/status.h"

namespace parapet::audit {

struct VerifyOptions {
  // The deployment's public signing keys. A key the log rotates to (a key_rotation record) is
  // trusted once a checkpoint signed by an already trusted key covers that record; a key changed
  // between runs (a new start record) needs its public key here too.
  std::vector<VerifierKey> pubkeys;
  std::string trusted_checkpoint;  // path to an exported checkpoint (a JSON line or a note)
};

struct VerifyProblem {
  std::string file;
  int64_t line = 0;     // 1-based; 0 for whole-file or log-level problems
  int64_t offset = -1;  // byte offset of the line in the file; -1 when not about a line
  std::string check;    // "hash", "seq", "prev", "json", "checkpoint signature", ...
  std::string message;
};

struct VerifyFile {
  std::string name;
  uint64_t records = 0;
  bool valid = true;
};

struct VerifyReport {
  std::string log_id;
  std::vector<VerifyFile> files;
  uint64_t records = 0;
  uint64_t checkpoints = 0;             // checkpoints that verified
  uint64_t covered = 0;                 // records covered by the largest verified checkpoint
  uint64_t open_requests = 0;           // admissions without a completion (in flight at a crash)
  std::vector<VerifyProblem> problems;  // breaks: the log is not intact
  std::vector<std::string> notes;       // not breaks, but an auditor should know
  bool ok() const { return problems.empty(); }
  uint64_t uncovered() const { return records > covered ? records - covered : 0; }
  // "2/2 files valid, 1234 records, 3 checkpoints".
  std::string Summary() const;
  std::string Json() const;
};

// An error Status only when the directory cannot be read at all (exit 2); everything about the
// log's integrity is in the report (exit 1 when !ok()).
Result<VerifyReport> VerifyLog(const std::string& dir, const VerifyOptions& options);

}  // namespace parapet::audit
