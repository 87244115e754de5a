// Generate: prefill + sampling loop.
#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "common/system_info.h"
#include "engine/model.h"
#include "engine/stop_matcher.h"

namespace parapet::engine {
namespace {

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Result<GenerateResult> Generate(Model& model, std::span<const TokenId> prompt,
                                const GenerateOptions& options, const TextCallback& on_text) {
  const ModelConfig& c = model.config();
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty");
  if (options.max_tokens < 0) return InvalidArgumentError("max_tokens must be >= 0");
  PARAPET_RETURN_IF_ERROR(ValidateSamplingParams(options.sampling));
  PARAPET_RETURN_IF_ERROR(ValidateStopStrings(options.stop));
  StopMatcher stops(options.stop);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (options.n_ctx > c.n_ctx_train) {
    return InvalidArgumentError("context size " + std::to_string(options.n_ctx) +
                                " exceeds the model's context length " +
                                std::to_string(c.n_ctx_train));
  }
  int64_t n_ctx = options.n_ctx > 0
                      ? options.n_ctx
                      : std::min<int64_t>(c.n_ctx_train, n_prompt + options.max_tokens);
  n_ctx = std::max<int64_t>(n_ctx, 1);
  if (n_prompt > n_ctx) {
    return InvalidArgumentError("the prompt has " + std::to_string(n_prompt) +
                                " tokens but the context window holds " + std::to_string(n_ctx));
  }
  const uint64_t kv_bytes = KvCache::BytesFor(c.n_layer, c.n_embd_kv(), n_ctx);
  const uint64_t kv_limit =
      options.max_kv_bytes > 0 ? options.max_kv_bytes : PhysicalMemoryBytes() / 2;
  if (kv_bytes > kv_limit) {
    return ResourceExhaustedError("a context of " + std::to_string(n_ctx) + " tokens needs " +
                                  std::to_string(kv_bytes >> 20) + " MiB of KV cache, over the " +
                                  std::to_string(kv_limit >> 20) +
                                  " MiB budget; use a smaller context or fewer tokens");
  }
  std::unique_ptr<KvCache> kv = model.NewKvCache(static_cast<int32_t>(n_ctx));
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  GenerateResult result;
  result.prompt_tokens = static_cast<int32_t>(n_prompt);
  result.prompt_tokens_evaluated = result.prompt_tokens;

  // ---- prefill ----
  auto t0 = std::chrono::steady_clock::now();
  const int64_t step = std::max<int32_t>(1, options.prompt_batch);
  std::vector<BatchToken> batch;
  for (int64_t start = 0; start < n_prompt; start += step) {
    const int64_t end = std::min(n_prompt, start + step);
    batch.clear();
    for (int64_t i = start; i < end; ++i) {
      batch.push_back(BatchToken{prompt[static_cast<size_t>(i)], static_cast<int32_t>(i), kv.get(),
                                 i == n_prompt - 1});
    }
    PARAPET_RETURN_IF_ERROR(model.Forward(batch, logits.data()));
  }
  result.prompt_ms = MsSince(t0);

  // ---- decode ----
  t0 = std::chrono::steady_clock::now();
  Sampler sampler(options.sampling, c.n_vocab);
  // The output continues the prompt, so a leading space of the first token is kept.
  StreamDecoder decoder(model.tokenizer(), /*strip_leading_space=*/false);
  const Tokenizer& tok = model.tokenizer();
  result.finish_reason = "length";
  auto emit = [&](std::string_view text) {
    result.text += text;
    return on_text ? on_text(text) : true;
  };
  bool done = false;
  for (int32_t i = 0; i < options.max_tokens && !done; ++i) {
    SampleResult s = sampler.Sample(logits);
    TokenId id = s.id;
    if (options.teacher_forcing && static_cast<size_t>(i) < options.forced_ids.size()) {
      id = options.forced_ids[static_cast<size_t>(i)];
    }
    result.steps.push_back(std::move(s));
    if (options.stop_at_end_of_generation && tok.IsEndOfGeneration(id)) {
      result.finish_reason = "stop";
      break;
    }
    result.generated_ids.push_back(id);
    StopMatcher::Output m = stops.Push(decoder.Push(id));
    if (!emit(m.text)) {
      result.finish_reason = "cancelled";
      break;
    }
    if (m.stopped) {
      result.finish_reason = "stop";
      done = true;
      break;
    }
    const int32_t pos = static_cast<int32_t>(n_prompt) + i;
    if (i + 1 == options.max_tokens) break;
    if (pos >= n_ctx) break;  // context full: finish with "length"
    BatchToken next{id, pos, kv.get(), true};
    PARAPET_RETURN_IF_ERROR(model.Forward(std::span<const BatchToken>(&next, 1), logits.data()));
  }
  if (result.finish_reason != "cancelled" && !done) {
    StopMatcher::Output m = stops.Push(decoder.Flush());
    std::string tail = m.stopped ? m.text : m.text + stops.Flush();
    if (m.stopped) result.finish_reason = "stop";
    emit(tail);
  }
  result.generated_tokens = static_cast<int32_t>(result.generated_ids.size());
  result.decode_ms = MsSince(t0);
  return result;
}

}  // namespace parapet::engine
