#include "gateway/guard_models.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <tuple>

#include "common/logging.h"
#include "gateway/metrics.h"

namespace parapet::gateway {
namespace {

using Clock = std::chrono::steady_clock;

// Collects one request's end; the caller waits on the future.
class ResultSink : public engine::TokenSink {
 public:
  std::future<Result<engine::GenerateResult>> future() { return promise_.get_future(); }
  void OnText(std::string_view, engine::TokenId, const engine::SampleResult&) override {}
  void OnDone(const Status& status, std::string_view finish_reason,
              const engine::GenerateResult& summary) override {
    if (!status.ok()) {
      promise_.set_value(status);
    } else if (finish_reason == "cancelled") {
      promise_.set_value(DeadlineExceededError("cancelled"));
    } else {
      promise_.set_value(summary);
    }
  }

 private:
  std::promise<Result<engine::GenerateResult>> promise_;
};

// The first token of each spelling of `word` the model might write first ("unsafe", " unsafe").
std::vector<engine::TokenId> FirstTokens(const engine::Tokenizer& t, const std::string& word) {
  std::vector<engine::TokenId> out;
  for (const std::string& form : {word, " " + word}) {
    const std::vector<engine::TokenId> ids = t.Encode(form, /*add_bos=*/false);
    if (!ids.empty() && std::find(out.begin(), out.end(), ids[0]) == out.end()) {
      out.push_back(ids[0]);
    }
  }
  return out;
}

constexpr double kLatencyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace

struct GuardModel::Latency {
  Histogram* histogram = nullptr;
};

GuardModel::~GuardModel() = default;

Result<std::shared_ptr<GuardModel>> GuardModel::Open(const GuardModelConfig& c,
                                                     const engine::ModelOptions& options) {
  std::shared_ptr<GuardModel> g(new GuardModel());
  g->id_ = c.id.empty() ? std::filesystem::path(c.path).stem().string() : c.id;
  g->config_ = c;
  PARAPET_LOG(kInfo) << "loading guard model " << g->id_ << " from " << c.path;
  PARAPET_ASSIGN_OR_RETURN(g->model_, engine::Model::Load(c.path, options));
  const engine::Tokenizer& t = g->model_->tokenizer();
  g->safe_ids_ = FirstTokens(t, "safe");
  g->unsafe_ids_ = FirstTokens(t, "unsafe");
  g->unsafe_text_ = t.Encode("unsafe", /*add_bos=*/false);
  for (engine::TokenId id : g->unsafe_ids_) {
    if (std::find(g->safe_ids_.begin(), g->safe_ids_.end(), id) != g->safe_ids_.end()) {
      return InvalidArgumentError(c.path +
                                  ": the tokenizer writes \"safe\" and \"unsafe\" with "
                                  "the same first token; not a guard model's vocabulary");
    }
  }
  if (g->safe_ids_.empty() || g->unsafe_ids_.empty() || g->unsafe_text_.empty()) {
    return InvalidArgumentError(c.path + ": the tokenizer cannot write \"safe\" / \"unsafe\"");
  }
  g->ctx_ = std::min(c.ctx, g->model_->config().n_ctx_train);
  if (Status s = engine::ValidateSchedulerLane(g->lane(), 1); !s.ok()) {
    return s.WithContext("guard model " + g->id_);
  }
  g->latency_ = std::make_shared<Latency>();
  return g;
}

Result<std::shared_ptr<GuardModel>> GuardModel::Load(const GuardModelConfig& c,
                                                     const engine::ModelOptions& options) {
  PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<GuardModel> g, Open(c, options));
  const engine::SchedulerLane l = g->lane();
  engine::SchedulerOptions so;
  so.max_sequences = l.max_sequences;
  so.max_batch_tokens = l.max_batch_tokens;
  so.kv_pool_tokens = std::max<int64_t>(l.kv_reserve_tokens, 1);
  so.max_queue = l.max_queue;
  g->own_scheduler_ = std::make_unique<engine::Scheduler>(*g->model_, so);
  g->Serve(*g->own_scheduler_, 0);
  return g;
}

engine::SchedulerLane GuardModel::lane() {
  engine::SchedulerLane l;
  l.model = model_.get();
  l.max_sequences = config_.max_sequences;
  l.max_batch_tokens = std::max(config_.max_batch_tokens, config_.max_sequences);
  l.max_queue = config_.max_queue;
  l.kv_reserve_tokens = config_.kv_reserve_tokens > 0
                            ? config_.kv_reserve_tokens
                            : static_cast<int64_t>(config_.max_sequences) * ctx_;
  return l;
}

void GuardModel::Serve(engine::Scheduler& scheduler, int32_t lane) {
  PARAPET_CHECK(lane >= 0 && lane < scheduler.lanes());
  PARAPET_CHECK(scheduler_.load() == nullptr);
  lane_ = lane;
  scheduler_.store(&scheduler, std::memory_order_release);
}

void GuardModel::ExportMetrics(MetricsRegistry& r) {
  const std::string id = id_;
  const Counters* c = &counters_;
  const engine::Scheduler* scheduler = scheduler_.load(std::memory_order_acquire);
  PARAPET_CHECK(scheduler != nullptr);
  auto gauge = [&](const char* name, const char* help, const std::atomic<uint64_t>* v,
                   std::vector<std::pair<std::string, std::string>> labels) {
    labels.insert(labels.begin(), {"model", id});
    r.AddCallbackGauge(
        name, help, [v] { return static_cast<double>(v->load(std::memory_order_relaxed)); },
        std::move(labels));
  };
  const char* checks = "parapet_guard_checks_total";
  const char* checks_help = "Guard-model checks by outcome (safe, unsafe, error, timeout).";
  gauge(checks, checks_help, &c->safe, {{"outcome", "safe"}});
  gauge(checks, checks_help, &c->unsafe, {{"outcome", "unsafe"}});
  gauge(checks, checks_help, &c->errors, {{"outcome", "error"}});
  gauge(checks, checks_help, &c->timeouts, {{"outcome", "timeout"}});
  const char* tokens = "parapet_guard_prompt_tokens_total";
  const char* tokens_help =
      "Guard-check prompt tokens run through the model (evaluated) or copied from a cache "
      "(reused): the instruction prefix, and for a category line the verdict's whole prompt.";
  gauge(tokens, tokens_help, &c->prompt_tokens_evaluated, {{"kind", "evaluated"}});
  gauge(tokens, tokens_help, &c->prompt_tokens_reused, {{"kind", "reused"}});
  const int32_t lane = lane_;
  r.AddCallbackGauge(
      "parapet_guard_checks_queued", "Guard-model forward requests waiting for a sequence slot.",
      [scheduler, lane] { return static_cast<double>(scheduler->stats(lane).queued); },
      {{"model", id}});
  r.AddCallbackGauge(
      "parapet_guard_checks_running", "Guard-model forward requests being evaluated.",
      [scheduler, lane] { return static_cast<double>(scheduler->stats(lane).running); },
      {{"model", id}});
  r.AddCallbackGauge(
      "parapet_guard_kv_tokens_in_use", "KV positions the guard model's checks hold in the pool.",
      [scheduler, lane] { return static_cast<double>(scheduler->stats(lane).kv_tokens_in_use); },
      {{"model", id}});
  latency_->histogram =
      &r.AddHistogram(
            "parapet_guard_check_seconds", "Guard-model check latency, queueing included.",
            std::vector<double>(std::begin(kLatencyBounds), std::end(kLatencyBounds)), {"model"})
           .WithLabels({id_});
}

Result<std::shared_ptr<const engine::KvPrefix>> GuardModel::Prefix(const std::string& prefix,
                                                                   bool add_bos) const {
  const std::string key = (add_bos ? "1" : "0") + prefix;
  std::lock_guard<std::mutex> lock(mu_);  // a new prefix is rare: one build at a time
  auto it = prefixes_.find(key);
  if (it != prefixes_.end()) return it->second;
  std::vector<engine::TokenId> tokens =
      model_->tokenizer().Encode(prefix, add_bos, /*parse_special=*/true);
  PARAPET_ASSIGN_OR_RETURN(
      std::shared_ptr<const engine::KvPrefix> built,
      scheduler_.load(std::memory_order_acquire)->CachePrefix(std::move(tokens), lane_));
  prefixes_.emplace(key, built);
  return built;
}

std::pair<std::shared_ptr<const engine::KvPrefix>, size_t> GuardModel::RecentMatch(
    const std::vector<engine::TokenId>& prompt, size_t at_least) const {
  std::lock_guard<std::mutex> lock(recent_mu_);
  std::pair<std::shared_ptr<const engine::KvPrefix>, size_t> best{nullptr, at_least};
  for (const std::shared_ptr<const engine::KvPrefix>& kv : recent_) {
    const std::vector<engine::TokenId>& t = kv->tokens();
    const size_t n = static_cast<size_t>(
        std::mismatch(t.begin(), t.end(), prompt.begin(), prompt.end()).first - t.begin());
    if (n > best.second) best = {kv, n};
  }
  if (best.first == nullptr) best.second = 0;
  return best;
}

void GuardModel::Remember(std::shared_ptr<const engine::KvPrefix> kv,
                          const std::shared_ptr<const engine::KvPrefix>& superseded) const {
  std::lock_guard<std::mutex> lock(recent_mu_);
  if (superseded != nullptr) std::erase(recent_, superseded);
  recent_.push_front(std::move(kv));
  while (recent_.size() > static_cast<size_t>(config_.cached_checks)) recent_.pop_back();
}

Result<engine::GenerateResult> GuardModel::Run(engine::GenerationRequest request,
                                               Clock::time_point deadline) const {
  engine::Scheduler* scheduler = scheduler_.load(std::memory_order_acquire);
  request.lane = lane_;
  auto sink = std::make_shared<ResultSink>();
  std::future<Result<engine::GenerateResult>> done = sink->future();
  PARAPET_ASSIGN_OR_RETURN(const uint64_t id, scheduler->Submit(std::move(request), sink));
  if (done.wait_until(deadline) != std::future_status::ready) {
    scheduler->Cancel(id);  // frees its KV before the next step; OnDone still comes
    done.wait();
    return DeadlineExceededError("guard model " + id_ + ": no verdict before the deadline");
  }
  return done.get();
}

Result<pipeline::GuardScore> GuardModel::Score(const pipeline::GuardCheck& check) const {
  const Clock::time_point start = Clock::now();
  auto finish = [&](Result<pipeline::GuardScore> r) {
    if (r.ok()) {
      (r->p_unsafe >= check.continue_at ? counters_.unsafe : counters_.safe)
          .fetch_add(1, std::memory_order_relaxed);
    } else if (r.status().code() == StatusCode::kDeadlineExceeded) {
      counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    if (latency_ && latency_->histogram != nullptr) {
      latency_->histogram->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    }
    return r;
  };
  if (scheduler_.load(std::memory_order_acquire) == nullptr) {
    return finish(UnavailableError("guard model " + id_ + " is not being served"));
  }
  if (Clock::now() >= check.deadline) {
    return finish(DeadlineExceededError("guard model " + id_ + ": the deadline had passed"));
  }
  const engine::Tokenizer& t = model_->tokenizer();
  std::shared_ptr<const engine::KvPrefix> prefix;
  std::vector<engine::TokenId> prompt;
  if (config_.reuse_prefix) {
    Result<std::shared_ptr<const engine::KvPrefix>> cached =
        Prefix(check.prompt.prefix, check.prompt.add_bos);
    if (!cached.ok()) return finish(cached.status());
    prefix = *cached;
    prompt = prefix->tokens();
  } else {
    prompt = t.Encode(check.prompt.prefix, check.prompt.add_bos, /*parse_special=*/true);
  }
  // The conversation is what users wrote: special-token text in it stays text.
  const std::vector<engine::TokenId> conversation =
      t.Encode(check.prompt.conversation, false, /*parse_special=*/false);
  const std::vector<engine::TokenId> suffix =
      t.Encode(check.prompt.suffix, false, /*parse_special=*/true);
  // A conversation longer than the guard's context keeps its end: the turn being judged is last.
  const int64_t room = static_cast<int64_t>(ctx_) - static_cast<int64_t>(prompt.size()) -
                       static_cast<int64_t>(suffix.size()) -
                       static_cast<int64_t>(unsafe_text_.size()) -
                       std::max(check.max_continuation_tokens, 1);
  if (room <= 0)
    return finish(InvalidArgumentError("guard model " + id_ +
                                       ": the prompt template "
                                       "alone fills its context"));
  const size_t keep = std::min(conversation.size(), static_cast<size_t>(room));
  prompt.insert(prompt.end(), conversation.end() - static_cast<std::ptrdiff_t>(keep),
                conversation.end());
  prompt.insert(prompt.end(), suffix.begin(), suffix.end());

  // Start from the instruction prefix, or from a recent check that shares more with this one.
  const bool keep_recent = config_.reuse_prefix && config_.cached_checks > 0;
  std::shared_ptr<const engine::KvPrefix> recent;
  size_t shared = 0;
  if (keep_recent) {
    std::tie(recent, shared) = RecentMatch(prompt, prefix != nullptr ? prefix->tokens().size() : 0);
  }
  engine::GenerationRequest verdict;
  verdict.prompt = prompt;
  verdict.prefix = recent != nullptr ? recent : prefix;
  if (recent != nullptr) verdict.prefix_positions = static_cast<int32_t>(shared);
  verdict.options.sampling.temperature = 0;
  verdict.options.max_tokens = 1;
  verdict.first_token_scores = safe_ids_;
  verdict.first_token_scores.insert(verdict.first_token_scores.end(), unsafe_ids_.begin(),
                                    unsafe_ids_.end());
  // Should the category line be needed, it continues from this prompt's cache.
  const bool may_continue = check.continue_at <= 1 && check.max_continuation_tokens > 0;
  verdict.keep_prompt_kv = keep_recent || (config_.reuse_prefix && may_continue);
  Result<engine::GenerateResult> first = Run(std::move(verdict), check.deadline);
  if (!first.ok()) return finish(first.status());
  if (keep_recent && first->prompt_kv != nullptr) Remember(first->prompt_kv, recent);
  if (first->first_token_logprobs.size() != safe_ids_.size() + unsafe_ids_.size()) {
    return finish(InternalError("guard model " + id_ + ": no first-token scores"));
  }
  double p_safe = 0, p_unsafe = 0;
  for (size_t i = 0; i < first->first_token_logprobs.size(); ++i) {
    (i < safe_ids_.size() ? p_safe : p_unsafe) += std::exp(first->first_token_logprobs[i]);
  }
  pipeline::GuardScore score;
  score.p_unsafe = p_safe + p_unsafe > 0 ? p_unsafe / (p_safe + p_unsafe) : 0;
  auto count = [&](const engine::GenerateResult& r) {
    score.prompt_tokens_evaluated += r.prompt_tokens_evaluated;
    counters_.prompt_tokens_evaluated.fetch_add(static_cast<uint64_t>(r.prompt_tokens_evaluated),
                                                std::memory_order_relaxed);
    counters_.prompt_tokens_reused.fetch_add(
        static_cast<uint64_t>(r.prompt_tokens - r.prompt_tokens_evaluated),
        std::memory_order_relaxed);
  };
  count(*first);
  if (score.p_unsafe >= check.continue_at && may_continue) {
    // The category line: "unsafe" forced after the prompt, then greedy to the end of the turn.
    // The verdict's cache holds the whole prompt: only the forced tokens are evaluated.
    engine::GenerationRequest categories;
    categories.prompt = std::move(prompt);
    categories.prompt.insert(categories.prompt.end(), unsafe_text_.begin(), unsafe_text_.end());
    categories.prefix = first->prompt_kv != nullptr ? first->prompt_kv : prefix;
    first->prompt_kv.reset();
    categories.options.sampling.temperature = 0;
    categories.options.max_tokens = check.max_continuation_tokens;
    Result<engine::GenerateResult> more = Run(std::move(categories), check.deadline);
    if (!more.ok()) return finish(more.status());
    score.continuation = more->text;
    count(*more);
  }
  return finish(std::move(score));
}

}  // namespace parapet::gateway
