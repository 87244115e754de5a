// ApiHandler: the gateway's request handler. Routes every HTTP request (gateway/exchange.h) to
//   POST /v1/chat/completions, POST /v1/completions   generation on the engine (Generation)
//   GET  /v1/models, GET /v1/models/{id}              the served model
//   GET  /healthz (process up), GET /readyz (ready to serve), GET /metrics (Prometheus text)
// and answers everything else with an OpenAI-shaped 404 / 405. Requests to /v1/* need a valid
// API key (Authorization: Bearer) when keys are configured, and pass the key's rate limits.
//
// Thread-safety: Handle may be called from any number of network threads at once; the handler's
// own state is immutable after construction or atomic, and the engine's Scheduler is thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat_template.h"
#include "gateway/exchange.h"
#include "gateway/generation.h"

namespace parapet::engine {
class Model;
class Scheduler;
}  // namespace parapet::engine

namespace parapet::policies {
class PolicyStore;
struct Turn;
}  // namespace parapet::policies

namespace parapet::gateway {

class Counter;
class Histogram;
class KeyStore;
class MetricsRegistry;
class RateLimiter;
struct ApiKeyEntry;
struct ChatCompletionRequest;
struct CompletionRequest;

struct ApiHandlerOptions {
  std::string model_id;  // the `model` name clients use
  // How chat messages become a prompt; none: /v1/chat/completions answers 400 (a base model
  // without a chat template serves /v1/completions only).
  std::optional<engine::ChatTemplate> chat_template;
  int32_t max_context = 0;              // prompt + completion tokens per request (> 0)
  int32_t default_max_tokens = 256;     // when a request names none (capped by the context)
  int64_t request_timeout_ms = 600000;  // a generation is cancelled after this long
  int64_t sse_keepalive_ms = 5000;      // ": keepalive" after this long without output
  int64_t max_body_bytes = 4 << 20;     // for strict JSON decoding (the transport enforces it)
  std::string system_fingerprint;       // "fp_<hex>", identifies the model and configuration
  // The policy file (policies/); null: every request is allowed as it is. Must outlive the
  // handler.
  policies::PolicyStore* policies = nullptr;
  // The audit trail (gateway/request_audit.h); null: none.
  std::shared_ptr<const AuditSink> audit;
  // Guard models (gateway/guard_models.h), listed by /v1/models beside the chat model.
  std::vector<std::string> guard_model_ids;
  // > 0: chat, completion and moderation requests run (input policy included) on this many
  // worker threads instead of the network threads — a guard model check blocks for a forward
  // pass. 0: on the network threads (policies without guard models take microseconds).
  int32_t policy_threads = 0;
};

class ApiHandler : public Handler {
 public:
  // Everything passed by reference must outlive the handler. `keys` may be empty (no auth).
  ApiHandler(const engine::Model& model, engine::Scheduler& scheduler, const KeyStore& keys,
             RateLimiter& limiter, MetricsRegistry& metrics, ApiHandlerOptions options);
  ~ApiHandler() override;

  void Handle(std::shared_ptr<Exchange> exchange) override;

  // While draining (shutdown), /readyz answers 503 and new generations get 503 (also those whose
  // admission record is still being written).
  void SetDraining(bool draining) { draining_.store(draining); }

 private:
  struct Metrics;
  struct Admitted;  // a request past auth and rate limits

  void HandleChat(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key);
  void HandleCompletion(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key);
  void HandleModels(const std::shared_ptr<Exchange>& ex, std::string_view id);
  void HandleModerations(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key);
  // Runs the input policy over `turns` (redactions are applied to them) and sets
  // spec.policy_header. Returns false when it answered the request itself: a block, as an error
  // or as a refusal completion, per the policy.
  bool ApplyInputPolicy(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key,
                        std::string_view route, std::vector<policies::Turn>& turns,
                        GenerationSpec& spec);
  // With an audit trail: refuses the request (503) when the log cannot take records and
  // on_failure is reject; else starts the request's admission record (prompt HMAC, who, what).
  bool StartAudit(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key,
                  std::string_view route, std::string_view prompt, int64_t messages,
                  GenerationSpec& spec);
  // A completion whose content is the policy's refusal, finish_reason content_filter.
  void RespondRefusal(const std::shared_ptr<Exchange>& ex, std::string_view route,
                      const GenerationSpec& spec, const std::string& refusal,
                      const ContentFilterInfo& filter);
  // Auth for /v1/*: the key's entry (nullptr when no keys are configured), or answers 401.
  bool Authenticate(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry*& key);
  // Rate limits, then Generation::Start. Answers the error itself when it fails.
  void Run(const std::shared_ptr<Exchange>& ex, const ApiKeyEntry* key, GenerationSpec spec,
           engine::GenerationRequest request, std::string_view route);

  void Reply(const std::shared_ptr<Exchange>& ex, std::string_view route, Response response);
  void ReplyError(const std::shared_ptr<Exchange>& ex, std::string_view route, const ApiError& e,
                  int64_t retry_after_s = 0);
  GenerationSpec BaseSpec(std::string_view id_prefix) const;

  const engine::Model& model_;
  engine::Scheduler& scheduler_;
  const KeyStore& keys_;
  RateLimiter& limiter_;
  const ApiHandlerOptions options_;
  MetricsRegistry& registry_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> draining_{false};
  GenerationTracker tracker_;
  const int64_t created_;  // Unix seconds when the model was loaded (for /v1/models)
  // Last: joined first when the handler goes (options_.policy_threads > 0).
  std::unique_ptr<boost::asio::thread_pool> workers_;
};

}  // namespace parapet::gateway
