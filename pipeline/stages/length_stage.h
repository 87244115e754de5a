// The "length" stage: limits on how much text a request carries — characters (Unicode code
// points; an invalid UTF-8 byte counts as one) per message and in total, tokens (counted by the
// served model's tokenizer through TokenCounter) per message and in total, and the number of
// messages. Counts are taken on each message's ORIGINAL text, what the client sent and the model
// will be charged for: a unicode stage that strips a megabyte of zero-width characters does not
// let them past this stage.
//
// A violated limit is one whole-input finding (message -1, empty span): rule id
// "<id>.<limit field>" ("<id>.max_chars_total"), type "LENGTH", the configured action. Each limit
// is reported at most once per Inspect.
//
// Immutable after construction; Inspect is thread-safe (the TokenCounter must be too).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

struct LengthStageConfig {
  std::string id = "length";  // the stage's id in its policy; non-empty
  Mode mode = Mode::kEnforce;
  // Limits; 0 = no limit. Negative values are rejected.
  int64_t max_chars_per_message = 0;   // code points in any one message
  int64_t max_chars_total = 0;         // code points in all scanned messages together
  int64_t max_tokens_per_message = 0;  // tokens in any one message (needs a TokenCounter)
  int64_t max_tokens_total = 0;        // tokens in all scanned messages (needs a TokenCounter)
  int64_t max_messages = 0;            // number of scanned messages
  Action action = Action::kBlock;      // allow | flag | block (redact has no span to act on)
};

// Builds the stage. `token_counter` may be null unless a token limit is set (then the factory
// fails); the stage shares its ownership. A caller with a plain pointer to a counter that outlives
// the stage passes a non-owning one: std::shared_ptr<const TokenCounter>(nullptr_shared, ptr)
// (the aliasing constructor). Errors (InvalidArgument) name the field.
Result<std::unique_ptr<Stage>> NewLengthStage(
    const LengthStageConfig& config, std::shared_ptr<const TokenCounter> token_counter = nullptr);

}  // namespace parapet::pipeline
