// Scheduler: queue, admission against the KV pool, batch building and per-sequence decoding.
#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include "common/logging.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/stop_matcher.h"

namespace parapet::engine {
namespace {

using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Errors for the fields a guard-style check adds: the prefix (whose owner the caller checks) and
// the first-token scores.
Status ValidateReuse(const ModelConfig& c, const GenerationRequest& request) {
  for (TokenId id : request.first_token_scores) {
    if (id < 0 || id >= c.n_vocab) {
      return InvalidArgumentError("first_token_scores id " + std::to_string(id) +
                                  " is outside [0, " + std::to_string(c.n_vocab) + ")");
    }
  }
  const KvPrefix* prefix = request.prefix.get();
  if (prefix == nullptr) return Status::Ok();
  const std::vector<TokenId>& t = prefix->tokens();
  if (request.prefix_positions < -1 || request.prefix_positions > static_cast<int64_t>(t.size())) {
    return InvalidArgumentError("prefix_positions " + std::to_string(request.prefix_positions) +
                                " is outside [-1, " + std::to_string(t.size()) + "]");
  }
  const size_t n =
      request.prefix_positions < 0 ? t.size() : static_cast<size_t>(request.prefix_positions);
  if (request.prompt.size() < n ||
      !std::equal(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n), request.prompt.begin())) {
    return InvalidArgumentError("the prompt does not begin with the cached prefix (" +
                                std::to_string(n) + " tokens)");
  }
  if (request.prompt_logprobs >= 0) {
    return InvalidArgumentError("prompt_logprobs cannot be combined with a cached prefix");
  }
  return Status::Ok();
}

// Errors for CachePrefix's tokens.
Status ValidatePrefixTokens(const ModelConfig& c, const std::vector<TokenId>& tokens) {
  if (tokens.empty()) return InvalidArgumentError("the prefix is empty");
  for (TokenId id : tokens) {
    if (id < 0 || id >= c.n_vocab) {
      return InvalidArgumentError("prefix token id " + std::to_string(id) + " is outside [0, " +
                                  std::to_string(c.n_vocab) + ")");
    }
  }
  if (tokens.size() > static_cast<size_t>(c.n_ctx_train)) {
    return InvalidArgumentError("the prefix has " + std::to_string(tokens.size()) +
                                " tokens but the model's context length is " +
                                std::to_string(c.n_ctx_train));
  }
  return Status::Ok();
}

// The sink of a CachePrefix sequence: Reap hands it the finished prefix, then OnDone wakes the
// waiting caller.
class PrefixWaiter final : public TokenSink {
 public:
  void OnText(std::string_view, TokenId, const SampleResult&) override {}
  void OnDone(const Status& status, std::string_view, const GenerateResult&) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    status_ = status;
    cv_.notify_all();
  }
  void SetPrefix(std::shared_ptr<const KvPrefix> prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    prefix_ = std::move(prefix);
  }
  Result<std::shared_ptr<const KvPrefix>> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    if (!status_.ok()) return status_;
    if (prefix_ == nullptr) {
      return UnavailableError("the scheduler shut down before the prefix was evaluated");
    }
    return prefix_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  std::shared_ptr<const KvPrefix> prefix_;
};

}  // namespace

// ---- sequence state ----

struct Scheduler::Sequence {
  uint64_t id = 0;
  int32_t lane = 0;
  std::vector<TokenId> prompt;
  GenerateOptions options;
  int32_t prompt_logprobs = -1;
  std::shared_ptr<TokenSink> sink;
  int32_t n_ctx = 0;         // KV capacity
  uint64_t kv_reserved = 0;  // its reservation from the pool in bytes (0 for a CachePrefix)
  std::shared_ptr<const KvPrefix> prefix;  // to copy from at Start (then released)
  size_t prefix_positions = 0;             // of which the first this many
  std::vector<TokenId> first_token_scores;
  // CachePrefix only (also `sink`): the prompt is a prefix to keep; no logits, no sampling.
  std::shared_ptr<PrefixWaiter> prefix_waiter;
  bool keep_prompt_kv = false;  // GenerationRequest::keep_prompt_kv

  // Built at admission (the queue holds no engine state).
  std::unique_ptr<KvCache> kv;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<Sampler> scorer;  // prompt scores only: reports with prompt_logprobs top-N
  std::unique_ptr<StreamDecoder> decoder;
  std::unique_ptr<StopMatcher> stops;
  int32_t n_prefilled = 0;   // prompt tokens in the cache
  int32_t n_reused = 0;      // of which copied from the prefix
  bool has_pending = false;  // `pending` (the last sampled token) goes into the next batch
  TokenId pending = 0;
  bool cancelled = false;  // Cancel() seen; ends before its next decode step
  // Forward passes that included it and ended after Cancel() was called (0 or 1: one already
  // running when Cancel() came).
  uint64_t passes_after_cancel = 0;

  bool ended = false;  // finished; OnDone follows in Reap()
  Status status;
  std::string finish_reason;
  GenerateResult result;
  Clock::time_point admitted_at;
  Clock::time_point first_logits_at;

  bool prefilling() const { return n_prefilled < static_cast<int32_t>(prompt.size()); }
  void End(Status s, std::string_view reason) {
    ended = true;
    status = std::move(s);
    finish_reason = std::string(reason);
  }
};

struct Scheduler::Lane {
  // For lane 0, o.kv_reserve_tokens is the primary model's kv_pool_tokens.
  Lane(int32_t i, const SchedulerLane& o)
      : model(*o.model),
        index(i),
        max_sequences(o.max_sequences),
        max_batch_tokens(o.max_batch_tokens),
        max_queue(o.max_queue),
        kv_tokens(o.kv_reserve_tokens),
        bytes_per_position(
            KvCache::BytesFor(model.config().n_layer, model.config().n_embd_kv(), 1)),
        kv_bytes(static_cast<uint64_t>(kv_tokens) * bytes_per_position),
        prefix_owner(std::make_shared<const char>(0)) {}

  Model& model;
  const int32_t index;
  const int32_t max_sequences;
  const int32_t max_batch_tokens;
  const int32_t max_queue;
  // Lane 0: the positions it may use; other lanes: their reserve.
  const int64_t kv_tokens;
  const uint64_t bytes_per_position;  // one position's keys and values, every layer
  const uint64_t kv_bytes;            // kv_tokens * bytes_per_position
  // This lane's identity, held by the prefixes it builds (whose owner Submit checks).
  const std::shared_ptr<const void> prefix_owner;

  // Guarded by the Scheduler's mu_:
  std::deque<SequencePtr> queue;  // waiting requests, FIFO
  int32_t n_running = 0;
  uint64_t bytes_in_use = 0;
  // The counters stats() reports as they are: passes, tokens, cancels, prompt tokens.
  Stats totals;

  // Scheduler thread only (AdmitFromQueues fills `running` while holding mu_, incidentally):
  std::vector<SequencePtr> running;  // admitted sequences, in admission order
  std::vector<float> logits;         // [n_with_logits, n_vocab]
};

Status ValidateSchedulerOptions(const SchedulerOptions& options) {
  if (options.max_sequences < 1) return InvalidArgumentError("max_sequences must be >= 1");
  if (options.max_batch_tokens < options.max_sequences) {
    return InvalidArgumentError("max_batch_tokens must be >= max_sequences");
  }
  if (options.kv_pool_tokens < 1) return InvalidArgumentError("kv_pool_tokens must be >= 1");
  if (options.max_queue < 1) return InvalidArgumentError("max_queue must be >= 1");
  return Status::Ok();
}

Status ValidateSchedulerLane(const SchedulerLane& lane, size_t index) {
  const std::string name = "scheduler lane " + std::to_string(index) + ": ";
  if (lane.model == nullptr) return InvalidArgumentError(name + "no model");
  if (lane.max_sequences < 1) return InvalidArgumentError(name + "max_sequences must be >= 1");
  if (lane.max_batch_tokens < lane.max_sequences) {
    return InvalidArgumentError(name + "max_batch_tokens must be >= max_sequences");
  }
  if (lane.max_queue < 1) return InvalidArgumentError(name + "max_queue must be >= 1");
  if (lane.kv_reserve_tokens < 0)
    return InvalidArgumentError(name + "kv_reserve_tokens must be >= 0");
  return Status::Ok();
}

// ---- public interface ----

Scheduler::Scheduler(Model& model, const SchedulerOptions& options,
                     std::vector<SchedulerLane> lanes) {
  PARAPET_CHECK(ValidateSchedulerOptions(options).ok());
  lanes_.push_back(std::make_unique<Lane>(
      0, SchedulerLane{&model, options.max_sequences, options.max_batch_tokens, options.max_queue,
                       options.kv_pool_tokens}));
  for (size_t i = 0; i < lanes.size(); ++i) {
    PARAPET_CHECK(ValidateSchedulerLane(lanes[i], i + 1).ok());
    lanes_.push_back(std::make_unique<Lane>(static_cast<int32_t>(i + 1), lanes[i]));
  }
  for (const std::unique_ptr<Lane>& l : lanes_) pool_bytes_ += l->kv_bytes;
  thread_ = std::thread([this] { Run(); });
}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Shutdown() {
  std::lock_guard<std::mutex> once(shutdown_mu_);
  if (!thread_.joinable()) return;
  PARAPET_CHECK_MSG(std::this_thread::get_id() != thread_.get_id(),
                    "Scheduler::Shutdown called on the scheduler thread (from a TokenSink)");
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

Result<int32_t> Scheduler::RequestContext(const Lane& lane,
                                          const GenerationRequest& request) const {
  const ModelConfig& c = lane.model.config();
  const GenerateOptions& o = request.options;
  if (request.prompt.empty()) return InvalidArgumentError("the prompt is empty");
  for (TokenId id : request.prompt) {
    if (id < 0 || id >= c.n_vocab) {
      return InvalidArgumentError("prompt token id " + std::to_string(id) + " is outside [0, " +
                                  std::to_string(c.n_vocab) + ")");
    }
  }
  if (o.max_tokens < 0) return InvalidArgumentError("max_tokens must be >= 0");
  if (o.teacher_forcing) return InvalidArgumentError("teacher forcing is not supported here");
  if (request.prompt_logprobs < -1 || request.prompt_logprobs > kMaxLogprobs) {
    return InvalidArgumentError("prompt_logprobs must be in [-1, " + std::to_string(kMaxLogprobs) +
                                "]");
  }
  PARAPET_RETURN_IF_ERROR(ValidateSamplingParams(o.sampling));
  PARAPET_RETURN_IF_ERROR(ValidateStopStrings(o.stop));
  if (o.n_ctx > c.n_ctx_train) {
    return InvalidArgumentError("context size " + std::to_string(o.n_ctx) +
                                " exceeds the model's context length " +
                                std::to_string(c.n_ctx_train));
  }
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min<int64_t>(c.n_ctx_train, n_prompt + o.max_tokens);
  n_ctx = std::max<int64_t>(n_ctx, 1);
  if (n_prompt > n_ctx) {
    return InvalidArgumentError("the prompt has " + std::to_string(n_prompt) +
                                " tokens but the context window holds " + std::to_string(n_ctx));
  }
  // The most this lane can ever hold: the pool less every other lane's reserve.
  uint64_t others = 0;
  for (const std::unique_ptr<Lane>& l : lanes_) {
    if (l.get() != &lane && l->index != 0) others += l->kv_bytes;
  }
  const int64_t most = static_cast<int64_t>((pool_bytes_ - others) / lane.bytes_per_position);
  if (n_ctx > most) {
    return InvalidArgumentError("the request needs " + std::to_string(n_ctx) +
                                " KV positions but the pool holds only " + std::to_string(most));
  }
  return static_cast<int32_t>(n_ctx);
}

Result<uint64_t> Scheduler::Submit(GenerationRequest request, std::shared_ptr<TokenSink> sink) {
  PARAPET_CHECK(sink != nullptr);
  if (request.lane < 0 || request.lane >= lanes()) {
    return InvalidArgumentError("lane " + std::to_string(request.lane) + " is outside [0, " +
                                std::to_string(lanes()) + ")");
  }
  const Lane& lane = *lanes_[static_cast<size_t>(request.lane)];
  PARAPET_ASSIGN_OR_RETURN(const int32_t n_ctx, RequestContext(lane, request));
  PARAPET_RETURN_IF_ERROR(ValidateReuse(lane.model.config(), request));
  if (request.prefix != nullptr && request.prefix->owner() != lane.prefix_owner.get()) {
    return InvalidArgumentError("the prefix was cached by another scheduler or for another model");
  }
  auto seq = std::make_unique<Sequence>();
  seq->lane = request.lane;
  seq->prompt = std::move(request.prompt);
  seq->options = std::move(request.options);
  seq->prompt_logprobs = request.prompt_logprobs;
  seq->prefix_positions = request.prefix == nullptr ? 0
                          : request.prefix_positions < 0
                              ? request.prefix->tokens().size()
                              : static_cast<size_t>(request.prefix_positions);
  seq->prefix = std::move(request.prefix);
  seq->first_token_scores = std::move(request.first_token_scores);
  seq->keep_prompt_kv = request.keep_prompt_kv;
  seq->sink = std::move(sink);
  seq->n_ctx = n_ctx;
  seq->kv_reserved = static_cast<uint64_t>(n_ctx) * lane.bytes_per_position;
  return Enqueue(std::move(seq));
}

Result<std::shared_ptr<const KvPrefix>> Scheduler::CachePrefix(std::vector<TokenId> tokens,
                                                               int32_t lane) {
  PARAPET_CHECK_MSG(std::this_thread::get_id() != thread_.get_id(),
                    "CachePrefix called on the scheduler thread (from a TokenSink)");
  if (lane < 0 || lane >= lanes()) {
    return InvalidArgumentError("lane " + std::to_string(lane) + " is outside [0, " +
                                std::to_string(lanes()) + ")");
  }
  PARAPET_RETURN_IF_ERROR(
      ValidatePrefixTokens(lanes_[static_cast<size_t>(lane)]->model.config(), tokens));
  auto waiter = std::make_shared<PrefixWaiter>();
  auto seq = std::make_unique<Sequence>();
  seq->lane = lane;
  seq->n_ctx = static_cast<int32_t>(tokens.size());
  seq->prompt = std::move(tokens);
  seq->options.max_tokens = 0;
  seq->sink = waiter;
  seq->prefix_waiter = waiter;
  PARAPET_RETURN_IF_ERROR(Enqueue(std::move(seq)).status());
  return waiter->Wait();
}

Result<uint64_t> Scheduler::Enqueue(SequencePtr seq) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.ok()) return failed_;
    if (stopping_) return UnavailableError("the scheduler is shutting down");
    Lane& lane = *lanes_[static_cast<size_t>(seq->lane)];
    if (lane.queue.size() >= static_cast<size_t>(lane.max_queue)) {
      return ResourceExhaustedError("the generation queue is full (" +
                                    std::to_string(lane.max_queue) + " requests waiting)");
    }
    id = next_id_++;
    seq->id = id;
    lane.queue.push_back(std::move(seq));
  }
  cv_.notify_one();
  return id;
}

void Scheduler::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id == 0 || id >= next_id_ || stopping_) return;
    cancel_ids_.insert(id);
  }
  cv_.notify_one();
}

Scheduler::Stats Scheduler::stats(int32_t lane_index) const {
  PARAPET_CHECK(lane_index >= 0 && lane_index < lanes());
  const Lane& lane = *lanes_[static_cast<size_t>(lane_index)];
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = lane.totals;
  s.queued = static_cast<int32_t>(lane.queue.size());
  s.running = lane.n_running;
  s.kv_tokens_in_use = static_cast<int64_t>(lane.bytes_in_use / lane.bytes_per_position);
  s.kv_pool_tokens = lane.kv_tokens;
  s.kv_bytes_in_use = bytes_in_use_;
  s.kv_pool_bytes = pool_bytes_;
  return s;
}

// ---- scheduler thread: loop ----

void Scheduler::Run() {
  try {
    Loop();
  } catch (const std::exception& e) {
    FailAll(InternalError(std::string("scheduler thread failed: ") + e.what()));
  } catch (...) {
    FailAll(InternalError("scheduler thread failed"));
  }
}

void Scheduler::Loop() {
  auto has_work = [&] {
    for (const std::unique_ptr<Lane>& l : lanes_) {
      if (!l->queue.empty() || !l->running.empty()) return true;
    }
    return false;
  };
  for (;;) {
    std::vector<SequencePtr> dropped;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !cancel_ids_.empty() || has_work(); });
      if (stopping_) break;
      TakeCancellations(dropped);
      AdmitFromQueues();
    }
    for (SequencePtr& s : dropped) FinishQueued(std::move(s), "cancelled");
    for (const std::unique_ptr<Lane>& l : lanes_) {
      for (SequencePtr& s : l->running) {
        if (s->kv == nullptr) Start(*l, *s);
      }
    }
    // One pass per lane with work; each ends the sequences cancelled meanwhile first.
    for (const std::unique_ptr<Lane>& l : lanes_) {
      EndCancelled(*l);
      Reap(*l);
      if (!l->running.empty()) Step(*l);
    }
  }
  // Shutdown: everything still here is cancelled.
  std::vector<SequencePtr> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::unique_ptr<Lane>& l : lanes_) {
      for (SequencePtr& s : l->queue) queued.push_back(std::move(s));
      l->queue.clear();
    }
  }
  for (SequencePtr& s : queued) FinishQueued(std::move(s), "cancelled");
  for (const std::unique_ptr<Lane>& l : lanes_) {
    for (SequencePtr& s : l->running) {
      if (!s->ended) s->End(Status::Ok(), "cancelled");
    }
    Reap(*l);
  }
}

void Scheduler::TakeCancellations(std::vector<SequencePtr>& dropped) {
  if (cancel_ids_.empty()) return;
  // CachePrefix work has an id too, but no caller knows it: it is never cancelled.
  for (const std::unique_ptr<Lane>& l : lanes_) {
    for (auto it = l->queue.begin(); it != l->queue.end();) {
      if (cancel_ids_.count((*it)->id) != 0 && (*it)->prefix_waiter == nullptr) {
        dropped.push_back(std::move(*it));
        it = l->queue.erase(it);
      } else {
        ++it;
      }
    }
    for (SequencePtr& s : l->running) {
      if (cancel_ids_.count(s->id) != 0 && s->prefix_waiter == nullptr) s->cancelled = true;
    }
  }
  cancel_ids_.clear();  // the rest are unknown or finished
}

uint64_t Scheduler::Available(const Lane& lane) const {
  uint64_t held = 0;  // other lanes' reserves they do not use yet
  for (const std::unique_ptr<Lane>& l : lanes_) {
    if (l.get() == &lane || l->index == 0 || l->bytes_in_use >= l->kv_bytes) continue;
    held += l->kv_bytes - l->bytes_in_use;
  }
  const uint64_t taken = bytes_in_use_ + held;
  return taken >= pool_bytes_ ? 0 : pool_bytes_ - taken;
}

void Scheduler::AdmitFromQueues() {
  // Guard lanes first (their checks gate chat requests and are short), then lane 0. Within a
  // lane strict FIFO: a head that does not fit yet blocks the requests behind it (no starvation).
  for (size_t k = 1; k <= lanes_.size(); ++k) {
    Lane& l = *lanes_[k % lanes_.size()];
    while (!l.queue.empty() && l.n_running < l.max_sequences &&
           l.queue.front()->kv_reserved <= Available(l)) {
      ++l.n_running;
      l.bytes_in_use += l.queue.front()->kv_reserved;
      bytes_in_use_ += l.queue.front()->kv_reserved;
      l.running.push_back(std::move(l.queue.front()));
      l.queue.pop_front();
    }
  }
}

void Scheduler::Start(Lane& lane, Sequence& seq) {
  const ModelConfig& c = lane.model.config();
  seq.kv = lane.model.NewKvCache(seq.n_ctx);
  seq.admitted_at = Clock::now();
  if (seq.prefix_waiter != nullptr) return;  // CachePrefix: the cache is all it needs
  seq.result.prompt_tokens = static_cast<int32_t>(seq.prompt.size());
  if (seq.prefix != nullptr) {
    // Copy the prefix's positions; a prompt that is exactly the prefix still evaluates its last
    // token, whose logits start the generation.
    const int32_t n_reuse =
        static_cast<int32_t>(std::min(seq.prefix_positions, seq.prompt.size() - 1));
    const Status copied = lane.model.CopyKvPrefix(seq.prefix->kv(), n_reuse, *seq.kv);
    seq.prefix.reset();  // not needed any more; its owner may free it
    if (!copied.ok()) {
      seq.End(copied, "error");
      return;
    }
    seq.n_prefilled = seq.n_reused = n_reuse;
    std::lock_guard<std::mutex> lock(mu_);
    lane.totals.prompt_tokens_reused += static_cast<uint64_t>(n_reuse);
  }
  seq.sampler = std::make_unique<Sampler>(seq.options.sampling, c.n_vocab);
  if (seq.prompt_logprobs >= 0) {
    SamplingParams scoring;
    scoring.n_logprobs = seq.prompt_logprobs;
    seq.scorer = std::make_unique<Sampler>(scoring, c.n_vocab);
  }
  // The output continues the prompt, so a leading space of the first token is kept.
  seq.decoder =
      std::make_unique<StreamDecoder>(lane.model.tokenizer(), /*strip_leading_space=*/false);
  seq.stops = std::make_unique<StopMatcher>(seq.options.stop);
}

void Scheduler::EndCancelled(Lane& lane) {
  for (SequencePtr& s : lane.running) {
    if (s->cancelled && !s->ended) s->End(Status::Ok(), "cancelled");
  }
}

// ---- scheduler thread: one batch ----

struct Scheduler::Batch {
  std::vector<BatchToken> tokens;
  std::vector<Sequence*> members;       // every sequence with a token in it
  std::vector<Sequence*> logit_owners;  // in batch order of the want_logits tokens
  // Per want_logits token: the prompt position whose logits score the next prompt token, or -1
  // for the logits that sample the sequence's next token.
  std::vector<int32_t> score_pos;
  uint64_t n_prompt_evaluated = 0;  // prompt tokens of requests (not of CachePrefix) in it
};

void Scheduler::BuildBatch(Lane& lane, Batch& batch) {
  // One token for every decoding sequence...
  for (SequencePtr& s : lane.running) {
    if (!s->has_pending) continue;
    const int32_t pos = static_cast<int32_t>(s->prompt.size() + s->result.generated_ids.size()) - 1;
    batch.tokens.push_back(BatchToken{s->pending, pos, s->kv.get(), true});
    batch.members.push_back(s.get());
    batch.logit_owners.push_back(s.get());
    batch.score_pos.push_back(-1);
  }
  // ...then prompt chunks, in admission order, with what is left of the budget. Every running
  // sequence decodes or prefills, and the decoding ones number fewer than max_batch_tokens when
  // one prefills, so each pass makes progress.
  int64_t budget = lane.max_batch_tokens - static_cast<int64_t>(batch.tokens.size());
  for (SequencePtr& s : lane.running) {
    if (!s->prefilling() || budget <= 0) continue;
    const int32_t n_prompt = static_cast<int32_t>(s->prompt.size());
    const int32_t end = static_cast<int32_t>(std::min<int64_t>(n_prompt, s->n_prefilled + budget));
    const bool score = s->prompt_logprobs >= 0;
    const bool keep = s->prefix_waiter != nullptr;  // CachePrefix: no logits at all
    for (int32_t i = s->n_prefilled; i < end; ++i) {
      const bool last = i == n_prompt - 1 && !keep;
      batch.tokens.push_back(
          BatchToken{s->prompt[static_cast<size_t>(i)], i, s->kv.get(), last || score});
      if (score && !last) {
        batch.logit_owners.push_back(s.get());
        batch.score_pos.push_back(i);
      }
    }
    budget -= end - s->n_prefilled;
    if (!keep) batch.n_prompt_evaluated += static_cast<uint64_t>(end - s->n_prefilled);
    s->n_prefilled = end;
    batch.members.push_back(s.get());
    if (end == n_prompt && !keep) {
      batch.logit_owners.push_back(s.get());
      batch.score_pos.push_back(-1);
    }
  }
}

void Scheduler::Step(Lane& lane) {
  const int32_t n_vocab = lane.model.config().n_vocab;
  Batch batch;
  BuildBatch(lane, batch);
  const std::vector<Sequence*>& logit_owners = batch.logit_owners;
  PARAPET_CHECK(!batch.tokens.empty());
  lane.logits.resize(logit_owners.size() * static_cast<size_t>(n_vocab));
  const Status st = lane.model.Forward(batch.tokens, lane.logits.data());
  {
    std::lock_guard<std::mutex> lock(mu_);
    lane.totals.prompt_tokens_evaluated += batch.n_prompt_evaluated;
  }
  if (!st.ok()) {
    // Forward reports one status for the whole batch: every sequence in it ends.
    for (Sequence* s : batch.members) s->End(st, "error");
    Reap(lane);
    return;
  }
  std::vector<SequencePtr> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++lane.totals.forward_passes;
    // Cancels that arrived during the pass take effect before sampling.
    TakeCancellations(dropped);
  }
  for (SequencePtr& s : dropped) FinishQueued(std::move(s), "cancelled");
  for (Sequence* s : batch.members) {
    if (s->cancelled) ++s->passes_after_cancel;  // Cancel() came during this pass
    // A CachePrefix sequence whose last token is in the cache is done ("stop": see Reap).
    if (s->prefix_waiter != nullptr && !s->prefilling()) s->End(Status::Ok(), "stop");
  }
  uint64_t n_generated = 0;
  for (size_t i = 0; i < logit_owners.size(); ++i) {
    Sequence& s = *logit_owners[i];
    if (s.cancelled) continue;
    const std::span<const float> row(lane.logits.data() + i * static_cast<size_t>(n_vocab),
                                     static_cast<size_t>(n_vocab));
    if (batch.score_pos[i] >= 0) {
      const TokenId next = s.prompt[static_cast<size_t>(batch.score_pos[i]) + 1];
      s.result.prompt_steps.push_back(s.scorer->Score(row, next));
      continue;
    }
    if (!s.has_pending) {  // the first logits after the prompt
      s.first_logits_at = Clock::now();
      if (!s.first_token_scores.empty()) {
        s.result.first_token_logprobs = RawLogprobs(row, s.first_token_scores);
      }
    }
    const size_t before = s.result.generated_ids.size();
    Decode(lane, s, row);
    n_generated += s.result.generated_ids.size() - before;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    lane.totals.tokens_generated += n_generated;
  }
  EndCancelled(lane);
  Reap(lane);
}

// ---- scheduler thread: one sequence's decode step (as engine::Generate does it) ----

std::string Scheduler::FlushTail(Sequence& s) {
  StopMatcher::Output m = s.stops->Push(s.decoder->Flush());
  if (m.stopped) {
    s.finish_reason = "stop";
    return m.text;
  }
  return m.text + s.stops->Flush();
}

void Scheduler::Decode(Lane& lane, Sequence& s, std::span<const float> logits) {
  const GenerateOptions& o = s.options;
  const int32_t i = static_cast<int32_t>(s.result.generated_ids.size());
  s.has_pending = false;
  if (i >= o.max_tokens) {  // max_tokens == 0: the prompt ran, nothing is generated
    s.End(Status::Ok(), "length");
    s.result.text += FlushTail(s);
    return;
  }
  s.result.steps.push_back(s.sampler->Sample(logits));
  const SampleResult& sample = s.result.steps.back();
  const TokenId id = sample.id;
  if (o.stop_at_end_of_generation && lane.model.tokenizer().IsEndOfGeneration(id)) {
    s.End(Status::Ok(), "stop");
    const std::string tail = FlushTail(s);
    s.result.text += tail;
    if (!tail.empty()) s.sink->OnText(tail, id, sample);
    return;
  }
  s.result.generated_ids.push_back(id);
  StopMatcher::Output m = s.stops->Push(s.decoder->Push(id));
  const int32_t pos = static_cast<int32_t>(s.prompt.size()) + i;
  if (m.stopped) {
    s.End(Status::Ok(), "stop");
  } else if (i + 1 == o.max_tokens || pos >= s.n_ctx) {
    s.End(Status::Ok(), "length");
    m.text += FlushTail(s);  // may turn the reason into "stop"
  } else {
    s.pending = id;
    s.has_pending = true;
  }
  s.result.text += m.text;
  s.sink->OnText(m.text, id, sample);
}

// ---- scheduler thread: ending sequences ----

void Scheduler::Reap(Lane& lane) {
  std::vector<SequencePtr> done;
  for (SequencePtr& s : lane.running) {
    if (s->ended) done.push_back(std::move(s));
  }
  if (done.empty()) return;
  std::erase(lane.running, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const SequencePtr& s : done) {
      --lane.n_running;
      lane.bytes_in_use -= s->kv_reserved;
      bytes_in_use_ -= s->kv_reserved;
      if (s->cancelled && s->finish_reason == "cancelled") {
        ++lane.totals.cancelled_running;
        lane.totals.cancel_passes_max =
            std::max(lane.totals.cancel_passes_max, s->passes_after_cancel);
      }
    }
  }
  const Clock::time_point now = Clock::now();
  for (SequencePtr& s : done) {
    if (s->prefix_waiter != nullptr && s->status.ok() && s->finish_reason == "stop") {
      s->prefix_waiter->SetPrefix(std::shared_ptr<const KvPrefix>(
          new KvPrefix(std::move(s->prompt), std::move(s->kv), lane.prefix_owner)));
    } else if (s->keep_prompt_kv && s->status.ok() && s->finish_reason != "cancelled" &&
               s->kv != nullptr && !s->prefilling()) {
      s->result.prompt_kv = std::shared_ptr<const KvPrefix>(
          new KvPrefix(std::move(s->prompt), std::move(s->kv), lane.prefix_owner));
    }
    s->kv.reset();
    GenerateResult& r = s->result;
    r.prompt_tokens_evaluated = std::max(0, s->n_prefilled - s->n_reused);
    r.generated_tokens = static_cast<int32_t>(r.generated_ids.size());
    r.finish_reason = s->finish_reason;
    if (s->first_logits_at != Clock::time_point{}) {
      r.prompt_ms = MsBetween(s->admitted_at, s->first_logits_at);
      r.decode_ms = MsBetween(s->first_logits_at, now);
    }
    s->sink->OnDone(s->status, s->finish_reason, r);
  }
}

void Scheduler::FinishQueued(SequencePtr seq, std::string_view finish_reason) {
  GenerateResult r;
  r.prompt_tokens = static_cast<int32_t>(seq->prompt.size());
  r.finish_reason = std::string(finish_reason);
  seq->sink->OnDone(Status::Ok(), finish_reason, r);
}

void Scheduler::FailAll(const Status& status) {
  PARAPET_LOG(kError) << status.ToString();
  std::vector<SequencePtr> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed_ = status;
    for (const std::unique_ptr<Lane>& l : lanes_) {
      for (SequencePtr& s : l->queue) all.push_back(std::move(s));
      l->queue.clear();
      l->n_running = 0;
      l->bytes_in_use = 0;
    }
    bytes_in_use_ = 0;
  }
  for (const std::unique_ptr<Lane>& l : lanes_) {
    for (SequencePtr& s : l->running) {
      if (s != nullptr) all.push_back(std::move(s));
    }
    l->running.clear();
  }
  for (SequencePtr& s : all) {
    try {
      s->sink->OnDone(status, "error", s->result);
    } catch (...) {
      // A sink broke its contract; the others still get their OnDone.
    }
  }
}

}  // namespace parapet::engine
