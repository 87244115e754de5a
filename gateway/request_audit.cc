// RequestAudit: admission and completion records, and what a failed write means for the request.
#include "gateway/request_audit.h"

#include "common/logging.h"

namespace parapet::gateway {
namespace {

// Characters before byte `offset` of `text` (clamped).
int64_t CharsBefore(const std::string& text, size_t offset) {
  return audit::CountChars(std::string_view(text).substr(0, std::min(offset, text.size())));
}

audit::FindingRecord ToRecord(const pipeline::Finding& f, bool shadow,
                              std::span<const std::string> texts,
                              std::span<const size_t> message_index) {
  audit::FindingRecord r;
  r.rule = f.rule_id;
  r.stage = f.rule_id.substr(0, f.rule_id.find('.'));
  r.type = f.type;
  r.action = pipeline::ActionName(f.action);
  r.mode = shadow ? "shadow" : "enforce";
  r.score = f.score;
  r.message = f.message;
  if (f.message >= 0 && static_cast<size_t>(f.message) < texts.size()) {
    const std::string& t = texts[static_cast<size_t>(f.message)];
    r.begin = CharsBefore(t, f.span.begin);
    r.end = CharsBefore(t, f.span.end);
    if (static_cast<size_t>(f.message) < message_index.size()) {
      r.message = static_cast<int32_t>(message_index[static_cast<size_t>(f.message)]);
    }
  }
  return r;
}

}  // namespace

std::vector<audit::FindingRecord> AuditFindings(const pipeline::Verdict& verdict,
                                                std::span<const std::string> texts,
                                                std::span<const size_t> message_index) {
  std::vector<audit::FindingRecord> out;
  for (const pipeline::Finding& f : verdict.findings) {
    out.push_back(ToRecord(f, false, texts, message_index));
  }
  for (const pipeline::Finding& f : verdict.shadow) {
    out.push_back(ToRecord(f, true, texts, message_index));
  }
  return out;
}

std::vector<audit::FindingRecord> AuditFindings(std::span<const pipeline::Finding> enforced,
                                                std::span<const pipeline::Finding> shadow,
                                                const std::string& text) {
  std::vector<audit::FindingRecord> out;
  const std::string texts[] = {text};
  for (const pipeline::Finding& f : enforced) out.push_back(ToRecord(f, false, texts, {}));
  for (const pipeline::Finding& f : shadow) out.push_back(ToRecord(f, true, texts, {}));
  return out;
}

std::string RequestAudit::Seal(std::string_view part, const std::string& text, bool* stored) const {
  if (!sink_->content_key) return "";
  *stored = true;
  return sink_->content_key->Seal(admission.request_id, part, text) + "\n";
}

audit::AuditWriter::Done RequestAudit::Then(const char* what,
                                            std::function<void(bool)> then) const {
  return [what, reject = sink_->reject, then = std::move(then)](const Status& s) {
    if (!s.ok()) {
      PARAPET_LOG(kError) << "audit: " << what << " record not written: " << s.message();
    }
    then(s.ok() || !reject);
  };
}

void RequestAudit::Admit(std::function<void(bool)> then) {
  std::string content = Seal("prompt", prompt_text, &admission.prompt_stored);
  sink_->writer->Append("admission", audit::EncodeAdmission(admission),
                        Then("admission", std::move(then)), std::move(content));
}

void RequestAudit::AdmitAndComplete(audit::CompletionRecord completion, const std::string& output,
                                    std::function<void(bool)> then) {
  std::string content = Seal("prompt", prompt_text, &admission.prompt_stored);
  content += Seal("output", output, &completion.output_stored);
  sink_->writer->Append("admission", audit::EncodeAdmission(admission), nullptr,
                        std::move(content));
  sink_->writer->Append("completion", audit::EncodeCompletion(completion),
                        Then("completion", std::move(then)));
}

void RequestAudit::Complete(audit::CompletionRecord completion, const std::string& output,
                            std::function<void(bool)> then) {
  std::string content = Seal("output", output, &completion.output_stored);
  sink_->writer->Append("completion", audit::EncodeCompletion(completion),
                        Then("completion", std::move(then)), std::move(content));
}

}  // namespace parapet::gateway
