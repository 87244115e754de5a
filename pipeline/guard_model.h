// The guard-model seam: how the `guard_model` stage (stages/guard_model_stage.h) asks a Llama
// Guard–class safety LLM for a verdict without including engine headers (DESIGN §6). The gateway
// implements GuardScorer over the engine (one per loaded guard model) and hands the policy
// compiler a GuardModelRegistry, as it hands it a TokenCounter; tests use fakes.
//
// A check is one rendered prompt, split so that the engine can cache the part that never changes:
//
//   prefix        BOS / chat header, task line, categories, "<BEGIN CONVERSATION>\n\n" — fixed
//                 per (template, taxonomy, role): evaluate it once, reuse its KV cache
//   conversation  "User: ...\n\nAgent: ...\n\n" — the only part that differs between checks
//   suffix        "<END CONVERSATION>\n\nProvide your safety assessment ..." + the assistant header
//
// Each part ends with "\n\n" or a special token and the next starts with a non-space character,
// so tokenizing the parts one by one gives the tokens of the whole text (Llama 3's `llama-bpe`
// pre-tokenizer splits at both boundaries). Special tokens (`<|begin_of_text|>`,
// `<|start_header_id|>`, ...) appear as text and are to be parsed as special tokens.
//
// Thread-safety: GuardScorer::Score is called from many request threads at once; the registry is
// immutable once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::pipeline {

// The prompt formats of the published guard models (internal/guard_prompt.h renders them).
enum class GuardTemplate {
  kLlamaGuard3,     // "llama-guard-3": Llama Guard 3 8B, Llama 3 chat headers, S1–S14
  kLlamaGuard3_1B,  // "llama-guard-3-1b": Llama Guard 3 1B (S1–S13; " <|eot_id|>")
  kLlamaGuard2,     // "llama-guard-2": Meta Llama Guard 2 8B, "[INST] ... [/INST]", S1–S11
};

// "llama-guard-3" | "llama-guard-3-1b" | "llama-guard-2"; nullopt for any other name.
std::optional<GuardTemplate> GuardTemplateFromName(std::string_view name);
const char* GuardTemplateName(GuardTemplate t);

// One unsafe-content category as the prompt lists it: "S1: Violent Crimes." (+ the description
// on the next line when there is one).
struct GuardCategory {
  std::string code;         // what the model answers with: "S1"
  std::string name;         // "Violent Crimes" (a final "." is added when rendering, if missing)
  std::string description;  // optional policy text under the name
};

// The rendered prompt, in the three parts described above. text() is the whole prompt.
struct GuardPrompt {
  std::string prefix;
  std::string conversation;
  std::string suffix;
  // Prepend the tokenizer's BOS token: true where the text does not start with one
  // (llama-guard-2's "[INST]" format), false where it does (`<|begin_of_text|>` in Llama Guard 3).
  bool add_bos = false;

  std::string text() const { return prefix + conversation + suffix; }
};

// One request to a guard model.
struct GuardCheck {
  GuardPrompt prompt;
  // When p_unsafe >= continue_at, the engine also generates a short greedy continuation with the
  // first token forced to "unsafe" (the category line); below it, one forward pass is all a check
  // costs. > 1: never.
  double continue_at = 0.5;
  int32_t max_continuation_tokens = 16;  // stops earlier at end of turn
  // Past this the engine stops (cancels the sequence, frees its KV cache) and Score returns
  // DeadlineExceeded.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct GuardScore {
  // At the first generated position, over the two verdict tokens only:
  //   p_unsafe = P("unsafe") / (P("safe") + P("unsafe"))  — in [0, 1]
  // (the model cards' classifier score: "we look at the probability for the first token").
  double p_unsafe = 0;
  // Greedy text after the forced "unsafe" token, e.g. "\nS1,S9" (usually up to the end-of-turn
  // token, which is not included); "" when p_unsafe < continue_at.
  std::string continuation;
  // Prompt tokens this check evaluated (the conversation and suffix when the prefix was cached,
  // plus the forced "unsafe" of a category line); for metrics and tests of prefix reuse. 0 when
  // the scorer does not count.
  int64_t prompt_tokens_evaluated = 0;
};

// A loaded guard model. Implementations: the gateway's engine adapter; fakes in tests.
class GuardScorer {
 public:
  virtual ~GuardScorer() = default;
  GuardScorer() = default;
  GuardScorer(const GuardScorer&) = delete;
  GuardScorer& operator=(const GuardScorer&) = delete;

  // The name policies use (`model: llama-guard-3`).
  virtual const std::string& model_id() const = 0;

  // Scores one check. Errors: DeadlineExceeded past check.deadline, ResourceExhausted /
  // Unavailable when the engine cannot take it (queue full, shutting down), Internal on a model
  // fault. Thread-safe; may block the calling thread until the result is ready.
  virtual Result<GuardScore> Score(const GuardCheck& check) const = 0;
};

// The guard models a process has loaded, by model id. Built once (the gateway, at startup),
// immutable afterwards, thread-safe; policies keep shared references to the scorers they use.
class GuardModelRegistry {
 public:
  // InvalidArgument when the id is empty or already taken.
  Status Add(std::shared_ptr<const GuardScorer> scorer);
  // Null when no model has that id.
  std::shared_ptr<const GuardScorer> Find(std::string_view model_id) const;
  std::vector<std::string> names() const;  // sorted
  bool empty() const { return scorers_.empty(); }

 private:
  std::map<std::string, std::shared_ptr<const GuardScorer>, std::less<>> scorers_;
};

}  // namespace parapet::pipeline
