// AuditWriter: the one owner of an audit directory's files (FORMAT.md). Callers hand it records
// (a type and its fields) from any thread; its thread encodes them in order (seq, prev, hash),
// appends a batch, makes it durable with one fdatasync (group commit), and then calls each
// record's callback — so "durable before generation starts" and "durable before [DONE]" are
// callbacks the gateway waits for. Every N records / T seconds, at rotation and at Close it
// appends a signed checkpoint (Merkle root over every record so far) to the checkpoint file and
// sends it to the external sink.
//
// Faults: a failed write or sync is sticky for that file — it is never retried or trusted again.
// The writer is suspended (callbacks fail, healthy() is false) and, every `retry_ms`, tries to
// start a new file whose first record, `writer_fault`, names the failed file and how many of its
// bytes were durable (the verifier ignores the rest), followed by `audit_resumed` with how many
// records could not be written meanwhile. Free space below `min_free_bytes` also suspends
// admission (an `audit_suspended` record while there is still room, `audit_resumed` after).
//
// Recovery (Open): every file is read and checked (hashes, seq, prev); a torn tail of the last
// file — bytes after its last complete, valid record — is cut and a `recovery` record says how
// many bytes and their SHA-256. A broken record anywhere else is not a crash but damage: Open
// fails and says where (`parapet audit verify` says more).
//
// Thread-safety: Append, healthy, fault and stats may be called from any thread; Close once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/crypto.h"
#include "audit/file_system.h"
#include "common/status.h"

namespace parapet::audit {

struct WriterOptions {
  std::string dir;
  SigningKey signing_key;               // signs checkpoints
  uint64_t rotate_bytes = 64ull << 20;  // start a new file past this size
  int64_t rotate_seconds = 24 * 3600;   // ... or this age
  uint64_t checkpoint_records = 1000;   // a checkpoint after this many new records
  int64_t checkpoint_seconds = 60;      // ... or this long with new records
  std::string sink;                     // "", "dir:PATH", "command:CMD", "syslog"
  // The encrypted content store (off when empty): a directory apart from `dir` for
  // content-<log_id>.jsonl, whose lines (ContentKey::Seal) are made durable with their records.
  std::string content_dir;
  int64_t group_commit_wait_us = 0;        // linger this long for more records per batch
  int64_t retry_ms = 1000;                 // after a fault: how often to try a new file
  uint64_t warn_free_bytes = 1ull << 30;   // log a warning below this much free space
  uint64_t min_free_bytes = 256ull << 20;  // suspend admission below this
  AuditFs* fs = nullptr;                   // null: PosixFs()
};

struct WriterStats {
  uint64_t records = 0;  // durable records written by this process
  uint64_t batches = 0;  // fdatasync calls for records
  uint64_t failed = 0;   // records whose callback got an error
  uint64_t checkpoints = 0;
  uint64_t next_seq = 0;
  bool healthy = true;
};

class AuditWriter {
 public:
  using Done = std::function<void(const Status&)>;

  // Opens (recovering) or creates the log in options.dir and starts the writer thread.
  static Result<std::unique_ptr<AuditWriter>> Open(WriterOptions options);
  ~AuditWriter();  // Close("shutdown") if not closed

  // Queues a record; `done` runs on the writer thread once it is durable (OK) or could not be
  // written (an error: the writer is suspended, or the record is over 64 KiB). Never blocks on
  // I/O. `fields` is from record.h (EncodeAdmission, Fields...).
  // `content`: lines for the content store (sealed text), durable before the record is.
  void Append(std::string type, std::string fields, Done done = nullptr, std::string content = {});
  // Append and wait for the outcome.
  Status AppendSync(std::string type, std::string fields);
  // Waits until every record queued before the call was written (or failed) and its callback ran.
  void Flush();
  // Key rotation: writes a `key_rotation` record naming the new keys, signs a checkpoint covering
  // it with the current key (so the old key vouches for the new one), then signs with `key`.
  // Waits for the outcome.
  Status RotateKeys(SigningKey key, const std::string& hmac_key_id);

  // False while suspended (a write fault, or free space below min_free_bytes): new work should be
  // refused (on_failure: reject) or served unaudited (degrade).
  bool healthy() const;
  Status fault() const;  // why not healthy; OK when healthy
  WriterStats stats() const;
  const std::string& log_id() const { return log_id_; }
  const std::string& recovery_note() const { return recovery_note_; }  // "" without recovery

  // Writes everything queued, a final checkpoint, and stops the thread. Further Appends fail.
  void Close();

 private:
  explicit AuditWriter(WriterOptions options);
  Status Recover();
  void Run();
  struct Pending {
    std::string type;
    std::string fields;
    Done done;
    std::optional<SigningKey> new_key;  // key_rotation: sign with this after the record
    std::string content;                // content store lines, "\n"-terminated
  };
  // Writer thread only.
  void WriteBatch(std::deque<Pending>& batch);
  Status OpenFile(uint64_t first_seq);
  Status WriteLines(const std::string& bytes, uint64_t n_records);
  std::string EncodeNext(const std::string& type, const std::string& fields);
  Status Checkpoint();
  void MaybeCheckpointOrRotate(bool force_checkpoint);
  void TryResume();
  void CheckSpace();
  void Suspend(const Status& why);
  void SendToSink(const std::string& json_line, const std::string& note);

  WriterOptions o_;
  AuditFs& fs_;
  std::string log_id_;
  std::string recovery_note_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool closing_ = false;       // GUARDED_BY(mu_)
  Status fault_;               // GUARDED_BY(mu_) sticky until a new file is started
  bool space_low_ = false;     // GUARDED_BY(mu_)
  WriterStats stats_;          // GUARDED_BY(mu_)
  std::thread thread_;

  // Writer thread state (also used by Open before the thread starts).
  std::unique_ptr<AuditFile> file_;
  std::string file_name_;
  uint64_t file_bytes_ = 0;
  std::chrono::steady_clock::time_point file_opened_;
  uint64_t next_seq_ = 0;
  Hash prev_{};
  MerkleAccumulator tree_;
  // The durable state: what survives a fault of the current file.
  uint64_t durable_seq_ = 0;  // next seq after the last durable record
  Hash durable_prev_{};
  MerkleAccumulator durable_tree_;
  uint64_t durable_bytes_ = 0;
  std::string faulted_file_;
  uint64_t lost_while_suspended_ = 0;
  std::chrono::steady_clock::time_point last_retry_;
  std::unique_ptr<AuditFile> checkpoints_;
  std::unique_ptr<AuditFile> content_;  // the content store file, when configured
  uint64_t checkpointed_size_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::chrono::steady_clock::time_point last_space_check_;
};

}  // namespace parapet::audit
