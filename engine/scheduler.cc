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

// The context (= KV reservation) a request needs, computed as engine::Generate does; errors for
// requests that can never run.
Result<int32_t> RequestContext(const ModelConfig& c, const GenerationRequest& request,
                               int64_t kv_pool_tokens) {
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
  if (n_ctx > kv_pool_tokens) {
    return InvalidArgumentError("the request needs " + std::to_string(n_ctx) +
                                " KV positions but the pool holds only " +
                                std::to_string(kv_pool_tokens));
  }
  return static_cast<int32_t>(n_ctx);
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
  if (request.prompt.size() < t.size() || !std::equal(t.begin(), t.end(), request.prompt.begin())) {
    return InvalidArgumentError("the prompt does not begin with the cached prefix (" +
                                std::to_string(t.size()) + " tokens)");
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
  std::vector<TokenId> prompt;
  GenerateOptions options;
  int32_t prompt_logprobs = -1;
  std::shared_ptr<TokenSink> sink;
  int32_t n_ctx = 0;        // KV capacity
  int64_t kv_reserved = 0;  // its reservation from the pool: n_ctx (0 for a CachePrefix)
  std::shared_ptr<const KvPrefix> prefix;  // to copy from at Start (then released)
  std::vector<TokenId> first_token_scores;
  // CachePrefix only (also `sink`): the prompt is a prefix to keep; no logits, no sampling.
  std::shared_ptr<PrefixWaiter> prefix_waiter;

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
  bool cancelled = false;    // Cancel() seen; ends before its next decode step
  uint64_t cancel_pass = 0;  // forward_passes_ when Cancel() was called

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

Status ValidateSchedulerOptions(const SchedulerOptions& options) {
  if (options.max_sequences < 1) return InvalidArgumentError("max_sequences must be >= 1");
  if (options.max_batch_tokens < options.max_sequences) {
    return InvalidArgumentError("max_batch_tokens must be >= max_sequences");
  }
  if (options.kv_pool_tokens < 1) return InvalidArgumentError("kv_pool_tokens must be >= 1");
  if (options.max_queue < 1) return InvalidArgumentError("max_queue must be >= 1");
  return Status::Ok();
}

// ---- public interface ----

Scheduler::Scheduler(Model& model, const SchedulerOptions& options)
    : model_(model), options_(options), prefix_owner_(std::make_shared<const char>(0)) {
  PARAPET_CHECK(ValidateSchedulerOptions(options_).ok());
  thread_ = std::thread([this] { Run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

Result<uint64_t> Scheduler::Submit(GenerationRequest request, std::shared_ptr<TokenSink> sink) {
  PARAPET_CHECK(sink != nullptr);
  PARAPET_ASSIGN_OR_RETURN(const int32_t n_ctx,
                           RequestContext(model_.config(), request, options_.kv_pool_tokens));
  PARAPET_RETURN_IF_ERROR(ValidateReuse(model_.config(), request));
  if (request.prefix != nullptr && request.prefix->owner() != prefix_owner_.get()) {
    return InvalidArgumentError("the prefix was cached by another scheduler");
  }
  auto seq = std::make_unique<Sequence>();
  seq->prompt = std::move(request.prompt);
  seq->options = std::move(request.options);
  seq->prompt_logprobs = request.prompt_logprobs;
  seq->prefix = std::move(request.prefix);
  seq->first_token_scores = std::move(request.first_token_scores);
  seq->sink = std::move(sink);
  seq->n_ctx = n_ctx;
  seq->kv_reserved = n_ctx;
  return Enqueue(std::move(seq));
}

Result<std::shared_ptr<const KvPrefix>> Scheduler::CachePrefix(std::vector<TokenId> tokens) {
  PARAPET_CHECK_MSG(std::this_thread::get_id() != thread_.get_id(),
                    "CachePrefix called on the scheduler thread (from a TokenSink)");
  PARAPET_RETURN_IF_ERROR(ValidatePrefixTokens(model_.config(), tokens));
  auto waiter = std::make_shared<PrefixWaiter>();
  auto seq = std::make_unique<Sequence>();
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
    if (queue_.size() >= static_cast<size_t>(options_.max_queue)) {
      return ResourceExhaustedError("the generation queue is full (" +
                                    std::to_string(options_.max_queue) + " requests waiting)");
    }
    id = next_id_++;
    seq->id = id;
    queue_.push_back(std::move(seq));
  }
  cv_.notify_one();
  return id;
}

void Scheduler::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id == 0 || id >= next_id_ || stopping_) return;
    cancel_ids_.emplace(id, forward_passes_);
  }
  cv_.notify_one();
}

Scheduler::Stats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.queued = static_cast<int32_t>(queue_.size());
  s.running = n_running_;
  s.kv_tokens_in_use = kv_tokens_in_use_;
  s.kv_pool_tokens = options_.kv_pool_tokens;
  s.forward_passes = forward_passes_;
  s.tokens_generated = tokens_generated_;
  s.cancelled_running = cancelled_running_;
  s.cancel_passes_max = cancel_passes_max_;
  s.prompt_tokens_evaluated = prompt_tokens_evaluated_;
  s.prompt_tokens_reused = prompt_tokens_reused_;
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
  for (;;) {
    std::vector<SequencePtr> dropped;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || !queue_.empty() || !running_.empty() || !cancel_ids_.empty();
      });
      if (stopping_) break;
      TakeCancellations(dropped);
      AdmitFromQueue();
    }
    for (SequencePtr& s : dropped) FinishQueued(std::move(s), "cancelled");
    for (SequencePtr& s : running_) {
      if (s->kv == nullptr) Start(*s);
    }
    EndCancelled();
    Reap();
    if (!running_.empty()) Step();
  }
  // Shutdown: everything still here is cancelled.
  std::deque<SequencePtr> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued.swap(queue_);
  }
  for (SequencePtr& s : queued) FinishQueued(std::move(s), "cancelled");
  for (SequencePtr& s : running_) {
    if (!s->ended) s->End(Status::Ok(), "cancelled");
  }
  Reap();
}

void Scheduler::TakeCancellations(std::vector<SequencePtr>& dropped) {
  if (cancel_ids_.empty()) return;
  // CachePrefix work has an id too, but no caller knows it: it is never cancelled.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (cancel_ids_.count((*it)->id) != 0 && (*it)->prefix_waiter == nullptr) {
      dropped.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  for (SequencePtr& s : running_) {
    auto it = cancel_ids_.find(s->id);
    if (it != cancel_ids_.end() && !s->cancelled && s->prefix_waiter == nullptr) {
      s->cancelled = true;
      s->cancel_pass = it->second;
    }
  }
  cancel_ids_.clear();  // the rest are unknown or finished
}

void Scheduler::AdmitFromQueue() {
  // Strict FIFO: a head that does not fit yet blocks the requests behind it (no starvation).
  while (!queue_.empty() && n_running_ < options_.max_sequences &&
         queue_.front()->kv_reserved <= options_.kv_pool_tokens - kv_tokens_in_use_) {
    ++n_running_;
    kv_tokens_in_use_ += queue_.front()->kv_reserved;
    running_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Scheduler::Start(Sequence& seq) {
  const ModelConfig& c = model_.config();
  seq.kv = model_.NewKvCache(seq.n_ctx);
  seq.admitted_at = Clock::now();
  if (seq.prefix_waiter != nullptr) return;  // CachePrefix: the cache is all it needs
  seq.result.prompt_tokens = static_cast<int32_t>(seq.prompt.size());
  if (seq.prefix != nullptr) {
    // Copy the prefix's positions; a prompt that is exactly the prefix still evaluates its last
    // token, whose logits start the generation.
    const int32_t n_reuse =
        static_cast<int32_t>(std::min(seq.prefix->tokens().size(), seq.prompt.size() - 1));
    const Status copied = model_.CopyKvPrefix(seq.prefix->kv(), n_reuse, *seq.kv);
    seq.prefix.reset();  // not needed any more; its owner may free it
    if (!copied.ok()) {
      seq.End(copied, "error");
      return;
    }
    seq.n_prefilled = seq.n_reused = n_reuse;
    std::lock_guard<std::mutex> lock(mu_);
    prompt_tokens_reused_ += static_cast<uint64_t>(n_reuse);
  }
  seq.sampler = std::make_unique<Sampler>(seq.options.sampling, c.n_vocab);
  if (seq.prompt_logprobs >= 0) {
    SamplingParams scoring;
    scoring.n_logprobs = seq.prompt_logprobs;
    seq.scorer = std::make_unique<Sampler>(scoring, c.n_vocab);
  }
  // The output continues the prompt, so a leading space of the first token is kept.
  seq.decoder = std::make_unique<StreamDecoder>(model_.tokenizer(), /*strip_leading_space=*/false);
  seq.stops = std::make_unique<StopMatcher>(seq.options.stop);
}

void Scheduler::EndCancelled() {
  for (SequencePtr& s : running_) {
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

void Scheduler::BuildBatch(Batch& batch) {
  // One token for every decoding sequence...
  for (SequencePtr& s : running_) {
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
  int64_t budget = options_.max_batch_tokens - static_cast<int64_t>(batch.tokens.size());
  for (SequencePtr& s : running_) {
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

void Scheduler::Step() {
  const int32_t n_vocab = model_.config().n_vocab;
  Batch batch;
  BuildBatch(batch);
  const std::vector<Sequence*>& logit_owners = batch.logit_owners;
  PARAPET_CHECK(!batch.tokens.empty());
  logits_.resize(logit_owners.size() * static_cast<size_t>(n_vocab));
  const Status st = model_.Forward(batch.tokens, logits_.data());
  {
    std::lock_guard<std::mutex> lock(mu_);
    prompt_tokens_evaluated_ += batch.n_prompt_evaluated;
  }
  if (!st.ok()) {
    // Forward reports one status for the whole batch: every sequence in it ends.
    for (Sequence* s : batch.members) s->End(st, "error");
    Reap();
    return;
  }
  std::vector<SequencePtr> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++forward_passes_;
    // Cancels that arrived during the pass take effect before sampling.
    TakeCancellations(dropped);
  }
  for (SequencePtr& s : dropped) FinishQueued(std::move(s), "cancelled");
  for (Sequence* s : batch.members) {
    // A CachePrefix sequence whose last token is in the cache is done ("stop": see Reap).
    if (s->prefix_waiter != nullptr && !s->prefilling()) s->End(Status::Ok(), "stop");
  }
  uint64_t n_generated = 0;
  for (size_t i = 0; i < logit_owners.size(); ++i) {
    Sequence& s = *logit_owners[i];
    if (s.cancelled) continue;
    const std::span<const float> row(logits_.data() + i * static_cast<size_t>(n_vocab),
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
    Decode(s, row);
    n_generated += s.result.generated_ids.size() - before;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_generated_ += n_generated;
  }
  EndCancelled();
  Reap();
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

void Scheduler::Decode(Sequence& s, std::span<const float> logits) {
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
  if (o.stop_at_end_of_generation && model_.tokenizer().IsEndOfGeneration(id)) {
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

void Scheduler::Reap() {
  std::vector<SequencePtr> done;
  for (SequencePtr& s : running_) {
    if (s->ended) done.push_back(std::move(s));
  }
  if (done.empty()) return;
  std::erase(running_, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const SequencePtr& s : done) {
      --n_running_;
      kv_tokens_in_use_ -= s->kv_reserved;
      if (s->cancelled && s->finish_reason == "cancelled") {
        ++cancelled_running_;
        cancel_passes_max_ = std::max(cancel_passes_max_, forward_passes_ - s->cancel_pass);
      }
    }
  }
  const Clock::time_point now = Clock::now();
  for (SequencePtr& s : done) {
    if (s->prefix_waiter != nullptr && s->status.ok() && s->finish_reason == "stop") {
      s->prefix_waiter->SetPrefix(std::shared_ptr<const KvPrefix>(
          new KvPrefix(std::move(s->prompt), std::move(s->kv), prefix_owner_)));
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
  std::deque<SequencePtr> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed_ = status;
    queued.swap(queue_);
    n_running_ = 0;
    kv_tokens_in_use_ = 0;
  }
  std::vector<SequencePtr> all(std::make_move_iterator(queued.begin()),
                               std::make_move_iterator(queued.end()));
  for (SequencePtr& s : running_) {
    if (s != nullptr) all.push_back(std::move(s));
  }
  running_.clear();
  for (SequencePtr& s : all) {
    try {
      s->sink->OnDone(status, "error", s->result);
    } catch (...) {
      // A sink broke its contract; the others still get their OnDone.
    }
  }
}

}  // namespace parapet::engine
