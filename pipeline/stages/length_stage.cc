// The length stage: counts characters, tokens and messages against the configured limits.
#include "pipeline/stages/length_stage.h"

#include <string_view>
#include <utility>

#include "common/utf8.h"

namespace parapet::pipeline {
namespace {

// Code points in `s`; each byte of an invalid sequence counts as one.
int64_t CountChars(std::string_view s) {
  int64_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) {
    auto b = static_cast<unsigned char>(s[pos]);
    if (b < 0x80) {
      ++pos;
      continue;
    }
    size_t len = Utf8SequenceLength(s.substr(pos));
    pos += len == 0 ? 1 : len;
  }
  return n;
}

class LengthStage final : public Stage {
 public:
  LengthStage(const LengthStageConfig& config, std::shared_ptr<const TokenCounter> counter)
      : config_(config), counter_(std::move(counter)) {}

  const std::string& id() const override { return config_.id; }
  std::string_view type() const override { return "length"; }
  Mode mode() const override { return config_.mode; }
  bool whole_text() const override { return true; }

  Status Inspect(Input& input, StageResult& out) const override {
    const LengthStageConfig& c = config_;
    const bool count_tokens = c.max_tokens_per_message > 0 || c.max_tokens_total > 0;
    const bool count_chars = c.max_chars_per_message > 0 || c.max_chars_total > 0;
    int64_t chars_total = 0, tokens_total = 0;
    bool chars_message_over = false, tokens_message_over = false;
    for (const Message& m : input.messages) {
      std::string_view text = m.text.original();
      if (count_chars) {
        int64_t chars = CountChars(text);
        chars_total += chars;
        chars_message_over |= Over(chars, c.max_chars_per_message);
      }
      if (count_tokens) {
        int64_t tokens = counter_->CountTokens(text);
        tokens_total += tokens;
        tokens_message_over |= Over(tokens, c.max_tokens_per_message);
      }
    }
    const int64_t n_messages = static_cast<int64_t>(input.messages.size());
    if (chars_message_over) Report("max_chars_per_message", out);
    if (Over(chars_total, c.max_chars_total)) Report("max_chars_total", out);
    if (tokens_message_over) Report("max_tokens_per_message", out);
    if (Over(tokens_total, c.max_tokens_total)) Report("max_tokens_total", out);
    if (Over(n_messages, c.max_messages)) Report("max_messages", out);
    return Status::Ok();
  }

 private:
  static bool Over(int64_t value, int64_t limit) { return limit > 0 && value > limit; }

  void Report(const char* limit, StageResult& out) const {
    out.findings.push_back(Finding{.rule_id = config_.id + "." + limit,
                                   .type = "LENGTH",
                                   .message = -1,
                                   .span = Span{},
                                   .score = 1.0,
                                   .action = config_.action});
  }

  const LengthStageConfig config_;
  const std::shared_ptr<const TokenCounter> counter_;
};

}  // namespace

Result<std::unique_ptr<Stage>> NewLengthStage(const LengthStageConfig& config,
                                              std::shared_ptr<const TokenCounter> token_counter) {
  const std::string& id = config.id;
  if (id.empty()) return InvalidArgumentError("length.id: empty stage id");
  const std::pair<const char*, int64_t> limits[] = {
      {"max_chars_per_message", config.max_chars_per_message},
      {"max_chars_total", config.max_chars_total},
      {"max_tokens_per_message", config.max_tokens_per_message},
      {"max_tokens_total", config.max_tokens_total},
      {"max_messages", config.max_messages}};
  for (const auto& [name, value] : limits) {
    if (value < 0) return InvalidArgumentError(id + "." + name + ": negative limit");
  }
  if ((config.max_tokens_per_message > 0 || config.max_tokens_total > 0) && !token_counter) {
    const char* field = config.max_tokens_total > 0 ? "max_tokens_total" : "max_tokens_per_message";
    return InvalidArgumentError(id + "." + field +
                                ": a token limit needs the model's token counter, and none was "
                                "given");
  }
  if (config.action == Action::kRedact) {
    return InvalidArgumentError(id + ".action: redact is not supported (allow | flag | block)");
  }
  return std::unique_ptr<Stage>(new LengthStage(config, std::move(token_counter)));
}

}  // namespace parapet::pipeline
