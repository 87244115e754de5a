// Gateway: building and tearing down a running server from a GatewayConfig.
#include "gateway/gateway.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "audit/line.h"
#include "audit/record.h"
#include "audit/writer.h"
#include "common/logging.h"
#include "common/system_info.h"
#include "engine/chat_template.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "gateway/api_keys.h"
#include "gateway/guard_models.h"
#include "gateway/metrics.h"
#include "gateway/openai_handler.h"
#include "gateway/rate_limiter.h"
#include "gateway/self_signed_cert.h"
#include "gateway/server.h"
#include "gateway/server_options.h"
#include "gateway/tls_context.h"
#include "pipeline/guard_model.h"
#include "pipeline/stage.h"
#include "policies/policy_store.h"

namespace parapet::gateway {
namespace {

// The KV pool: as configured, else room for every sequence at full context, capped at a quarter
// of physical memory.
int64_t KvPoolTokens(const EngineConfig& e, const engine::ModelConfig& c, int32_t ctx) {
  if (e.kv_pool_tokens > 0) return e.kv_pool_tokens;
  const uint64_t per_token = engine::KvCache::BytesFor(c.n_layer, c.n_embd_kv(), 1);
  const int64_t budget = static_cast<int64_t>(PhysicalMemoryBytes() / 4 / per_token);
  return std::max<int64_t>(ctx,
                           std::min<int64_t>(static_cast<int64_t>(e.max_sequences) * ctx, budget));
}

std::string Stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

std::string Fingerprint(const std::string& model_path, const GatewayConfig& c) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(model_path, ec);
  const size_t h = std::hash<std::string>{}(model_path + "|" + std::to_string(size) + "|" +
                                            c.model.chat_template + "|" + c.engine.backend);
  char buf[32];
  std::snprintf(buf, sizeof buf, "fp_%08zx", h & 0xffffffffu);
  return buf;
}

ServerOptions ToServerOptions(const GatewayConfig& c) {
  ServerOptions o;
  o.listen_host = c.listen.host;
  o.listen_port = static_cast<uint16_t>(c.listen.port);
  o.io_threads = c.engine.io_threads;
  o.max_header_bytes = static_cast<uint64_t>(c.limits.max_header_bytes);
  o.max_body_bytes = static_cast<uint64_t>(c.limits.max_body_bytes);
  o.handshake_timeout_ms = static_cast<int>(c.timeouts.handshake_ms);
  o.header_timeout_ms = static_cast<int>(c.timeouts.header_ms);
  o.body_timeout_ms = static_cast<int>(c.timeouts.body_ms);
  o.idle_timeout_ms = static_cast<int>(c.timeouts.idle_ms);
  o.max_connections = c.limits.max_connections;
  o.stream_buffer_limit_bytes = static_cast<uint64_t>(c.limits.stream_buffer_bytes);
  o.shutdown_grace_ms = static_cast<int>(c.timeouts.shutdown_grace_ms);
  o.hsts_max_age_s = c.tls.hsts_max_age_s;
  return o;
}

void ExportServerStats(MetricsRegistry& m, const std::function<ServerStatsSnapshot()>& snap) {
  struct Field {
    const char* name;
    const char* help;
    uint64_t ServerStatsSnapshot::*field;
  };
  static const Field kFields[] = {
      {"parapet_connections_accepted", "TCP connections accepted.",
       &ServerStatsSnapshot::connections_accepted},
      {"parapet_connections_active", "Connections open now.",
       &ServerStatsSnapshot::connections_active},
      {"parapet_connections_rejected", "Connections refused over the connection cap.",
       &ServerStatsSnapshot::connections_rejected},
      {"parapet_tls_handshake_failures", "TLS handshakes that failed.",
       &ServerStatsSnapshot::tls_handshake_failures},
      {"parapet_http_timeouts_header", "Connections dropped for a slow request header.",
       &ServerStatsSnapshot::timeouts_header},
      {"parapet_http_timeouts_body", "Connections dropped for a slow request body.",
       &ServerStatsSnapshot::timeouts_body},
      {"parapet_http_responses_413", "Bodies refused as too large.",
       &ServerStatsSnapshot::responses_413_body_too_large},
      {"parapet_http_responses_431", "Headers refused as too large.",
       &ServerStatsSnapshot::responses_431_header_too_large},
      {"parapet_exchanges_aborted", "Requests aborted (client gone, write failure, shutdown).",
       &ServerStatsSnapshot::exchanges_aborted},
  };
  for (const Field& f : kFields) {
    auto member = f.field;
    m.AddCallbackGauge(f.name, f.help,
                       [snap, member] { return static_cast<double>(snap().*member); });
  }
}

// Token counts for the length stage, as the served model tokenizes.
class ModelTokenCounter : public pipeline::TokenCounter {
 public:
  explicit ModelTokenCounter(const engine::Tokenizer& t) : t_(t) {}
  int64_t CountTokens(std::string_view text) const override {
    return static_cast<int64_t>(t_.Encode(text, /*add_bos=*/false, /*parse_special=*/false).size());
  }

 private:
  const engine::Tokenizer& t_;
};

}  // namespace

struct Gateway::Impl {
  // A gateway that never started serving (Start failed after the audit log was opened) closes
  // its log cleanly, so the next start does not take it for a crash.
  ~Impl() {
    if (audit != nullptr && !shut_down) {
      (void)audit->AppendSync("stop", audit::Fields().Str("reason", "start failed").str());
      audit->Close();
    }
  }

  GatewayConfig config;
  // The audit writer outlives everything that records into it (declared first: destroyed last).
  std::unique_ptr<audit::AuditWriter> audit;
  std::shared_ptr<AuditSink> audit_sink;
  std::string signing_key;  // the verifier form of the key checkpoints are signed with
  std::string model_id;
  std::string cert_file;  // generated self-signed certificate, if any
  // The models outlive the scheduler that runs them (one lane each); the scheduler outlives the
  // policies, whose reloads run guard checks on it.
  std::unique_ptr<engine::Model> model;
  std::unique_ptr<ModelTokenCounter> token_counter;
  std::vector<std::shared_ptr<GuardModel>> guard_models;
  pipeline::GuardModelRegistry guard_registry;
  policies::CompileContext compile_context;
  std::unique_ptr<engine::Scheduler> scheduler;
  std::unique_ptr<policies::PolicyStore> policies;
  std::unique_ptr<KeyStore> keys;
  RateLimiter limiter;
  MetricsRegistry metrics;
  std::shared_ptr<ApiHandler> handler;
  std::shared_ptr<TlsContext> tls;
  std::unique_ptr<Server> server;
  uint16_t port = 0;
  bool shut_down = false;
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() { Shutdown(); }

namespace {

Result<std::shared_ptr<TlsContext>> MakeTls(const GatewayConfig& c, std::string& generated) {
  if (c.tls.insecure_http) return std::shared_ptr<TlsContext>();
  TlsOptions t{c.tls.cert_file, c.tls.key_file, c.tls.client_ca_file};
  if (t.cert_file.empty()) {
    PARAPET_ASSIGN_OR_RETURN(SelfSignedCert cert, GenerateSelfSigned());
    char dir_template[] = "/tmp/parapet-tls-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) return InternalError("cannot create a directory in /tmp");
    PARAPET_ASSIGN_OR_RETURN(CertFiles files, WriteCertFiles(cert, dir_template));
    t.cert_file = files.cert_file;
    t.key_file = files.key_file;
    generated = files.cert_file;
    PARAPET_LOG(kInfo) << "no certificate configured: generated a self-signed certificate for "
                          "localhost (SHA-256 "
                       << cert.sha256_fingerprint << "), written to " << files.cert_file;
  }
  return TlsContext::Create(t);
}

}  // namespace

namespace {

std::map<std::string, std::string> PolicyVersions(const policies::PolicySet* set) {
  std::map<std::string, std::string> out;
  if (set == nullptr) return out;
  for (const std::string& n : set->names()) out[n] = set->Find(n)->version();
  return out;
}

}  // namespace

// The audit trail: keys, the model's SHA-256, the writer (recovering the log), the `start`
// record, and policy reloads recorded as they happen.
Status Gateway::OpenAudit(Impl& impl) {
  const AuditConfig& a = impl.config.audit;
  Result<audit::SigningKey> signing = audit::SigningKey::Load(a.keys + "/signing.key");
  Result<audit::HmacKey> hmac = audit::HmacKey::Load(a.keys + "/hmac.key");
  if (!signing.ok() || !hmac.ok()) {
    return InvalidArgumentError(
        "audit.keys: " + (!signing.ok() ? signing.status() : hmac.status()).message() +
        " (make the keys with `parapet audit keygen --out " + a.keys + "`)");
  }
  PARAPET_LOG(kInfo) << "audit: hashing the model weights (" << impl.config.model.path << ")";
  PARAPET_ASSIGN_OR_RETURN(const audit::Hash weights, audit::Sha256File(impl.config.model.path));
  audit::WriterOptions wo;
  wo.dir = a.dir;
  wo.signing_key = *signing;
  wo.rotate_bytes = static_cast<uint64_t>(a.rotate_bytes);
  wo.rotate_seconds = a.rotate_seconds;
  wo.checkpoint_records = static_cast<uint64_t>(a.checkpoint_records);
  wo.checkpoint_seconds = a.checkpoint_seconds;
  wo.sink = a.checkpoint_sink;
  wo.content_dir = a.content_dir;
  std::optional<audit::ContentKey> content_key;
  if (!a.content_dir.empty()) {
    Result<audit::ContentKey> k = audit::ContentKey::Load(a.keys + "/content.key");
    if (!k.ok()) return InvalidArgumentError("audit.content_dir needs " + k.status().message());
    content_key = *k;
  }
  wo.group_commit_wait_us = a.group_commit_wait_us;
  wo.min_free_bytes = static_cast<uint64_t>(a.min_free_bytes);
  wo.warn_free_bytes = static_cast<uint64_t>(a.warn_free_bytes);
  Result<std::unique_ptr<audit::AuditWriter>> writer = audit::AuditWriter::Open(std::move(wo));
  if (!writer.ok()) return writer.status().WithContext("audit.dir " + a.dir);
  impl.audit = std::move(writer).value();
  auto sink = std::make_shared<AuditSink>();
  sink->writer = impl.audit.get();
  sink->set_hmac(*hmac);
  sink->content_key = content_key;
  sink->reject = a.reject_on_failure;
  sink->model_sha256 = audit::Hex(weights);
  impl.audit_sink = sink;
  impl.signing_key = signing->verifier().Serialize();
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const std::shared_ptr<const policies::PolicySet> set =
      impl.policies ? impl.policies->current() : nullptr;
  PARAPET_RETURN_IF_ERROR(impl.audit->AppendSync(
      "start", audit::Fields()
                   .Str("version", "parapet 0.1")
                   .Int("pid", getpid())
                   .Str("host", host)
                   .Str("model", impl.config.model.path)
                   .Str("model_sha256", sink->model_sha256)
                   .Str("policy_file", impl.config.policies.file)
                   .Map("policy_versions", PolicyVersions(set.get()))
                   .Str("on_failure", a.reject_on_failure ? "reject" : "degrade")
                   .Str("hmac_key_id", hmac->id())
                   .Str("signing_key", signing->verifier().Serialize())
                   .str()));
  if (impl.policies) {
    audit::AuditWriter* w = impl.audit.get();
    impl.policies->SetReloadListener([w](const Status& s,
                                         const std::shared_ptr<const policies::PolicySet>& before,
                                         const std::shared_ptr<const policies::PolicySet>& after) {
      w->Append("policy_reload", audit::Fields()
                                     .Bool("ok", s.ok())
                                     .Map("old", PolicyVersions(before.get()))
                                     .Map("new", s.ok() ? PolicyVersions(after.get())
                                                        : std::map<std::string, std::string>{})
                                     .Str("error", s.ok() ? "" : s.message())
                                     .str());
    });
  }
  PARAPET_LOG(kInfo) << "audit: log " << impl.audit->log_id() << " in " << a.dir << " ("
                     << (a.reject_on_failure ? "reject" : "degrade") << " on failure)"
                     << (impl.audit->recovery_note().empty()
                             ? std::string()
                             : "; recovered: " + impl.audit->recovery_note());
  return Status::Ok();
}

Result<std::unique_ptr<Gateway>> Gateway::Start(const GatewayConfig& config) {
  PARAPET_RETURN_IF_ERROR(ValidateGatewayConfig(config));
  const ServerOptions server_options = ToServerOptions(config);
  PARAPET_RETURN_IF_ERROR(server_options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const GatewayConfig& c = impl->config;

  // Keys before the model: a bad key list fails fast.
  std::vector<ApiKeyEntry> entries;
  for (size_t i = 0; i < c.api_keys.size(); ++i) {
    const ApiKeyConfig& k = c.api_keys[i];
    entries.push_back(ApiKeyEntry{k.id.empty() ? "api_keys[" + std::to_string(i) + "]" : k.id,
                                  k.hash, k.tenant,
                                  RateLimits{k.requests_per_second, k.burst, k.tokens_per_minute}});
  }
  PARAPET_ASSIGN_OR_RETURN(KeyStore keys, KeyStore::Create(std::move(entries)));
  impl->keys = std::make_unique<KeyStore>(std::move(keys));

  engine::ModelOptions mo;
  mo.n_threads = c.engine.threads;
  mo.backend = c.engine.backend;
  PARAPET_LOG(kInfo) << "loading " << c.model.path;
  PARAPET_ASSIGN_OR_RETURN(impl->model, engine::Model::Load(c.model.path, mo));
  const engine::ModelConfig& mc = impl->model->config();
  if (c.engine.ctx > mc.n_ctx_train) {
    return InvalidArgumentError("engine.ctx " + std::to_string(c.engine.ctx) +
                                " exceeds the model's context length " +
                                std::to_string(mc.n_ctx_train));
  }
  const int32_t ctx = c.engine.ctx > 0 ? c.engine.ctx : mc.n_ctx_train;
  std::optional<engine::ChatTemplate> tmpl;
  {
    Result<engine::ChatTemplate> t = engine::ResolveChatTemplate(
        impl->model->file().GetString("tokenizer.chat_template"), c.model.chat_template);
    if (t.ok()) {
      tmpl = *t;
    } else if (!c.model.chat_template.empty()) {
      return InvalidArgumentError("model.chat_template: " + t.status().message());
    } else {
      PARAPET_LOG(kWarning) << t.status().message() << "; /v1/chat/completions is disabled";
    }
  }

  // Guard models before the policies: a guard_model stage must find its model, and the policies'
  // own tests run at load. Each is a lane of the chat model's scheduler.
  for (const GuardModelConfig& gc : c.guard_models) {
    PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<GuardModel> g, GuardModel::Open(gc, mo));
    if (g->model_id() == (c.model.id.empty() ? Stem(c.model.path) : c.model.id)) {
      return InvalidArgumentError("guard_models: '" + g->model_id() +
                                  "' is also the chat model's id; give the guard model an id");
    }
    if (Status s = impl->guard_registry.Add(g); !s.ok()) {
      return InvalidArgumentError("guard_models: " + s.message());
    }
    impl->guard_models.push_back(std::move(g));
  }
  engine::SchedulerOptions so;
  so.max_sequences = c.engine.max_sequences;
  so.max_batch_tokens = c.engine.max_batch_tokens;
  so.kv_pool_tokens = KvPoolTokens(c.engine, mc, ctx);
  so.max_queue = c.engine.max_queue;
  PARAPET_RETURN_IF_ERROR(engine::ValidateSchedulerOptions(so));
  std::vector<engine::SchedulerLane> lanes;
  for (const std::shared_ptr<GuardModel>& g : impl->guard_models) lanes.push_back(g->lane());
  impl->scheduler = std::make_unique<engine::Scheduler>(*impl->model, so, lanes);
  for (size_t i = 0; i < impl->guard_models.size(); ++i) {
    GuardModel& g = *impl->guard_models[i];
    g.Serve(*impl->scheduler, static_cast<int32_t>(i + 1));
    g.ExportMetrics(impl->metrics);
    const engine::Scheduler::Stats st = g.scheduler_stats();
    const engine::ModelConfig& gc = g.model().config();
    PARAPET_LOG(kInfo) << "guard model " << g.model_id() << ": lane " << i + 1
                       << " of the scheduler, " << lanes[i].max_sequences << " checks at once, "
                       << st.kv_pool_tokens << " KV positions reserved ("
                       << engine::KvCache::BytesFor(gc.n_layer, gc.n_embd_kv(), st.kv_pool_tokens) /
                              (1 << 20)
                       << " MiB)";
  }
  impl->compile_context.guard_models = &impl->guard_registry;
  if (!c.policies.file.empty()) {
    impl->token_counter = std::make_unique<ModelTokenCounter>(impl->model->tokenizer());
    impl->compile_context.token_counter = impl->token_counter.get();
    PARAPET_ASSIGN_OR_RETURN(impl->policies,
                             policies::PolicyStore::Open(c.policies.file, impl->compile_context));
    std::string loaded;
    const std::shared_ptr<const policies::PolicySet> set = impl->policies->current();
    for (const std::string& n : set->names()) {
      loaded += (loaded.empty() ? "" : ", ") + n + " " + set->Find(n)->version().substr(0, 12);
    }
    PARAPET_LOG(kInfo) << "policies from " << c.policies.file << ": " << loaded << " (default "
                       << set->default_policy().name() << "); their tests pass";
    for (const std::string& n : set->names()) {
      for (const std::string& w : set->Find(n)->StreamWarnings()) PARAPET_LOG(kWarning) << w;
    }
    if (c.policies.watch) {
      impl->policies->Watch(std::chrono::milliseconds(c.policies.watch_interval_ms));
    }
  } else {
    PARAPET_LOG(kWarning) << "no policy file: requests are not checked (set policies.file or "
                             "--policy)";
  }

  if (!c.audit.dir.empty()) PARAPET_RETURN_IF_ERROR(OpenAudit(*impl));

  impl->model_id = c.model.id.empty() ? Stem(c.model.path) : c.model.id;
  ApiHandlerOptions ho;
  ho.model_id = impl->model_id;
  ho.chat_template = tmpl;
  ho.max_context = ctx;
  ho.default_max_tokens = c.engine.default_max_tokens;
  ho.request_timeout_ms = c.timeouts.request_ms;
  ho.sse_keepalive_ms = c.timeouts.sse_keepalive_ms;
  ho.max_body_bytes = c.limits.max_body_bytes;
  ho.system_fingerprint = Fingerprint(c.model.path, c);
  ho.policies = impl->policies.get();
  for (const std::shared_ptr<GuardModel>& g : impl->guard_models) {
    ho.guard_model_ids.push_back(g->model_id());
  }
  // Guard checks block while the guard model runs: input policies then run on worker threads,
  // not on the network threads.
  ho.policy_threads = impl->guard_models.empty() ? 0 : c.policy_threads;
  ho.audit = impl->audit_sink;
  impl->handler = std::make_shared<ApiHandler>(*impl->model, *impl->scheduler, *impl->keys,
                                               impl->limiter, impl->metrics, ho);

  PARAPET_ASSIGN_OR_RETURN(impl->tls, MakeTls(c, impl->cert_file));
  PARAPET_ASSIGN_OR_RETURN(impl->server, Server::Start(server_options, impl->tls, impl->handler));
  impl->port = impl->server->port();
  // Read at render time, which only happens while the server serves.
  Server* server = impl->server.get();
  ExportServerStats(impl->metrics, [server] { return server->stats(); });
  PARAPET_LOG(kInfo) << "model " << impl->model_id << ": context " << ctx << ", "
                     << so.max_sequences << " sequences, KV pool " << so.kv_pool_tokens
                     << " tokens, chat template "
                     << (tmpl ? engine::ChatTemplateName(*tmpl) : "none") << ", "
                     << (impl->keys->empty() ? "no API keys (open)"
                                             : std::to_string(impl->keys->size()) + " API keys");
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const { return impl_->port; }

std::string Gateway::url() const {
  std::string host = impl_->config.listen.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(impl_->tls ? "https://" : "http://") + host + ":" + std::to_string(port());
}

const std::string& Gateway::model_id() const { return impl_->model_id; }
const std::string& Gateway::generated_cert_file() const { return impl_->cert_file; }

Status Gateway::Reload() {
  Status result;
  if (impl_->tls) {
    Status s = impl_->tls->Reload();
    if (impl_->audit) {
      impl_->audit->Append(
          "cert_reload",
          audit::Fields().Bool("ok", s.ok()).Str("error", s.ok() ? "" : s.message()).str());
    }
    if (s.ok()) {
      PARAPET_LOG(kInfo) << "TLS certificate reloaded (SHA-256 " << impl_->tls->fingerprint()
                         << ")";
    } else {
      PARAPET_LOG(kError) << "TLS reload failed, keeping the current certificate: " << s.message();
      result = s;
    }
  }
  if (impl_->audit) {
    Status s = ReloadAuditKeys();
    if (!s.ok() && result.ok()) result = s;
  }
  if (impl_->policies) {
    Status s = impl_->policies->Reload();
    if (s.ok()) {
      PARAPET_LOG(kInfo) << "policies reloaded (generation " << impl_->policies->generation()
                         << ", default " << impl_->policies->current()->default_policy().name()
                         << " " << impl_->policies->current()->default_policy().version() << ")";
    } else {
      PARAPET_LOG(kError) << "policy reload failed, the previous version keeps serving: "
                          << s.message();
      if (result.ok()) result = s;
    }
  }
  return result;
}

// SIGHUP: new keys in the keys directory are a key rotation — recorded, vouched for by a
// checkpoint signed with the old key, then used for new checkpoints and new requests.
Status Gateway::ReloadAuditKeys() {
  const std::string& dir = impl_->config.audit.keys;
  Result<audit::SigningKey> signing = audit::SigningKey::Load(dir + "/signing.key");
  Result<audit::HmacKey> hmac = audit::HmacKey::Load(dir + "/hmac.key");
  if (!signing.ok() || !hmac.ok()) {
    const Status s = !signing.ok() ? signing.status() : hmac.status();
    PARAPET_LOG(kError) << "audit keys not reloaded, the current ones stay: " << s.message();
    return s;
  }
  if (signing->verifier().Serialize() == impl_->signing_key &&
      hmac->id() == impl_->audit_sink->hmac()->id()) {
    return Status::Ok();
  }
  const std::string verifier = signing->verifier().Serialize();
  Status s = impl_->audit->RotateKeys(std::move(signing).value(), hmac->id());
  if (!s.ok()) {
    PARAPET_LOG(kError) << "audit key rotation failed: " << s.message();
    return s;
  }
  impl_->signing_key = verifier;
  impl_->audit_sink->set_hmac(std::move(hmac).value());
  PARAPET_LOG(kInfo) << "audit keys rotated (signing " << verifier << ")";
  return Status::Ok();
}

void Gateway::Shutdown() {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->handler->SetDraining(true);
  impl_->server->Shutdown(static_cast<int>(impl_->config.timeouts.shutdown_grace_ms));
  // Order matters. The server's threads are stopped but its io_context lives on, so the
  // scheduler can end what is left (OnDone writes into exchanges nobody sends any more); then
  // no generation is running and the handler's tracker thread may stop; the server goes last.
  // Admission records still being written see the drain and answer 503 instead of starting.
  if (impl_->audit) impl_->audit->Flush();
  impl_->scheduler->Shutdown();  // the object stays for late readers (metrics, guard checks)
  if (impl_->audit) {
    // After the last completion record: the stop record, then a final checkpoint.
    (void)impl_->audit->AppendSync("stop", audit::Fields().Str("reason", "shutdown").str());
    impl_->audit->Close();
  }
  impl_->handler.reset();
  impl_->server.reset();
}

}  // namespace parapet::gateway
