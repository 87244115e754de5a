// Scheduler: continuous batching of many generation requests over one or more Models that share
// one scheduler thread and one KV pool: the chat model and, beside it, guard models whose checks
// run in the same loop as generation. Each model is a lane with its own bounded FIFO queue,
// sequence slots and per-pass token budget; lane 0 is the primary model (SchedulerOptions).
//
// Every iteration of the scheduler thread admits what fits, then runs one Model::Forward batch per
// lane that has work: the next token of every decoding sequence plus prompt chunks of prefilling
// sequences, up to the lane's max_batch_tokens, so a long prompt is prefilled over several passes
// while the other streams keep decoding, and a guard check waits at most one chat pass (never a
// whole generation) to be evaluated. Each sequence samples, detokenizes and matches stop strings
// exactly as engine::Generate does, so a request's output does not depend on what else runs with
// it.
//
// KV pool: requests reserve prompt + max_tokens positions (capped at the context) of their own
// model, counted in bytes, from one pool of kv_pool_tokens primary-model positions plus every
// other lane's kv_reserve_tokens. A lane's reserve is kept for it: other lanes never take it,
// while the lane itself may borrow what is free beyond the reserves. Admission takes the other
// lanes' heads first (guard checks gate chat requests and are short), then lane 0's; within a
// lane it is strict FIFO.
//
// Prefix reuse (guard-model checks, shared system prompts): CachePrefix evaluates a prompt prefix
// once into a KvPrefix; a request naming it gets the prefix's keys and values copied into its own
// cache at admission and prefills only the rest. The prefix's memory is outside the KV pool; the
// request still reserves its whole prompt + max_tokens.
//
// Thread-safety: Submit, Cancel, stats, CachePrefix (not from a TokenSink) and Shutdown may be
// called from any thread. The scheduler thread owns the Models while it runs (nothing else may
// call Model::Forward on them) and is the only thread that calls TokenSink methods.
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
#include <unordered_set>
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

// A further model run by the same Scheduler (lane 1, 2, ...).
struct SchedulerLane {
  Model* model = nullptr;          // must outlive the Scheduler
  int32_t max_sequences = 4;       // as in SchedulerOptions, for this lane
  int32_t max_batch_tokens = 256;  // >= max_sequences
  int32_t max_queue = 64;          // >= 1
  int64_t kv_reserve_tokens = 0;   // this model's positions kept for it in the pool; >= 0
};

// OK, or InvalidArgument naming the lane and the offending field.
Status ValidateSchedulerLane(const SchedulerLane& lane, size_t index);

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
  // Reuse a cached prefix (CachePrefix of this Scheduler and lane): `prompt` must begin with
  // prefix->tokens() (else Submit returns InvalidArgument); those positions are copied from the
  // prefix's cache, not evaluated. When the prompt is exactly the prefix, its last token is
  // evaluated all the same (its logits start the generation): one position fewer is copied.
  std::shared_ptr<const KvPrefix> prefix;
  // -1: use all of `prefix`. n in [0, prefix->tokens().size()]: use only its first n positions,
  // which `prompt` must begin with — e.g. the longest common prefix of the prompt and a cached
  // earlier prompt that went on differently (a guard check of a response that has grown).
  int32_t prefix_positions = -1;
  // Log-probabilities (log-softmax over the whole vocabulary of the raw logits, before any
  // sampling transform) of these token ids at the first generated position, reported in
  // GenerateResult::first_token_logprobs in this order. Also with max_tokens = 0 (the logits
  // after the prompt are computed anyway). Each id in [0, n_vocab).
  std::vector<TokenId> first_token_scores;
  // The model that runs it: 0 the primary, i the i-th SchedulerLane.
  int32_t lane = 0;
  // Keep the prompt's keys and values when the request ends (not cancelled, no error): reported
  // as GenerateResult::prompt_kv, a prefix of this Scheduler and lane whose tokens are the
  // prompt, so a follow-up request that extends the prompt evaluates only its new tokens (a
  // guard check's category line after its verdict). Memory outside the KV pool, like any prefix.
  bool keep_prompt_kv = false;
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
  // the Scheduler's Shutdown); or an error status with finish_reason "error". `summary`
  // holds what was generated so far.
  virtual void OnDone(const Status& status, std::string_view finish_reason,
                      const GenerateResult& summary) = 0;
};

class Scheduler {
 public:
  // Starts the scheduler thread. `model` (and every lane's model) must outlive the Scheduler.
  // REQUIRES: ValidateSchedulerOptions(options).ok(), ValidateSchedulerLane(lanes[i], i + 1).ok().
  Scheduler(Model& model, const SchedulerOptions& options, std::vector<SchedulerLane> lanes = {});
  // Shutdown().
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request and returns its id. Errors (synchronous; `sink` is never called):
  // InvalidArgument for an unknown lane, an empty prompt, a token id out of range, bad sampling or
  // stop options, a reservation that can never fit the pool or the model's context, a prefix the
  // prompt does not begin with or that another Scheduler or lane built, a prefix with
  // prompt_logprobs, or a first_token_scores id out of range; ResourceExhausted when the lane's
  // max_queue requests are already waiting (overload); Unavailable while shutting down; after an
  // internal failure of the scheduler thread, that failure. REQUIRES: sink != nullptr.
  Result<uint64_t> Submit(GenerationRequest request, std::shared_ptr<TokenSink> sink);

  // Evaluates `tokens` once on the scheduler thread with `lane`'s model (queued like a request
  // and prefilled in chunks of the lane's max_batch_tokens, batched with other work; it takes a
  // sequence slot meanwhile but no KV pool positions, and computes no logits) and returns its keys
  // and values for reuse by later requests of this Scheduler and lane. Blocks the caller until
  // done (meant to be called rarely: once per distinct prefix). Errors: InvalidArgument for an
  // unknown lane, empty tokens, a token id out of range, or more tokens than the model's context;
  // ResourceExhausted when the lane's max_queue requests are waiting; Unavailable when the
  // Scheduler shuts down first; a forward-pass error (e.g. ResourceExhausted when the device has no
  // memory for the prefix's cache); after an internal failure of the scheduler thread, that
  // failure. Any thread but the scheduler thread (not from a TokenSink call).
  Result<std::shared_ptr<const KvPrefix>> CachePrefix(std::vector<TokenId> tokens,
                                                      int32_t lane = 0);

  // Cancels every queued and running request (OnDone "cancelled") and joins the scheduler thread;
  // later calls to Submit and CachePrefix return Unavailable. Idempotent; any thread but the
  // scheduler thread. The Scheduler object stays valid (for stats) until destroyed.
  void Shutdown();

  // Any thread. The request stops before its next decode step (or is dropped from the queue), its
  // KV reservation is returned and its sink gets OnDone "cancelled". Unknown or finished ids are
  // ignored. Ids are unique across lanes.
  void Cancel(uint64_t id);

  // One lane's figures (queue, sequences, passes, tokens) and the shared pool's.
  struct Stats {
    int32_t queued = 0;            // waiting requests
    int32_t running = 0;           // admitted sequences
    int64_t kv_tokens_in_use = 0;  // KV positions this lane's sequences reserve
    // The most positions this lane's sequences may reserve: kv_pool_tokens for lane 0, the
    // reserve for the others (both can grow into the pool's free space only as described above:
    // lane 0 never takes another lane's reserve).
    int64_t kv_pool_tokens = 0;
    uint64_t kv_bytes_in_use = 0;    // the whole pool: reserved by every lane
    uint64_t kv_pool_bytes = 0;      // the whole pool's size
    uint64_t forward_passes = 0;     // successful Model::Forward calls of this lane
    uint64_t tokens_generated = 0;   // sampled tokens, all of this lane's requests
    uint64_t cancelled_running = 0;  // admitted sequences ended by Cancel()
    // Over those: the most forward passes that still included the cancelled sequence after its
    // Cancel() call (0 or 1: one already running when Cancel() came).
    uint64_t cancel_passes_max = 0;
    // Prompt tokens of requests (not of CachePrefix) run through the model so far, and prompt
    // positions copied from cached prefixes instead (for a finished request, the two add up to
    // its prompt).
    uint64_t prompt_tokens_evaluated = 0;
    uint64_t prompt_tokens_reused = 0;
  };
  // REQUIRES: 0 <= lane < lanes().
  Stats stats(int32_t lane = 0) const;
  int32_t lanes() const { return static_cast<int32_t>(lanes_.size()); }

 private:
  struct Sequence;
  using SequencePtr = std::unique_ptr<Sequence>;
  struct Lane;

  // Queues `seq` (Submit and CachePrefix) on its lane and returns its id; the overload and
  // shutdown errors.
  Result<uint64_t> Enqueue(SequencePtr seq);
  // The context (= KV reservation) a request needs, with the errors of requests that can never
  // run on `lane`.
  Result<int32_t> RequestContext(const Lane& lane, const GenerationRequest& request) const;

  // ---- scheduler thread ----
  void Run();  // Loop() with every exception caught
  void Loop();
  // REQUIRES: mu_ held. Moves cancelled queued requests to `dropped`, marks cancelled running
  // ones and forgets the remaining (unknown or finished) ids.
  void TakeCancellations(std::vector<SequencePtr>& dropped);
  // REQUIRES: mu_ held. The pool bytes `lane` may still reserve: what is free, less the unused
  // part of every other lane's reserve.
  uint64_t Available(const Lane& lane) const;
  // REQUIRES: mu_ held. Moves requests from the queue heads to their lanes' running sequences
  // while a slot and the pool allow (other lanes first, then lane 0), reserving their KV (their
  // engine state is built by Start, unlocked).
  void AdmitFromQueues();
  // Builds an admitted sequence's engine state: KV cache (seeded from its prefix), sampler,
  // decoder, stop matcher.
  void Start(Lane& lane, Sequence& seq);
  void EndCancelled(Lane& lane);
  struct Batch;
  // The next batch of `lane`: one token per decoding sequence, then prompt chunks up to the
  // lane's max_batch_tokens.
  void BuildBatch(Lane& lane, Batch& batch);
  // One pass of `lane`: build, Forward, sample every sequence that got logits, reap the finished
  // ones.
  void Step(Lane& lane);
  // Samples the next token from `logits` and streams its text, as engine::Generate does; marks
  // the sequence ended when it finishes.
  void Decode(Lane& lane, Sequence& seq, std::span<const float> logits);
  // End of stream: the decoder's and stop matcher's held-back text.
  std::string FlushTail(Sequence& seq);
  // Removes `lane`'s ended sequences, returns their reservations and calls OnDone (a finished
  // CachePrefix sequence hands its cache to a KvPrefix first).
  void Reap(Lane& lane);
  void FinishQueued(SequencePtr seq, std::string_view finish_reason);
  // After an exception on the scheduler thread: ends everything with `status` and makes it stick.
  void FailAll(const Status& status);

  // Lane 0 is the primary model; the rest follow the constructor's `lanes`.
  std::vector<std::unique_ptr<Lane>> lanes_;
  uint64_t pool_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled on Submit, Cancel and shutdown
  // Guarded by mu_ (and each Lane's fields marked so):
  std::unordered_set<uint64_t> cancel_ids_;  // Cancel() ids not yet acted on
  bool stopping_ = false;                    // Shutdown() called
  Status failed_;                            // sticky failure of the scheduler thread
  uint64_t next_id_ = 1;
  uint64_t bytes_in_use_ = 0;  // every lane's reservations

  std::mutex shutdown_mu_;  // one Shutdown() joins the thread
  std::thread thread_;      // last: starts after everything above is built
};

}  // namespace parapet::engine
