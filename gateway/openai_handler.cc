// ApiHandler: routing, auth, rate limits and the OpenAI endpoints.
#include "gateway/openai_handler.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <random>

#include "common/json_writer.h"
#include "common/logging.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "gateway/api_keys.h"
#include "gateway/json_strict.h"
#include "gateway/metrics.h"
#include "gateway/openai_request.h"
#include "gateway/rate_limiter.h"
#include "policies/policy_store.h"

namespace parapet::gateway {
namespace {

constexpr std::string_view kChatRoute = "/v1/chat/completions";
constexpr std::string_view kCompletionsRoute = "/v1/completions";
constexpr std::string_view kModelsRoute = "/v1/models";
constexpr std::string_view kModerationsRoute = "/v1/moderations";

uint64_t RandomSeed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Response MakeResponse(http::status status, std::string_view content_type, std::string body) {
  Response r(status, 11);
  r.set(http::field::content_type, content_type);
  r.body() = std::move(body);
  return r;
}

engine::SamplingParams ToSampling(const SamplingRequest& s, int32_t n_logprobs) {
  engine::SamplingParams p;
  p.temperature = static_cast<float>(s.temperature);
  p.top_k = s.top_k;
  p.top_p = static_cast<float>(s.top_p);
  p.min_p = static_cast<float>(s.min_p);
  p.seed = s.seed ? *s.seed : RandomSeed();
  p.n_logprobs = n_logprobs;
  return p;
}

ApiError ContextExceeded(int32_t max_context, size_t n_prompt, int64_t n_completion,
                         std::string param) {
  return ApiError{400, "invalid_request_error",
                  "This model's maximum context length is " + std::to_string(max_context) +
                      " tokens. However, you requested " +
                      std::to_string(static_cast<int64_t>(n_prompt) + n_completion) + " tokens (" +
                      std::to_string(n_prompt) + " in the prompt, " + std::to_string(n_completion) +
                      " for the completion). Please reduce the prompt or max_tokens.",
                  std::move(param), "context_length_exceeded"};
}

// max_tokens for a request: the client's (checked against the context) or the default (capped).
ApiResult<int32_t> CompletionBudget(std::optional<int32_t> asked, int32_t default_max_tokens,
                                    int32_t max_context, size_t n_prompt,
                                    const std::string& prompt_param) {
  const int64_t room = static_cast<int64_t>(max_context) - static_cast<int64_t>(n_prompt);
  if (asked) {
    if (room < *asked || room <= 0) {
      return ContextExceeded(max_context, n_prompt, *asked,
                             room <= 0 ? prompt_param : "max_tokens");
    }
    return *asked;
  }
  if (room <= 0) return ContextExceeded(max_context, n_prompt, 1, prompt_param);
  return static_cast<int32_t>(std::min<int64_t>(default_max_tokens, room));
}

}  // namespace

// ---- metrics ----

struct ApiHandler::Metrics {
  explicit Metrics(MetricsRegistry& r)
      : requests(r.AddCounter("parapet_http_requests_total",
                              "HTTP requests answered, by route and status.", {"route", "status"})),
        latency(r.AddHistogram("parapet_request_duration_seconds",
                               "Time from request to the end of its response, by route.",
                               LatencyBucketsSeconds(), {"route"})),
        ttft(r.AddHistogram("parapet_time_to_first_token_seconds",
                            "Time from request to the first generated token.", TtftBucketsSeconds(),
                            {"route"})),
        prompt_tokens(
            r.AddCounter("parapet_prompt_tokens_total", "Prompt tokens processed.").Get()),
        completion_tokens(
            r.AddCounter("parapet_completion_tokens_total", "Completion tokens generated.").Get()),
        cancelled(r.AddCounter("parapet_generations_cancelled_total",
                               "Generations stopped early, by reason (client_gone, deadline).",
                               {"reason"})),
        policy_decisions(r.AddCounter("parapet_policy_decisions_total",
                                      "Input policy decisions, by policy and action.",
                                      {"policy", "action"})),
        rule_hits(r.AddCounter("parapet_policy_rule_hits_total",
                               "Findings by rule id and mode (enforce, shadow).",
                               {"rule", "mode"})),
        output_decisions(r.AddCounter("parapet_output_decisions_total",
                                      "Output policy decisions on responses, by policy and "
                                      "action.",
                                      {"policy", "action"})),
        output_actions(r.AddCounter("parapet_output_rule_actions_total",
                                    "Output findings acted on, by rule id and action (block, "
                                    "redact, flag; shadow findings as action shadow).",
                                    {"rule", "action"})),
        release(r.AddHistogram("parapet_output_release_seconds",
                               "Per token: time from generation to release by the output guard.",
                               {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
                    .Get()) {}

  Family<Counter>& requests;
  Family<Histogram>& latency;
  Family<Histogram>& ttft;
  Counter& prompt_tokens;
  Counter& completion_tokens;
  Family<Counter>& cancelled;
  Family<Counter>& policy_decisions;
  Family<Counter>& rule_hits;
  Family<Counter>& output_decisions;
  Family<Counter>& output_actions;
  Histogram& release;
};

// ---- construction ----

ApiHandler::ApiHandler(const engine::Model& model, engine::Scheduler& scheduler,
                       const KeyStore& keys, RateLimiter& limiter, MetricsRegistry& metrics,
                       ApiHandlerOptions options)
    : model_(model),
      scheduler_(scheduler),
      keys_(keys),
      limiter_(limiter),
      options_(std::move(options)),
      registry_(metrics),
      metrics_(std::make_unique<Metrics>(metrics)),
      created_(UnixNow()) {
  if (options_.policy_threads > 0) {
    workers_ =
        std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(options_.policy_threads));
  }
  engine::Scheduler* s = &scheduler_;
  auto stat = [s](auto field) {
    return [s, field] { return static_cast<double>(s->stats().*field); };
  };
  metrics.AddCallbackGauge("parapet_engine_queue_depth", "Requests waiting for admission.",
                           stat(&engine::Scheduler::Stats::queued));
  metrics.AddCallbackGauge("parapet_engine_active_sequences",
                           "Sequences admitted (prefilling or decoding).",
                           stat(&engine::Scheduler::Stats::running));
  metrics.AddCallbackGauge("parapet_engine_kv_tokens_in_use",
                           "KV-cache positions reserved by admitted chat-model sequences.",
                           stat(&engine::Scheduler::Stats::kv_tokens_in_use));
  metrics.AddCallbackGauge("parapet_engine_kv_pool_tokens",
                           "KV-cache positions of the chat model the pool holds for it.",
                           stat(&engine::Scheduler::Stats::kv_pool_tokens));
  metrics.AddCallbackGauge("parapet_engine_kv_pool_bytes",
                           "The whole KV pool (chat model and guard-model reserves), in bytes.",
                           stat(&engine::Scheduler::Stats::kv_pool_bytes));
  metrics.AddCallbackGauge("parapet_engine_kv_bytes_in_use",
                           "KV bytes reserved by every model's admitted sequences.",
                           stat(&engine::Scheduler::Stats::kv_bytes_in_use));
  metrics.AddCallbackGauge("parapet_engine_forward_passes", "Batched forward passes run.",
                           stat(&engine::Scheduler::Stats::forward_passes));
  metrics.AddCallbackGauge("parapet_engine_tokens_generated", "Tokens sampled, all requests.",
                           stat(&engine::Scheduler::Stats::tokens_generated));
  metrics.AddCallbackGauge("parapet_engine_cancelled_sequences",
                           "Running sequences stopped by a cancel (client gone, deadline).",
                           stat(&engine::Scheduler::Stats::cancelled_running));
  metrics.AddCallbackGauge(
      "parapet_engine_cancel_passes_max",
      "Most forward passes that still ran a sequence after its cancel (0 or 1).",
      stat(&engine::Scheduler::Stats::cancel_passes_max));
}

ApiHandler::~ApiHandler() {
  if (workers_) workers_->join();
}

// ---- routing ----

void ApiHandler::Handle(std::shared_ptr<Exchange> ex) {
  const Request& req = ex->request();
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  const http::verb method = req.method();

  auto only = [&](http::verb allowed, std::string_view route) {
    if (method == allowed) return true;
    Response r =
        MakeResponse(http::status::method_not_allowed, "application/json",
                     ErrorBody("invalid_request_error",
                               "Method " + std::string(req.method_string()) +
                                   " is not allowed for " + std::string(target) + "; use " +
                                   std::string(http::to_string(allowed)) + "."));
    r.set(http::field::allow, http::to_string(allowed));
    Reply(ex, route, std::move(r));
    return false;
  };

  if (target == "/healthz") {
    if (only(http::verb::get, target)) {
      Reply(ex, target, MakeResponse(http::status::ok, "application/json", R"({"status":"ok"})"));
    }
    return;
  }
  if (target == "/readyz") {
    if (!only(http::verb::get, target)) return;
    if (draining_.load()) {
      Reply(ex, target,
            MakeResponse(http::status::service_unavailable, "application/json",
                         R"({"status":"draining"})"));
    } else if (options_.audit && options_.audit->reject && !options_.audit->writer->healthy()) {
      Reply(ex, target,
            MakeResponse(http::status::service_unavailable, "application/json",
                         R"({"status":"audit_unavailable"})"));
    } else {
      Reply(ex, target,
            MakeResponse(http::status::ok, "application/json", R"({"status":"ready"})"));
    }
    return;
  }
  if (target == "/metrics") {
    if (only(http::verb::get, target)) {
      Reply(ex, target, MakeResponse(http::status::ok, kMetricsContentType, registry_.Render()));
    }
    return;
  }
  const ApiKeyEntry* key = nullptr;
  // With guard models the input policy may block for a forward pass: off the network threads.
  auto run = [this, &ex](
                 void (ApiHandler::*handle)(const std::shared_ptr<Exchange>&, const ApiKeyEntry*),
                 const ApiKeyEntry* k) {
    if (!workers_) return (this->*handle)(ex, k);
    boost::asio::post(*workers_, [this, ex, handle, k] { (this->*handle)(ex, k); });
  };
  if (target == kChatRoute) {
    if (only(http::verb::post, kChatRoute) && Authenticate(ex, key)) {
      run(&ApiHandler::HandleChat, key);
    }
    return;
  }
  if (target == kCompletionsRoute) {
    if (only(http::verb::post, kCompletionsRoute) && Authenticate(ex, key)) {
      run(&ApiHandler::HandleCompletion, key);
    }
    return;
  }
  if (target == kModerationsRoute) {
    if (only(http::verb::post, kModerationsRoute) && Authenticate(ex, key)) {
      run(&ApiHandler::HandleModerations, key);
    }
    return;
  }
  if (target == kModelsRoute || target.starts_with("/v1/models/")) {
    if (only(http::verb::get, kModelsRoute) && Authenticate(ex, key)) {
      HandleModels(ex, target.size() > kModelsRoute.size() ? target.substr(kModelsRoute.size() + 1)
                                                           : std::string_view());
    }
    return;
  }
  ReplyError(ex, "other",
             ApiError{404, "invalid_request_error",
                      "Unknown request URL: " + std::string(req.method_string()) + " " +
                          std::string(target) + ".",
                      "", "unknown_url"});
}

// ---- auth and replies ----

bool ApiHandler::Authenticate(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry*& key) {
  key = nullptr;
  if (keys_.empty()) return true;
  const Request& req = ex->request();
  auto it = req.find(http::field::authorization);
  Result<const ApiKeyEntry*> found =
      keys_.Authenticate(it == req.end() ? std::string_view() : std::string_view(it->value()));
  if (found.ok()) {
    key = *found;
    return true;
  }
  ApiError e = InvalidApiKey();
  Response r = MakeResponse(static_cast<http::status>(e.http_status), "application/json", e.Body());
  r.set(http::field::www_authenticate, "Bearer");
  std::string_view target = req.target();
  Reply(ex, target.substr(0, target.find('?')), std::move(r));
  return false;
}

void ApiHandler::Reply(const std::shared_ptr<Exchange>& ex, std::string_view route,
                       Response response) {
  metrics_->requests.WithLabels({route, std::to_string(response.result_int())}).Inc();
  ex->Respond(std::move(response));
}

void ApiHandler::ReplyError(const std::shared_ptr<Exchange>& ex, std::string_view route,
                            const ApiError& e, int64_t retry_after_s) {
  Response r = MakeResponse(static_cast<http::status>(e.http_status), "application/json", e.Body());
  if (retry_after_s > 0) r.set(http::field::retry_after, std::to_string(retry_after_s));
  Reply(ex, route, std::move(r));
}

GenerationSpec ApiHandler::BaseSpec(std::string_view id_prefix) const {
  GenerationSpec spec;
  spec.meta.id = NewResponseId(id_prefix);
  spec.meta.created = UnixNow();
  spec.meta.model = options_.model_id;
  spec.meta.system_fingerprint = options_.system_fingerprint;
  spec.started = SteadyClock::now();
  spec.deadline = spec.started + std::chrono::milliseconds(options_.request_timeout_ms);
  spec.keepalive_ms = options_.sse_keepalive_ms;
  return spec;
}

// ---- /v1/models ----

void ApiHandler::HandleModels(const std::shared_ptr<Exchange>& ex, std::string_view id) {
  // The chat model, then the guard models (they judge; they do not serve completions).
  std::vector<ModelInfo> models = {ModelInfo{options_.model_id, created_, "parapet"}};
  for (const std::string& g : options_.guard_model_ids) {
    models.push_back(ModelInfo{g, created_, "parapet-guard"});
  }
  if (id.empty()) {
    Reply(ex, kModelsRoute,
          MakeResponse(http::status::ok, "application/json", EncodeModelList(models)));
    return;
  }
  for (const ModelInfo& m : models) {
    if (id == m.id) {
      Reply(ex, kModelsRoute, MakeResponse(http::status::ok, "application/json", EncodeModel(m)));
      return;
    }
  }
  ReplyError(ex, kModelsRoute, ModelNotFound(id));
}

// ---- generation endpoints ----

void ApiHandler::HandleChat(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key) {
  StrictJsonOptions json;
  json.max_bytes = static_cast<size_t>(options_.max_body_bytes);
  ApiResult<ChatCompletionRequest> parsed = ParseChatCompletionRequest(ex->request().body(), json);
  if (!parsed.ok()) return ReplyError(ex, kChatRoute, parsed.error());
  const ChatCompletionRequest& req = parsed.value();
  if (req.model != options_.model_id) return ReplyError(ex, kChatRoute, ModelNotFound(req.model));

  if (!options_.chat_template) {
    return ReplyError(ex, kChatRoute,
                      InvalidParam("messages",
                                   "this model has no chat template, so it serves "
                                   "/v1/completions only (set model.chat_template in "
                                   "the server's configuration to enable chat)"));
  }
  GenerationSpec spec = BaseSpec("chatcmpl-");
  spec.kind = GenerationSpec::Kind::kChat;
  spec.stream = req.stream;
  spec.include_usage = req.include_usage;
  spec.logprobs = req.logprobs;
  std::vector<policies::Turn> turns;
  turns.reserve(req.messages.size());
  std::string sent;  // the messages as the audit trail's HMAC covers them (FORMAT.md)
  for (const ChatMessage& m : req.messages) {
    turns.push_back({m.role, m.content});
    if (options_.audit) sent += (sent.empty() ? "" : "\n\n") + m.role + "\n" + m.content;
  }
  if (!StartAudit(ex, key, kChatRoute, sent, static_cast<int64_t>(turns.size()), spec)) return;
  if (!ApplyInputPolicy(ex, key, kChatRoute, turns, spec)) return;
  for (const policies::Turn& t : turns) spec.guard_context.push_back({t.role, t.content});
  std::vector<engine::ChatMessage> messages;
  messages.reserve(turns.size());
  for (policies::Turn& t : turns) messages.push_back({t.role, std::move(t.content)});
  Result<std::vector<engine::TokenId>> prompt =
      engine::EncodeChat(model_.tokenizer(), *options_.chat_template, messages);
  if (!prompt.ok()) {
    return ReplyError(ex, kChatRoute, InvalidParam("messages", prompt.status().message()));
  }
  ApiResult<int32_t> max_tokens =
      CompletionBudget(req.max_tokens, options_.default_max_tokens, options_.max_context,
                       prompt->size(), "messages");
  if (!max_tokens.ok()) return ReplyError(ex, kChatRoute, max_tokens.error());

  engine::GenerationRequest g;
  g.prompt = std::move(prompt).value();
  g.options.sampling = ToSampling(req.sampling, req.logprobs ? req.top_logprobs : 0);
  g.options.max_tokens = max_tokens.value();
  g.options.stop = req.stop;
  g.options.stop_at_end_of_generation = !req.sampling.ignore_eos;
  Run(ex, key, std::move(spec), std::move(g), kChatRoute);
}

void ApiHandler::HandleCompletion(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key) {
  StrictJsonOptions json;
  json.max_bytes = static_cast<size_t>(options_.max_body_bytes);
  ApiResult<CompletionRequest> parsed = ParseCompletionRequest(ex->request().body(), json);
  if (!parsed.ok()) return ReplyError(ex, kCompletionsRoute, parsed.error());
  const CompletionRequest& req = parsed.value();
  if (req.model != options_.model_id) {
    return ReplyError(ex, kCompletionsRoute, ModelNotFound(req.model));
  }
  if (req.stream && req.echo && req.logprobs) {
    return ReplyError(ex, kCompletionsRoute,
                      UnsupportedParam("echo",
                                       "echo with logprobs is supported only without "
                                       "stream"));
  }
  const engine::Tokenizer& tok = model_.tokenizer();
  GenerationSpec spec = BaseSpec("cmpl-");
  spec.kind = GenerationSpec::Kind::kCompletion;
  spec.stream = req.stream;
  spec.include_usage = req.include_usage;
  engine::GenerationRequest g;
  bool prompt_is_tokens = req.prompt_is_tokens;
  std::string prompt_text = req.prompt_text;
  if (options_.audit) {
    std::string text = prompt_text;
    if (prompt_is_tokens) {
      std::vector<engine::TokenId> ids(req.prompt_tokens.begin(), req.prompt_tokens.end());
      for (engine::TokenId& id : ids) id = std::clamp(id, 0, tok.n_vocab() - 1);
      text = tok.Decode(ids, /*render_special=*/false, /*strip_leading_space=*/false);
    }
    if (!StartAudit(ex, key, kCompletionsRoute, text, 1, spec)) return;
  }
  if (options_.policies != nullptr) {
    // The policy sees the prompt as text (token-id prompts decoded); a redaction re-tokenizes
    // the redacted text.
    if (prompt_is_tokens) {
      std::vector<engine::TokenId> ids(req.prompt_tokens.begin(), req.prompt_tokens.end());
      for (engine::TokenId& id : ids) id = std::clamp(id, 0, tok.n_vocab() - 1);
      prompt_text = tok.Decode(ids, /*render_special=*/false, /*strip_leading_space=*/false);
    }
    std::vector<policies::Turn> turns = {{"user", prompt_text}};
    if (!ApplyInputPolicy(ex, key, kCompletionsRoute, turns, spec)) return;
    for (const policies::Turn& t : turns) spec.guard_context.push_back({t.role, t.content});
    if (turns[0].content != prompt_text) {
      prompt_is_tokens = false;
      prompt_text = std::move(turns[0].content);
    }
  }
  if (prompt_is_tokens) {
    for (size_t i = 0; i < req.prompt_tokens.size(); ++i) {
      if (req.prompt_tokens[i] >= tok.n_vocab()) {
        return ReplyError(
            ex, kCompletionsRoute,
            InvalidParam("prompt", "token id " + std::to_string(req.prompt_tokens[i]) +
                                       " at index " + std::to_string(i) +
                                       " is outside the vocabulary (" +
                                       std::to_string(tok.n_vocab()) + " tokens)"));
      }
    }
    g.prompt.assign(req.prompt_tokens.begin(), req.prompt_tokens.end());
    spec.echo_text = tok.Decode(g.prompt, /*render_special=*/false, /*strip_leading_space=*/false);
  } else {
    // Control-token text in a prompt stays text: only token-id prompts can contain control tokens.
    g.prompt = tok.Encode(prompt_text, tok.add_bos_default(), /*parse_special=*/false);
    spec.echo_text = prompt_text;  // what the engine saw (redactions included)
    if (!g.prompt.empty() && tok.add_bos_default() && g.prompt[0] == tok.bos_id()) {
      spec.echo_skip = 1;  // the BOS Parapet added is not part of the client's prompt
    }
    spec.echo_strip_space = tok.add_space_prefix() && !prompt_text.starts_with(' ');
  }
  if (g.prompt.empty()) {
    return ReplyError(ex, kCompletionsRoute, InvalidParam("prompt", "the prompt is empty"));
  }
  ApiResult<int32_t> max_tokens = CompletionBudget(req.max_tokens, options_.default_max_tokens,
                                                   options_.max_context, g.prompt.size(), "prompt");
  if (!max_tokens.ok()) return ReplyError(ex, kCompletionsRoute, max_tokens.error());

  const int32_t n_logprobs = req.logprobs.value_or(0);
  g.options.sampling = ToSampling(req.sampling, n_logprobs);
  g.options.max_tokens = max_tokens.value();
  g.options.stop = req.stop;
  g.options.stop_at_end_of_generation = !req.sampling.ignore_eos;
  if (req.echo && req.logprobs) g.prompt_logprobs = n_logprobs;

  spec.logprobs = req.logprobs.has_value();
  spec.echo = req.echo;
  if (req.echo && req.logprobs) spec.echo_ids = g.prompt;
  if (!req.echo) spec.echo_text.clear();
  Run(ex, key, std::move(spec), std::move(g), kCompletionsRoute);
}

void ApiHandler::Run(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key,
                     GenerationSpec spec, engine::GenerationRequest request,
                     std::string_view route) {
  if (draining_.load()) {
    return ReplyError(ex, route, Overloaded("the server is shutting down"), 1);
  }
  if (spec.logprobs && spec.policy != nullptr && spec.policy->has_output() &&
      request.options.max_tokens > 0) {
    // Per-token strings and alternatives would carry text past the output guard.
    return ReplyError(ex, route,
                      UnsupportedParam("logprobs",
                                       "logprobs are not available for generated tokens under "
                                       "policy '" +
                                           spec.policy->name() + "', which has output stages"));
  }
  Admission admission;
  if (key != nullptr) {
    const int64_t reserve =
        static_cast<int64_t>(request.prompt.size()) + request.options.max_tokens;
    admission = limiter_.TryAcquire(key->hash, key->limits, reserve);
    if (admission.outcome == Admission::Outcome::kTooLarge) {
      return ReplyError(ex, route,
                        RateLimited("tokens", "the request (" + std::to_string(reserve) +
                                                  " tokens) exceeds the key's tokens-per-minute "
                                                  "limit"));
    }
    if (!admission.admitted()) {
      return ReplyError(
          ex, route,
          RateLimited(admission.limited_by, "rate limit reached for " + admission.limited_by +
                                                " on this API key; retry after " +
                                                std::to_string(admission.retry_after_s) + " s"),
          admission.retry_after_s);
    }
  }
  Metrics* m = metrics_.get();
  RateLimiter* limiter = &limiter_;
  const std::string route_name(route);
  const std::string key_id = key != nullptr ? key->hash : std::string();
  auto on_finish = [m, limiter, route_name, key_id, admission](const GenerationOutcome& o) {
    m->requests.WithLabels({route_name, std::to_string(o.http_status)}).Inc();
    m->latency.WithLabels({route_name}).Observe(o.duration_s);
    if (o.ttft_s >= 0) m->ttft.WithLabels({route_name}).Observe(o.ttft_s);
    m->prompt_tokens.Inc(o.prompt_tokens);
    m->completion_tokens.Inc(o.completion_tokens);
    if (!o.cancel_reason.empty()) m->cancelled.WithLabels({o.cancel_reason}).Inc();
    if (!o.output_action.empty()) {
      m->output_decisions.WithLabels({o.policy, o.output_action}).Inc();
    }
    for (const pipeline::Finding& f : o.output_findings) {
      m->output_actions.WithLabels({f.rule_id, pipeline::ActionName(f.action)}).Inc();
    }
    for (const pipeline::Finding& f : o.output_shadow) {
      m->output_actions.WithLabels({f.rule_id, "shadow"}).Inc();
    }
    for (double s : o.release_latency_s) m->release.Observe(s);
    if (!key_id.empty()) limiter->Release(key_id, admission, o.prompt_tokens + o.completion_tokens);
  };
  std::shared_ptr<RequestAudit> audit = spec.audit;
  if (audit) {
    audit::AdmissionRecord& a = audit->admission;
    a.max_tokens = request.options.max_tokens;
    a.temperature = request.options.sampling.temperature;
    a.top_p = request.options.sampling.top_p;
    a.top_k = request.options.sampling.top_k;
    a.seed = request.options.sampling.seed;
    a.stream = spec.stream;
    a.prompt_tokens = static_cast<int64_t>(request.prompt.size());
  }
  if (workers_ && spec.policy != nullptr && spec.policy->has_output() &&
      spec.policy->output().has_costly_whole_text_stages()) {
    spec.guard_executor = boost::asio::make_strand(workers_->get_executor());
  }
  auto generation = std::make_shared<Generation>(ex, std::move(spec), model_.tokenizer(),
                                                 scheduler_, std::move(on_finish));
  auto start = [this, ex, route_name, key_id, admission, generation,
                request = std::move(request)](bool go) mutable {
    if (!go || draining_.load()) {
      if (!key_id.empty()) limiter_.Release(key_id, admission, 0);
      return ReplyError(ex, route_name,
                        go ? Overloaded("the server is shutting down")
                           : Overloaded("the audit log cannot record requests; retry later"),
                        1);
    }
    ApiResult<uint64_t> started = generation->Start(std::move(request));
    if (!started.ok()) {
      if (!key_id.empty()) limiter_.Release(key_id, admission, 0);
      const ApiError& e = started.error();
      return ReplyError(ex, route_name, e, e.http_status == 503 ? 1 : 0);
    }
    tracker_.Add(generation);
  };
  if (!audit) return start(true);
  // The admission record is durable before generation starts.
  audit->Admit(std::move(start));
}

// ---- audit ----

bool ApiHandler::StartAudit(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key,
                            std::string_view route, std::string_view prompt, int64_t messages,
                            GenerationSpec& spec) {
  if (!options_.audit) return true;
  const AuditSink& sink = *options_.audit;
  if (sink.reject && !sink.writer->healthy()) {
    ReplyError(ex, route,
               Overloaded("the audit log cannot record requests (" +
                          sink.writer->fault().message() + "); retry later"),
               5);
    return false;
  }
  spec.audit = std::make_shared<RequestAudit>(options_.audit);
  audit::AdmissionRecord& a = spec.audit->admission;
  a.request_id = spec.meta.id;
  a.tenant = key != nullptr ? key->tenant : "";
  a.key_id = key != nullptr ? key->hash : "";
  a.route = std::string(route);
  a.model = options_.model_id;
  a.model_sha256 = sink.model_sha256;
  a.prompt_hmac = spec.audit->Tag(prompt);
  a.prompt_chars = audit::CountChars(prompt);
  if (sink.content_key) spec.audit->prompt_text = std::string(prompt);
  a.messages = messages;
  return true;
}

// ---- input policy ----

bool ApiHandler::ApplyInputPolicy(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key,
                                  std::string_view route, std::vector<policies::Turn>& turns,
                                  GenerationSpec& spec) {
  if (options_.policies == nullptr) return true;
  // The request is pinned to this version of the policy file, whatever reloads come.
  const std::shared_ptr<const policies::PolicySet> set = options_.policies->current();
  const policies::RequestContext who{key != nullptr ? key->tenant : "",
                                     key != nullptr ? key->name : "", std::string(route),
                                     options_.model_id};
  const policies::Policy& policy = *set->Select(who);
  spec.policy_header = policy.name() + "; version=" + policy.version();
  spec.policy_set = set;
  spec.policy = &policy;
  policies::InputDecision d = policy.EvaluateInput(turns);
  metrics_->policy_decisions.WithLabels({policy.name(), pipeline::ActionName(d.verdict.action)})
      .Inc();
  for (const pipeline::Finding& f : d.verdict.findings) {
    if (f.action != pipeline::Action::kAllow) {  // score-only findings are not hits
      metrics_->rule_hits.WithLabels({f.rule_id, "enforce"}).Inc();
    }
  }
  for (const pipeline::Finding& f : d.verdict.shadow) {
    if (f.action != pipeline::Action::kAllow) {
      metrics_->rule_hits.WithLabels({f.rule_id, "shadow"}).Inc();
    }
  }
  if (spec.audit) {
    audit::AdmissionRecord& a = spec.audit->admission;
    a.policy = policy.name();
    a.policy_version = policy.version();
    a.decision = pipeline::ActionName(d.verdict.action);
    a.stages_us = 0;
    for (const pipeline::StageReport& r : d.verdict.stages) a.stages_us += r.micros;
    std::vector<std::string> texts;  // the scanned messages as the client sent them
    for (size_t i : d.scanned) texts.push_back(turns[i].content);
    a.findings = AuditFindings(d.verdict, texts, d.scanned);
  }
  if (d.verdict.action != pipeline::Action::kBlock) {
    if (d.changed) turns = std::move(d.turns);
    return true;
  }
  const pipeline::Finding* f = d.verdict.deciding();
  const std::string rule = f != nullptr ? f->rule_id : "policy";
  const policies::Policy::Options& o = policy.options();
  const bool refusal = o.on_block == policies::BlockResponse::kRefusal;
  auto respond = [this, ex, route = std::string(route), spec, rule, refusal,
                  refusal_text = o.refusal, message = o.message](bool ok) {
    if (!ok) {
      return ReplyError(ex, route, Overloaded("the audit log cannot record requests; retry later"),
                        1);
    }
    if (refusal)
      return RespondRefusal(ex, route, spec, refusal_text, ContentFilterInfo{rule, message});
    // Never the matched text: the rule id and the policy's own message.
    const ApiError e{400, "content_policy_violation", message, "", rule};
    Reply(ex, route, JsonResponse(http::status::bad_request, e.Body(), spec.policy_header));
  };
  if (!spec.audit) {
    respond(true);
    return false;
  }
  audit::CompletionRecord c;
  c.request_id = spec.meta.id;
  c.status = refusal ? 200 : 400;
  c.finish_reason = "policy_block";
  c.error = rule;
  c.output_hmac = spec.audit->Tag(refusal ? o.refusal : "");
  c.output_chars = refusal ? audit::CountChars(o.refusal) : 0;
  spec.audit->AdmitAndComplete(std::move(c), refusal ? o.refusal : "", std::move(respond));
  return false;
}

void ApiHandler::RespondRefusal(const std::shared_ptr<Exchange>& ex, std::string_view route,
                                const GenerationSpec& spec, const std::string& refusal,
                                const ContentFilterInfo& filter) {
  const Usage usage{0, 0};
  const bool chat = spec.kind == GenerationSpec::Kind::kChat;
  if (!spec.stream) {
    std::string body;
    if (chat) {
      ChatCompletion c;
      c.meta = spec.meta;
      c.content = refusal;
      c.finish_reason = "content_filter";
      c.content_filter = filter;
      c.usage = usage;
      body = EncodeChatCompletion(c);
    } else {
      CompletionResult c;
      c.meta = spec.meta;
      c.text = refusal;
      c.finish_reason = "content_filter";
      c.content_filter = filter;
      c.usage = usage;
      body = EncodeCompletion(c);
    }
    Reply(ex, route, JsonResponse(http::status::ok, std::move(body), spec.policy_header));
    return;
  }
  metrics_->requests.WithLabels({route, "200"}).Inc();
  ex->StartStream(StreamHeader(spec.policy_header));
  if (chat) {
    ChatChunkEncoder enc(spec.meta, spec.include_usage, false);
    ex->Write(SseData(enc.RoleChunk()));
    ex->Write(SseData(enc.ContentChunk(refusal)));
    ex->Write(SseData(enc.FinishChunk("content_filter", filter)));
    if (spec.include_usage) ex->Write(SseData(enc.UsageChunk(usage)));
  } else {
    CompletionChunkEncoder enc(spec.meta, spec.include_usage, false);
    ex->Write(SseData(enc.TextChunk(refusal)));
    ex->Write(SseData(enc.FinishChunk("content_filter", filter)));
    if (spec.include_usage) ex->Write(SseData(enc.UsageChunk(usage)));
  }
  ex->Write(SseDone());
  ex->End();
}

// ---- /v1/moderations ----

// {"input": string | [string], "model"?: string} -> OpenAI's moderation shape from the input
// policy: one result per input; categories are the finding types (lower-cased), flagged when the
// policy would not allow the text unchanged.
void ApiHandler::HandleModerations(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key) {
  StrictJsonOptions json;
  json.max_bytes = static_cast<size_t>(options_.max_body_bytes);
  Result<boost::json::value> body = ParseStrictJson(ex->request().body(), json);
  if (!body.ok()) return ReplyError(ex, kModerationsRoute, InvalidJson(body.status()));
  if (!body->is_object()) {
    return ReplyError(ex, kModerationsRoute, InvalidType("", "object", "another type"));
  }
  std::vector<std::string> inputs;
  std::string model = options_.model_id;
  for (const auto& [k, v] : body->as_object()) {
    if (k == "input") {
      if (v.is_string()) {
        inputs.emplace_back(v.as_string());
      } else if (v.is_array() && !v.as_array().empty()) {
        for (const boost::json::value& item : v.as_array()) {
          if (!item.is_string()) {
            return ReplyError(ex, kModerationsRoute,
                              InvalidParam("input",
                                           "input must be a string or an array of "
                                           "strings (images are not supported)"));
          }
          inputs.emplace_back(item.as_string());
        }
      } else {
        return ReplyError(ex, kModerationsRoute,
                          InvalidParam("input",
                                       "input must be a string or a non-empty array of "
                                       "strings"));
      }
    } else if (k == "model") {
      if (!v.is_string())
        return ReplyError(ex, kModerationsRoute, InvalidType("model", "string", "another type"));
      model = std::string(v.as_string());
    } else {
      return ReplyError(ex, kModerationsRoute, UnrecognizedParam(std::string(k)));
    }
  }
  if (inputs.empty()) return ReplyError(ex, kModerationsRoute, MissingParam("input"));
  std::shared_ptr<const policies::PolicySet> set;
  const policies::Policy* policy = nullptr;
  if (options_.policies != nullptr) {
    set = options_.policies->current();
    policy = set->Select({key != nullptr ? key->tenant : "", key != nullptr ? key->name : "",
                          std::string(kModerationsRoute), options_.model_id});
  }
  JsonWriter w;
  w.BeginObject();
  w.StringField("id", NewResponseId("modr-"));
  w.StringField("model", model);
  w.Key("results");
  w.BeginArray();
  for (const std::string& text : inputs) {
    std::map<std::string, double> scores;
    std::map<std::string, bool> hit;  // an enforced finding (not only a score) of the category
    bool flagged = false;
    if (policy != nullptr) {
      const std::vector<policies::Turn> turns = {{"user", text}};
      const policies::InputDecision d = policy->EvaluateInput(turns);
      flagged = d.verdict.action != pipeline::Action::kAllow;
      for (const pipeline::Finding& f : d.verdict.findings) {
        std::string category = f.type;
        for (char& c : category) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        scores[category] = std::max(scores[category], f.score);
        hit[category] = hit[category] || f.action != pipeline::Action::kAllow;
      }
    }
    w.BeginObject();
    w.Key("flagged");
    w.Bool(flagged);
    w.Key("categories");
    w.BeginObject();
    for (const auto& [c, score] : scores) {
      w.Key(c);
      w.Bool(hit[c]);
    }
    w.EndObject();
    w.Key("category_scores");
    w.BeginObject();
    for (const auto& [c, score] : scores) w.DoubleField(c, score);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  Response r = JsonResponse(
      http::status::ok, w.str(),
      policy != nullptr ? policy->name() + "; version=" + policy->version() : std::string());
  Reply(ex, kModerationsRoute, std::move(r));
}

}  // namespace parapet::gateway
