// Generate: the single-sequence generation loop used by `parapet generate` and tests — prompt
// prefill in batches, then sample / decode one token at a time until max_tokens, an
// end-of-generation token or a stop string. Streams completed text through a callback (partial
// UTF-8 and possible stop-string prefixes held back). The gateway's scheduler runs many
// sequences through Model::Forward instead; both share the Sampler, StreamDecoder and
// StopMatcher. Not thread-safe with respect to `model` (one forward pass at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

namespace parapet::engine {

class KvPrefix;  // engine/kv_prefix.h

class Model;

struct GenerateOptions {
  SamplingParams sampling;
  int32_t max_tokens = 128;               // >= 0; generation stops after this many tokens
  std::vector<std::string> stop;          // stop strings (not included in the output)
  bool stop_at_end_of_generation = true;  // EOS / EOT ends generation (not included)
  int32_t n_ctx = 0;                      // context to allocate; 0 = prompt + max_tokens (capped)
  uint64_t max_kv_bytes = 0;              // KV cache budget; 0 = half of the physical memory
  int32_t prompt_batch = 256;             // prompt tokens per forward pass
  bool teacher_forcing = false;           // feed `forced_ids` instead of sampled tokens (tests)
  std::vector<TokenId> forced_ids;
};

struct GenerateResult {
  std::vector<TokenId> generated_ids;
  std::string text;                 // detokenized output, stop string removed
  std::vector<SampleResult> steps;  // per generated token: chosen logprob and top-N
  // Only when the request asked to score its prompt (GenerationRequest::prompt_logprobs >= 0):
  // entry i scores prompt token i + 1 given the tokens before it (the first token has no score).
  std::vector<SampleResult> prompt_steps;
  // Only when the request asked for them (GenerationRequest::first_token_scores): the
  // log-softmax of the raw logits at the first generated position, for those ids, same order.
  std::vector<float> first_token_logprobs;
  std::string finish_reason;  // "stop" (EOS or stop string) | "length"
  int32_t prompt_tokens = 0;
  // Prompt tokens actually run through the model: prompt_tokens minus the positions copied from
  // a cached prefix (GenerationRequest::prefix).
  int32_t prompt_tokens_evaluated = 0;
  double prompt_ms = 0;  // prefill, up to the first token's logits
  int32_t generated_tokens = 0;
  double decode_ms = 0;  // everything after prefill: sampling and decode passes
  // Only when the request asked for it (GenerationRequest::keep_prompt_kv) and it was not
  // cancelled: its prompt's keys and values, a prefix for a follow-up request that extends the
  // prompt (Scheduler only).
  std::shared_ptr<const KvPrefix> prompt_kv;
};

// Called with each piece of newly released text; return false to stop generating (the result's
// finish_reason is then "cancelled").
using TextCallback = std::function<bool(std::string_view text)>;

// Runs `prompt` (token ids, BOS included if wanted) and generates. Errors: InvalidArgument for
// bad options (empty prompt, prompt longer than the context, bad sampling parameters);
// ResourceExhausted when the context's KV cache would exceed max_kv_bytes.
Result<GenerateResult> Generate(Model& model, std::span<const TokenId> prompt,
                                const GenerateOptions& options,
                                const TextCallback& on_text = nullptr);

}  // namespace parapet::engine
