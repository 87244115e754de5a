// GatewayConfig: everything `parapet serve` needs, read from one YAML file (format documented in
// gateway/CONFIG.md) and/or set by command-line flags. Plain structs with defaults; parsed and
// validated once at the edge (the serve command), then passed down by const&.
//
// Errors name the file, line and field: "parapet.yaml:12:3: engine.max_sequences: must be >= 1".
// Relative paths in the file are resolved against the file's directory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::gateway {

struct ListenConfig {
  std::string host = "127.0.0.1";  // address to bind; "0.0.0.0" / "::" for every interface
  int32_t port = 8443;             // TCP port, 0..65535 (0 = any free port, printed at start)
};

struct TlsConfig {
  std::string cert_file;       // PEM certificate chain; empty with key_file = self-signed
  std::string key_file;        // PEM private key matching cert_file
  std::string client_ca_file;  // PEM CA bundle: when set, clients must present a certificate
  bool insecure_http = false;  // serve plain HTTP (no TLS at all); for local development only
  int64_t hsts_max_age_s = 31536000;  // Strict-Transport-Security max-age on HTTPS responses
};

struct LimitsConfig {
  int64_t max_header_bytes = 16 * 1024;       // request line + headers; over it: 431
  int64_t max_body_bytes = 4 * 1024 * 1024;   // request body; over it: 413 before it is read
  int32_t max_connections = 1024;             // open connections at once; over it: refused
  int64_t stream_buffer_bytes = 1024 * 1024;  // unsent stream bytes before a reader is dropped
};

struct TimeoutsConfig {
  int64_t handshake_ms = 10000;       // TLS handshake
  int64_t header_ms = 10000;          // reading one request's headers
  int64_t body_ms = 30000;            // reading one request's body
  int64_t idle_ms = 60000;            // keep-alive wait for the next request
  int64_t request_ms = 600000;        // one generation, queueing included; then it is cancelled
  int64_t sse_keepalive_ms = 5000;    // ": keepalive" comment interval while a stream waits
  int64_t shutdown_grace_ms = 10000;  // SIGTERM: in-flight requests may finish for this long
};

struct ModelEntry {
  std::string path;           // GGUF file
  std::string id;             // the `model` name clients use; default: the file name stem
  std::string chat_template;  // mistral | llama2 | chatml | llama3 | ...; default: detected
};

struct EngineConfig {
  std::string backend = "cpu";       // compute backend
  int32_t threads = 0;               // compute threads; 0 = all hardware threads
  int32_t ctx = 0;                   // largest context one request may use; 0 = the model's
  int32_t max_sequences = 8;         // sequences decoded together in one batch
  int32_t max_batch_tokens = 256;    // tokens per forward pass (prompt chunks + decode tokens)
  int64_t kv_pool_tokens = 0;        // KV positions shared by all requests; 0 = max_sequences * ctx
  int32_t max_queue = 64;            // requests waiting for admission; beyond: 503 + Retry-After
  int32_t default_max_tokens = 256;  // max_tokens when a request gives none (capped by context)
  int32_t io_threads = 2;            // network threads (TLS, HTTP, JSON)
};

struct ApiKeyConfig {
  std::string id;                  // a label for logs and metrics (never the key itself)
  std::string hash;                // "sha256:<64 hex digits>" of the key (`parapet key new`)
  std::string tenant;              // tenant id the key maps to
  double requests_per_second = 0;  // sustained request rate; 0 = unlimited
  int32_t burst = 0;               // requests admitted at once after idling; 0 = max(1, ceil(rps))
  int64_t tokens_per_minute = 0;   // prompt + completion tokens per minute; 0 = unlimited
};

struct PolicyConfig {
  std::string file;   // policy file (policies/SCHEMA.md); empty: no policy (everything allowed)
  bool watch = true;  // reload when the file changes (besides SIGHUP)
  int64_t watch_interval_ms = 2000;  // how often the file's mtime/size are checked
};

struct AuditConfig {
  std::string dir;                // the audit log directory (audit/FORMAT.md); empty: no audit
  std::string keys;               // what `parapet audit keygen` wrote: signing.key, hmac.key
  bool reject_on_failure = true;  // on_failure: reject (503 while not writable) | degrade
  int64_t checkpoint_records = 1000;
  int64_t checkpoint_seconds = 60;
  std::string checkpoint_sink;  // "" | dir:PATH | command:CMD | syslog
  std::string content_dir;      // encrypted prompts and outputs (audit.content_dir; off when empty)
  int64_t rotate_bytes = int64_t{64} << 20;
  int64_t rotate_seconds = 24 * 3600;
  int64_t min_free_bytes = int64_t{256} << 20;  // below: stop admitting
  int64_t warn_free_bytes = int64_t{1} << 30;   // below: warn
  int64_t group_commit_wait_us = 0;
};

// A guard model served beside the chat model for `guard_model` policy stages (guard_models.h):
// one entry of `guard_models`, and what GuardModel::Open takes.
struct GuardModelConfig {
  std::string path;                // GGUF file
  std::string id;                  // the name policies use (`model:`); default: the file name stem
  int32_t ctx = 4096;              // longest check (prompt + category line), capped by the model
  int32_t max_sequences = 4;       // checks evaluated together in one batch
  int32_t max_batch_tokens = 512;  // tokens per guard forward pass (prompt chunks + decode)
  int32_t max_queue = 64;          // checks waiting; beyond: the stage errors (on_error decides)
  // KV positions of the pool kept for this model's checks (a chat request never takes them; a
  // check may borrow the pool's free space beyond them). 0: max_sequences * ctx.
  int64_t kv_reserve_tokens = 0;
  bool reuse_prefix = true;  // false: every check evaluates its whole prompt (measurement)
  // Recent checks whose KV caches are kept: a check sharing more than the instruction prefix
  // with one (a streamed response judged again as it grows, a conversation with a turn more)
  // evaluates only what differs. 0: none kept.
  int32_t cached_checks = 4;
};

struct GatewayConfig {
  ListenConfig listen;
  TlsConfig tls;
  LimitsConfig limits;
  TimeoutsConfig timeouts;
  ModelEntry model;
  EngineConfig engine;
  std::vector<ApiKeyConfig> api_keys;  // empty: no authentication
  PolicyConfig policies;
  AuditConfig audit;
  std::vector<GuardModelConfig> guard_models;
  int32_t policy_threads = 4;  // threads that run input policies with guard models (they block)
};

// Parses YAML text; `name` (the file name) prefixes error messages. Unknown keys, wrong types and
// out-of-range values are errors. Relative paths are resolved against `base_dir` when not empty.
Result<GatewayConfig> ParseGatewayConfig(std::string_view yaml, std::string_view name,
                                         std::string_view base_dir = {});
// Reads and parses a file (NotFound / InvalidArgument).
Result<GatewayConfig> LoadGatewayConfig(const std::string& path);
// Cross-field checks after flags were applied (e.g. a model is set, cert and key come together).
Status ValidateGatewayConfig(const GatewayConfig& config);

}  // namespace parapet::gateway
