// Guard models on the built-in engine: each GuardModel loads a Llama Guard–class GGUF beside the
// chat model and implements pipeline::GuardScorer for the `guard_model` policy stage. In the
// gateway its checks run as a lane of the chat model's Scheduler (one scheduler thread, one KV
// pool: Open, lane(), then Serve); the CLI and benchmarks give it a Scheduler of its own (Load).
// Either way checks from many requests are batched together.
//
// One check (GuardModel::Score):
//   1. the prompt's fixed prefix (instructions + taxonomy) is tokenized and evaluated once per
//      distinct prefix (Scheduler::CachePrefix); its KV cache is copied into every later check,
//      so a check evaluates only the conversation and the suffix;
//   2. one forward pass over the prompt gives the first token's distribution: p_unsafe is the
//      probability of the "unsafe" token(s) among the "safe"/"unsafe" ones;
//   3. when p_unsafe reaches the stage's threshold, a second request forces "unsafe" and decodes
//      greedily up to the end of turn: the category line ("\nS1,S9"). It continues from the
//      first request's cache (GenerationRequest::keep_prompt_kv), so it evaluates only the
//      forced tokens, not the conversation again.
// The caches of the last `cached_checks` checks are kept too: a check whose prompt shares more
// than the instruction prefix with one of them — the same streamed response judged again as it
// grows, a conversation with one more turn — copies the shared part (the longest common token
// prefix) and evaluates only the rest, so judging a stream at every sentence costs about its
// length once, not once per sentence. That memory is outside the KV pool.
// The conversation is tokenized without special tokens, so text in a message cannot close the
// turn or forge a verdict; one longer than the guard's context keeps its end (the judged turn).
// Past the check's deadline the sequence is cancelled (its KV freed) and Score returns
// DeadlineExceeded.
//
// Thread-safety: Score may be called from many threads at once; it blocks the caller until the
// verdict (or the deadline).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "gateway/config.h"
#include "pipeline/guard_model.h"

namespace parapet::gateway {

class MetricsRegistry;

class GuardModel : public pipeline::GuardScorer {
 public:
  // Loads the model and checks its vocabulary. Score fails (Unavailable) until Serve.
  // Errors name the file and what is wrong (e.g. a tokenizer without "safe" / "unsafe").
  static Result<std::shared_ptr<GuardModel>> Open(const GuardModelConfig& config,
                                                  const engine::ModelOptions& options);
  // Open, then Serve on a Scheduler of its own (the model as its only lane).
  static Result<std::shared_ptr<GuardModel>> Load(const GuardModelConfig& config,
                                                  const engine::ModelOptions& options);
  ~GuardModel() override;

  // This model as a lane of a shared Scheduler: slots, batch, queue and KV reserve from the
  // config.
  engine::SchedulerLane lane();
  // From now on checks run on `lane` of `scheduler` (whose lane() it must be). Call once (any
  // thread; a Score that ran before failed). `scheduler` must outlive every later Score call
  // and this GuardModel must outlive `scheduler` (it runs the model).
  void Serve(engine::Scheduler& scheduler, int32_t lane);

  const std::string& model_id() const override { return id_; }
  Result<pipeline::GuardScore> Score(const pipeline::GuardCheck& check) const override;

  const engine::Model& model() const { return *model_; }
  // REQUIRES: Serve was called.
  engine::Scheduler::Stats scheduler_stats() const { return scheduler_.load()->stats(lane_); }
  // Exports per-model metrics (checks by outcome, latency, prompt tokens evaluated / reused,
  // queued and running checks). REQUIRES: Serve was called.
  void ExportMetrics(MetricsRegistry& registry);

  struct Counters {
    std::atomic<uint64_t> safe{0}, unsafe{0}, errors{0}, timeouts{0};
    std::atomic<uint64_t> prompt_tokens_evaluated{0}, prompt_tokens_reused{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  GuardModel() = default;
  // The cached KV of `prefix` (built on first use; concurrent first uses wait for one build).
  Result<std::shared_ptr<const engine::KvPrefix>> Prefix(const std::string& prefix,
                                                         bool add_bos) const;
  // Runs one request to completion or the deadline.
  Result<engine::GenerateResult> Run(engine::GenerationRequest request,
                                     std::chrono::steady_clock::time_point deadline) const;

  std::string id_;
  GuardModelConfig config_;
  int32_t ctx_ = 0;  // the longest check, prompt and category line together
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Scheduler> own_scheduler_;    // Load only (after model_: destroyed first)
  std::atomic<engine::Scheduler*> scheduler_{nullptr};  // set by Serve (after lane_)
  int32_t lane_ = 0;
  std::vector<engine::TokenId> safe_ids_, unsafe_ids_;  // first tokens of "safe"/" safe", ...
  std::vector<engine::TokenId> unsafe_text_;            // "unsafe" as the model writes it
  // The recent check sharing the most tokens with `prompt` (when more than `at_least`) and how
  // many; {nullptr, 0} otherwise.
  std::pair<std::shared_ptr<const engine::KvPrefix>, size_t> RecentMatch(
      const std::vector<engine::TokenId>& prompt, size_t at_least) const;
  // Keeps a finished check's cache (newest first, at most cached_checks), dropping `superseded`
  // (the recent check it started from: the new one extends it).
  void Remember(std::shared_ptr<const engine::KvPrefix> kv,
                const std::shared_ptr<const engine::KvPrefix>& superseded) const;

  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const engine::KvPrefix>> prefixes_;
  mutable std::mutex recent_mu_;
  mutable std::deque<std::shared_ptr<const engine::KvPrefix>> recent_;
  mutable Counters counters_;
  struct Latency;
  std::shared_ptr<Latency> latency_;  // histogram, once ExportMetrics ran
};

}  // namespace parapet::gateway
