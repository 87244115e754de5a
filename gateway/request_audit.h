// The gateway's side of the audit trail (audit/FORMAT.md): per request, an admission record that
// is durable before generation starts and a completion record that is durable before the
// response's last byte ([DONE] or the body). Records go to the AuditWriter, whose thread calls
// back once they are durable; the request continues from that callback.
//
// `on_failure: reject` (the default): a record that cannot be written turns the request into a
// 503 (admission) or ends the stream with an error instead of [DONE] (completion) — nothing the
// client was told happened is missing from the log. `degrade`: the request goes on; the writer
// counts what it could not write and records it when it resumes.
//
// Thread-safety: AuditSink is shared (its key swap is locked); a RequestAudit belongs to one
// request.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/crypto.h"
#include "audit/record.h"
#include "audit/writer.h"
#include "pipeline/stage_chain.h"

namespace parapet::gateway {

class AuditSink {
 public:
  audit::AuditWriter* writer = nullptr;
  bool reject = true;  // on_failure: reject (true) | degrade
  std::string model_sha256;
  std::optional<audit::ContentKey> content_key;  // set: prompts and outputs are sealed and kept

  // The content key for new requests (a key rotation replaces it; requests keep theirs).
  std::shared_ptr<const audit::HmacKey> hmac() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hmac_;
  }
  void set_hmac(audit::HmacKey key) {
    std::lock_guard<std::mutex> lock(mu_);
    hmac_ = std::make_shared<const audit::HmacKey>(std::move(key));
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const audit::HmacKey> hmac_;  // GUARDED_BY(mu_)
};

class RequestAudit {
 public:
  explicit RequestAudit(std::shared_ptr<const AuditSink> sink)
      : sink_(std::move(sink)), hmac_(sink_->hmac()) {}

  // Filled by the handler before Admit.
  audit::AdmissionRecord admission;
  std::string prompt_text;  // kept only for the content store

  // `then(true)`: go on (the record is durable, or could not be written under degrade);
  // `then(false)`: answer 503 (reject). Runs on the writer thread.
  void Admit(std::function<void(bool)> then);
  // A request answered at admission (a policy block): admission and completion together.
  void AdmitAndComplete(audit::CompletionRecord completion, const std::string& output,
                        std::function<void(bool)> then);
  // `then(true)`: send the end of the response; `then(false)`: end it with an error instead.
  // `output` is what the client got (sealed when the content store is on).
  void Complete(audit::CompletionRecord completion, const std::string& output,
                std::function<void(bool)> then);

  std::string Tag(std::string_view text) const { return hmac_->Tag(text); }
  const AuditSink& sink() const { return *sink_; }

 private:
  // The writer callback: `then(true)` when written or under degrade, else `then(false)`.
  audit::AuditWriter::Done Then(const char* what, std::function<void(bool)> then) const;
  // The content store line for one part ("" when the store is off; marks the record stored).
  std::string Seal(std::string_view part, const std::string& text, bool* stored) const;

  std::shared_ptr<const AuditSink> sink_;
  std::shared_ptr<const audit::HmacKey> hmac_;  // one key for all of the request's records
};

// A verdict's findings (enforced and shadow) as audit records, offsets turned into characters of
// texts[finding.message] and message indexes mapped through `message_index` (the request turn
// behind each scanned message; empty: kept as they are). Never the matched text.
std::vector<audit::FindingRecord> AuditFindings(const pipeline::Verdict& verdict,
                                                std::span<const std::string> texts,
                                                std::span<const size_t> message_index = {});
// As above for a stream guard's findings over one text (message 0).
std::vector<audit::FindingRecord> AuditFindings(std::span<const pipeline::Finding> enforced,
                                                std::span<const pipeline::Finding> shadow,
                                                const std::string& text);

}  // namespace parapet::gateway
