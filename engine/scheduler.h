// Scheduler: continuous batching of many generation requests over one Model. Requests wait in a
// bounded FIFO queue; a request is admitted when a sequence slot is free and its KV reservation
// (prompt + max_tokens, capped at the model's context) fits in what is left of one shared KV pool.
// Every iteration of the scheduler thread builds one Model::Forward batch: the next token of every
// decoding sequence plus prompt chunks of prefilling sequences, up to max_batch_tokens, so a long
// prompt is prefilled over several passes while the other streams keep decoding. Each sequence
// samples, detokenizes and matches stop strings exactly as engine::Generate does, so a request's
// output does not depend on what else runs with it.
//
// Prefix reuse (guard-model checks, shared system prompts): CachePrefix evaluates a prompt prefix
// once into a KvPrefix; a request naming it gets the prefix's keys and values copied into its own
// cache at admission and prefills only the rest. The prefix's memory is outside the KV pool; the
// request still reserves its whole prompt + max_tokens.
//
// Thread-safety: Submit, Cancel, stats and CachePrefix (not from a TokenSink) may be called from
// any thread. The scheduler thread owns the Model while the Scheduler lives (nothing else may call
// Model::Forward) and is the only thread that calls TokenSink methods.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/generator.h"
#include "engine/kv_prefix.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

namespace parapet::engine {

class Model;

struct SchedulerOptions {
  int32_t max_sequences = 8;       // sequences admitted (prefilling or decoding) at once; >= 1
  int32_t max_batch_tokens = 256;  // tokens per forward pass (prompt chunks + one per decoding
                                   // sequence); >= max_sequences
  int64_t kv_pool_tokens = 4096;   // KV positions shared by all sequences (one pool); >= 1
  int32_t max_queue = 64;          // waiting requests before Submit refuses (overload); >= 1
};

// OK, or InvalidArgument naming the offending field.
Status ValidateSchedulerOptions(const SchedulerOptions& options);

struct GenerationRequest {
  std::vector<TokenId> prompt;  // token ids, BOS included if wanted
  // Sampling, max_tokens, stop, stop_at_end_of_generation and n_ctx as for engine::Generate.
  // max_kv_bytes and prompt_batch are ignored (the pool and max_batch_tokens govern);
  // teacher_forcing is not supported.
  GenerateOptions options;
  // >= 0: also score the prompt (the log-probability of every prompt token after the first, with
  // this many top alternatives, at most kMaxLogprobs), reported in GenerateResult::prompt_steps.
  // -1: no prompt scores (the prompt's logits are not computed). Not with `prefix` (the prefix's
  // logits are not kept).
  int32_t prompt_logprobs = -1;
  // Reuse a cached prefix (CachePrefix of this Scheduler): `prompt` must begin with
  // prefix->tokens() (else Submit returns InvalidArgument); those positions are copied from the
  // prefix's cache, not evaluated. When the prompt is exactly the prefix, its last token is
  // evaluated all the same (its logits start the generation): one position fewer is copied.
  std::shared_ptr<const KvPrefix> prefix;
  // Log-probabilities (log-softmax over the whole vocabulary of the raw logits, before any
  // sampling transform) of these token ids at the first generated position, reported in
  // GenerateResult::first_token_logprobs in this order. Also with max_tokens = 0 (the logits
  // after the prompt are computed anyway). Each id in [0, n_vocab).
  std::vector<TokenId> first_token_scores;
};

// Receives one request's output. Called on the scheduler thread, never concurrently for one
// request; must not block for long (it stalls every sequence) and must not throw.
class TokenSink {
 public:
  virtual ~TokenSink() = default;
  // One call per generated token, in order. `text` is the newly released text (may be empty
  // while partial UTF-8 or a possible stop-string prefix is held back); the call for a sequence's
  // last token also carries the held-back tail. When generation ends on an end-of-generation
  // token while text is still held back, one extra call carries that text with the end token's
  // id and sample. The concatenated texts equal `summary.text` of OnDone (unless cancelled).
  virtual void OnText(std::string_view text, TokenId id, const SampleResult& sample) = 0;
  // Exactly once per accepted request, last. OK status with finish_reason "stop" (end of
  // generation or stop string), "length" (max_tokens or full context) or "cancelled" (Cancel or
  // the Scheduler's destruction); or an error status with finish_reason "error". `summary`
  // holds what was generated so far.
  virtual void OnDone(const Status& status, std::string_view finish_reason,
                      const GenerateResult& summary) = 0;
};

class Scheduler {
 public:
  // Starts the scheduler thread. `model` must outlive the Scheduler.
  // REQUIRES: ValidateSchedulerOptions(options).ok().
  Scheduler(Model& model, const SchedulerOptions& options);
  // Cancels every queued and running request (OnDone "cancelled") and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request and returns its id. Errors (synchronous; `sink` is never called):
  // InvalidArgument for an empty prompt, a token id out of range, bad sampling or stop options,
  // a reservation that can never fit the pool or the model's context, a prefix the prompt does
  // not begin with or that another Scheduler built, a prefix with prompt_logprobs, or a
  // first_token_scores id out of range; ResourceExhausted when max_queue requests are already
  // waiting (overload); Unavailable while shutting down; after an internal failure of the
  // scheduler thread, that failure. REQUIRES: sink != nullptr.
  Result<uint64_t> Submit(GenerationRequest request, std::shared_ptr<TokenSink> sink);

  // Evaluates `tokens` once on the scheduler thread (queued like a request and prefilled in
  // chunks of max_batch_tokens, batched with other work; it takes a sequence slot meanwhile but
  // no KV pool positions, and computes no logits) and returns its keys and values for reuse by
  // later requests of this Scheduler. Blocks the caller until done (meant to be called rarely:
  // once per distinct prefix). Errors: InvalidArgument for empty tokens, a token id out of range,
  // or more tokens than the model's context; ResourceExhausted when max_queue requests are
  // waiting; Unavailable when the Scheduler shuts down first; a forward-pass error (e.g.
  // ResourceExhausted when the device has no memory for the prefix's cache); after an internal
  // failure of the scheduler thread, that failure. Any thread but the scheduler thread (not from
  // a TokenSink call).
  Result<std::shared_ptr<const KvPrefix>> CachePrefix(std::vector<TokenId> tokens);

  // Any thread. The request stops before its next decode step (or is dropped from the queue), its
  // KV reservation is returned and its sink gets OnDone "cancelled". Unknown or finished ids are
  // ignored.
  void Cancel(uint64_t id);

  struct Stats {
    int32_t queued = 0;              // waiting requests
    int32_t running = 0;             // admitted sequences
    int64_t kv_tokens_in_use = 0;    // reserved KV positions
    int64_t kv_pool_tokens = 0;      // the pool's size
    uint64_t forward_passes = 0;     // successful Model::Forward calls
    uint64_t tokens_generated = 0;   // sampled tokens, all requests
    uint64_t cancelled_running = 0;  // admitted sequences ended by Cancel()
    // Over those: the most forward passes that began after a Cancel() call and still included
    // the cancelled sequence (0 or 1: one already running when Cancel() came).
    uint64_t cancel_passes_max = 0;
    // Prompt tokens of requests (not of CachePrefix) run through the model so far, and prompt
    // positions copied from cached prefixes instead (for a finished request, the two add up to
    // its prompt).
    uint64_t prompt_tokens_evaluated = 0;
    uint64_t prompt_tokens_reused = 0;
  };
  Stats stats() const;

 private:
  struct Sequence;
  using SequencePtr = std::unique_ptr<Sequence>;

  // Queues `seq` (Submit and CachePrefix) and returns its id; the overload and shutdown errors.
  Result<uint64_t> Enqueue(SequencePtr seq);

  // ---- scheduler thread ----
  void Run();  // Loop() with every exception caught
  void Loop();
  // REQUIRES: mu_ held. Moves cancelled queued requests to `dropped`, marks cancelled running
  // ones and forgets the remaining (unknown or finished) ids.
  void TakeCancellations(std::vector<SequencePtr>& dropped);
  // REQUIRES: mu_ held. Moves requests from the queue head to running_ while a slot and the
  // pool allow, reserving their KV positions (their engine state is built by Start, unlocked).
  void AdmitFromQueue();
  // Builds an admitted sequence's engine state: KV cache (seeded from its prefix), sampler,
  // decoder, stop matcher.
  void Start(Sequence& seq);
  void EndCancelled();
  struct Batch;
  // The next batch: one token per decoding sequence, then prompt chunks up to max_batch_tokens.
  void BuildBatch(Batch& batch);
  // One batch: build, Forward, sample every sequence that got logits, reap the finished ones.
  void Step();
  // Samples the next token from `logits` and streams its text, as engine::Generate does; marks
  // the sequence ended when it finishes.
  void Decode(Sequence& seq, std::span<const float> logits);
  // End of stream: the decoder's and stop matcher's held-back text.
  std::string FlushTail(Sequence& seq);
  // Removes ended sequences from running_, returns their reservations and calls OnDone (a
  // finished CachePrefix sequence hands its cache to a KvPrefix first).
  void Reap();
  void FinishQueued(SequencePtr seq, std::string_view finish_reason);
  // After an exception on the scheduler thread: ends everything with `status` and makes it stick.
  void FailAll(const Status& status);

  Model& model_;
  const SchedulerOptions options_;
  // This Scheduler's identity, held by the prefixes it builds (whose owner Submit checks).
  const std::shared_ptr<const void> prefix_owner_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled on Submit, Cancel and shutdown
  // Guarded by mu_:
  std::deque<SequencePtr> queue_;  // waiting requests, FIFO
  // Cancel() ids not yet acted on -> forward_passes_ when Cancel() was called.
  std::unordered_map<uint64_t, uint64_t> cancel_ids_;
  bool stopping_ = false;  // destructor called
  Status failed_;          // sticky failure of the scheduler thread
  uint64_t next_id_ = 1;
  int32_t n_running_ = 0;
  int64_t kv_tokens_in_use_ = 0;
  uint64_t forward_passes_ = 0;
  uint64_t tokens_generated_ = 0;
  uint64_t cancelled_running_ = 0;
  uint64_t cancel_passes_max_ = 0;
  uint64_t prompt_tokens_evaluated_ = 0;
  uint64_t prompt_tokens_reused_ = 0;

  // Scheduler thread only (AdmitFromQueue fills running_ while holding mu_, incidentally):
  std::vector<SequencePtr> running_;  // admitted sequences, in admission order
  std::vector<float> logits_;         // [n_with_logits, n_vocab]

  std::thread thread_;  // last: starts after everything above is built
};

}  // namespace parapet::engine
