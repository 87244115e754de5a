// GatewayConfig from YAML (through common/yaml_reader.h: no exception leaves it).
#include "gateway/config.h"

#include "common/yaml_reader.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace parapet::gateway {
namespace {

constexpr int64_t kMaxMs = 24LL * 3600 * 1000;

Status ReadTls(YamlMapReader& r, TlsConfig& t) {
  PARAPET_RETURN_IF_ERROR(r.Get("cert", t.cert_file));
  PARAPET_RETURN_IF_ERROR(r.Get("key", t.key_file));
  PARAPET_RETURN_IF_ERROR(r.Get("client_ca", t.client_ca_file));
  PARAPET_RETURN_IF_ERROR(r.Get("insecure_http", t.insecure_http));
  return r.GetInRange<int64_t>("hsts_max_age_s", t.hsts_max_age_s, 0, 2LL * 365 * 86400);
}

Status ReadLimits(YamlMapReader& r, LimitsConfig& l) {
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_header_bytes", l.max_header_bytes, 1024, 1 << 20));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_body_bytes", l.max_body_bytes, 1024, 1LL << 30));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("max_connections", l.max_connections, 1, 1000000));
  return r.GetInRange<int64_t>("stream_buffer_bytes", l.stream_buffer_bytes, 4096, 1LL << 30);
}

Status ReadTimeouts(YamlMapReader& r, TimeoutsConfig& t) {
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("handshake_ms", t.handshake_ms, 1, kMaxMs));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("header_ms", t.header_ms, 1, kMaxMs));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("body_ms", t.body_ms, 1, kMaxMs));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("idle_ms", t.idle_ms, 1, kMaxMs));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("request_ms", t.request_ms, 1, kMaxMs));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("sse_keepalive_ms", t.sse_keepalive_ms, 100, kMaxMs));
  return r.GetInRange<int64_t>("shutdown_grace_ms", t.shutdown_grace_ms, 0, kMaxMs);
}

Status ReadEngine(YamlMapReader& r, EngineConfig& e) {
  PARAPET_RETURN_IF_ERROR(r.Get("backend", e.backend));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("threads", e.threads, 0, 1024));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("ctx", e.ctx, 0, 1 << 24));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("max_sequences", e.max_sequences, 1, 4096));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int32_t>("max_batch_tokens", e.max_batch_tokens, 1, 1 << 20));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("kv_pool_tokens", e.kv_pool_tokens, 0, 1LL << 32));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("max_queue", e.max_queue, 1, 1 << 20));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int32_t>("default_max_tokens", e.default_max_tokens, 1, 1 << 24));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("io_threads", e.io_threads, 1, 256));
  if (e.max_batch_tokens < e.max_sequences) {
    return r.Fail("max_batch_tokens", "must be >= max_sequences");
  }
  return Status::Ok();
}

Status ReadApiKey(YamlMapReader& r, ApiKeyConfig& k) {
  PARAPET_RETURN_IF_ERROR(r.Get("id", k.id));
  PARAPET_RETURN_IF_ERROR(r.Get("hash", k.hash));
  PARAPET_RETURN_IF_ERROR(r.Get("tenant", k.tenant));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<double>("requests_per_second", k.requests_per_second, 0, 1e6));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("burst", k.burst, 0, 1000000));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("tokens_per_minute", k.tokens_per_minute, 0, 1LL << 40));
  if (k.hash.empty())
    return r.Fail("hash", "is required (\"sha256:<hex>\", see `parapet key new`)");
  if (k.hash.size() != 7 + 64 || k.hash.rfind("sha256:", 0) != 0 ||
      k.hash.find_first_not_of("0123456789abcdef", 7) != std::string::npos) {
    return r.Fail("hash", "must be \"sha256:\" followed by 64 lowercase hex digits");
  }
  if (k.tenant.empty()) return r.Fail("tenant", "is required");
  return Status::Ok();
}

std::string Resolve(std::string_view base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

Status ReadDocument(const YAML::Node& root, std::string_view name, GatewayConfig& c) {
  YamlMapReader r(root, "", name);
  PARAPET_RETURN_IF_ERROR(r.CheckIsMap());
  int32_t version = 1;
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("version", version, 1, 1));
  PARAPET_RETURN_IF_ERROR(r.Section("listen", [&](YamlMapReader& s) -> Status {
    PARAPET_RETURN_IF_ERROR(s.Get("host", c.listen.host));
    return s.GetInRange<int32_t>("port", c.listen.port, 0, 65535);
  }));
  PARAPET_RETURN_IF_ERROR(r.Section("tls", [&](YamlMapReader& s) { return ReadTls(s, c.tls); }));
  PARAPET_RETURN_IF_ERROR(
      r.Section("limits", [&](YamlMapReader& s) { return ReadLimits(s, c.limits); }));
  PARAPET_RETURN_IF_ERROR(
      r.Section("timeouts", [&](YamlMapReader& s) { return ReadTimeouts(s, c.timeouts); }));
  PARAPET_RETURN_IF_ERROR(r.Section("model", [&](YamlMapReader& s) -> Status {
    PARAPET_RETURN_IF_ERROR(s.Get("path", c.model.path));
    PARAPET_RETURN_IF_ERROR(s.Get("id", c.model.id));
    return s.Get("chat_template", c.model.chat_template);
  }));
  PARAPET_RETURN_IF_ERROR(
      r.Section("engine", [&](YamlMapReader& s) { return ReadEngine(s, c.engine); }));
  PARAPET_RETURN_IF_ERROR(r.Section("policies", [&](YamlMapReader& s) -> Status {
    PARAPET_RETURN_IF_ERROR(s.Get("file", c.policies.file));
    PARAPET_RETURN_IF_ERROR(s.Get("watch", c.policies.watch));
    return s.GetInRange<int64_t>("watch_interval_ms", c.policies.watch_interval_ms, 100, kMaxMs);
  }));
  PARAPET_RETURN_IF_ERROR(r.Section("audit", [&](YamlMapReader& s) -> Status {
    AuditConfig& a = c.audit;
    PARAPET_RETURN_IF_ERROR(s.Get("dir", a.dir));
    PARAPET_RETURN_IF_ERROR(s.Get("keys", a.keys));
    std::string on_failure = "reject";
    PARAPET_RETURN_IF_ERROR(s.Get("on_failure", on_failure));
    if (on_failure != "reject" && on_failure != "degrade") {
      return s.Fail("on_failure", "must be reject or degrade");
    }
    a.reject_on_failure = on_failure == "reject";
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("checkpoint_records", a.checkpoint_records, 1, 100000000));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("checkpoint_seconds", a.checkpoint_seconds, 1, 86400 * 7));
    PARAPET_RETURN_IF_ERROR(s.Get("checkpoint_sink", a.checkpoint_sink));
    PARAPET_RETURN_IF_ERROR(s.Get("content_dir", a.content_dir));
    if (!a.checkpoint_sink.empty() && !a.checkpoint_sink.starts_with("dir:") &&
        !a.checkpoint_sink.starts_with("command:") && a.checkpoint_sink != "syslog") {
      return s.Fail("checkpoint_sink", "must be dir:PATH, command:CMD or syslog");
    }
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("rotate_bytes", a.rotate_bytes, 4096, int64_t{1} << 40));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("rotate_seconds", a.rotate_seconds, 1, 86400 * 366));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("min_free_bytes", a.min_free_bytes, 0, int64_t{1} << 50));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("warn_free_bytes", a.warn_free_bytes, 0, int64_t{1} << 50));
    return s.GetInRange<int64_t>("group_commit_wait_us", a.group_commit_wait_us, 0, 1000000);
  }));
  PARAPET_RETURN_IF_ERROR(r.List("api_keys", [&](YamlMapReader& s) {
    c.api_keys.emplace_back();
    return ReadApiKey(s, c.api_keys.back());
  }));
  PARAPET_RETURN_IF_ERROR(r.List("guard_models", [&](YamlMapReader& s) -> Status {
    GuardModelConfig& g = c.guard_models.emplace_back();
    PARAPET_RETURN_IF_ERROR(s.Get("path", g.path));
    if (g.path.empty()) return s.Fail("path", "a guard model needs a GGUF file");
    PARAPET_RETURN_IF_ERROR(s.Get("id", g.id));
    PARAPET_RETURN_IF_ERROR(s.GetInRange<int32_t>("ctx", g.ctx, 64, 1 << 20));
    PARAPET_RETURN_IF_ERROR(s.GetInRange<int32_t>("max_sequences", g.max_sequences, 1, 256));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int32_t>("max_batch_tokens", g.max_batch_tokens, 1, 1 << 16));
    if (g.max_batch_tokens < g.max_sequences) {
      return s.Fail("max_batch_tokens", "must be >= max_sequences");
    }
    PARAPET_RETURN_IF_ERROR(s.GetInRange<int32_t>("max_queue", g.max_queue, 1, 100000));
    PARAPET_RETURN_IF_ERROR(
        s.GetInRange<int64_t>("kv_reserve_tokens", g.kv_reserve_tokens, 0, 1LL << 32));
    PARAPET_RETURN_IF_ERROR(s.Get("reuse_prefix", g.reuse_prefix));
    return s.GetInRange<int32_t>("cached_checks", g.cached_checks, 0, 1024);
  }));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("policy_threads", c.policy_threads, 1, 256));
  return r.Finish();
}

}  // namespace

Result<GatewayConfig> ParseGatewayConfig(std::string_view yaml, std::string_view name,
                                         std::string_view base_dir) {
  GatewayConfig c;
  PARAPET_ASSIGN_OR_RETURN(const YAML::Node root, LoadYaml(yaml, name));
  if (root.IsNull()) return c;  // an empty file: every default
  PARAPET_RETURN_IF_ERROR(GuardYaml(name, [&] { return ReadDocument(root, name, c); }));
  c.tls.cert_file = Resolve(base_dir, c.tls.cert_file);
  c.tls.key_file = Resolve(base_dir, c.tls.key_file);
  c.tls.client_ca_file = Resolve(base_dir, c.tls.client_ca_file);
  c.model.path = Resolve(base_dir, c.model.path);
  for (GuardModelConfig& g : c.guard_models) g.path = Resolve(base_dir, g.path);
  c.policies.file = Resolve(base_dir, c.policies.file);
  c.audit.dir = Resolve(base_dir, c.audit.dir);
  c.audit.keys = Resolve(base_dir, c.audit.keys);
  c.audit.content_dir = Resolve(base_dir, c.audit.content_dir);
  return c;
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgumentError(path + ": read failed");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseGatewayConfig(text.str(), path, dir.empty() ? "." : dir);
}

Status ValidateGatewayConfig(const GatewayConfig& c) {
  if (c.model.path.empty()) return InvalidArgumentError("no model: set model.path or --model");
  if (c.listen.port < 0 || c.listen.port > 65535) {
    return InvalidArgumentError("listen.port (--port) must be in [0, 65535], got " +
                                std::to_string(c.listen.port));
  }
  if (c.engine.max_sequences < 1) {
    return InvalidArgumentError("engine.max_sequences (--max-seqs) must be >= 1");
  }
  if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
    return InvalidArgumentError("tls: cert and key must be given together");
  }
  if (c.tls.insecure_http && !c.tls.cert_file.empty()) {
    return InvalidArgumentError("tls: insecure_http and a certificate exclude each other");
  }
  if (c.tls.insecure_http && !c.tls.client_ca_file.empty()) {
    return InvalidArgumentError("tls: client_ca needs TLS (insecure_http is set)");
  }
  if (!c.audit.dir.empty() && c.audit.keys.empty()) {
    return InvalidArgumentError(
        "audit: a log directory needs keys (audit.keys / --audit-keys; make them with "
        "`parapet audit keygen --out DIR`)");
  }
  if (!c.audit.dir.empty()) {
    const std::filesystem::path dir = std::filesystem::weakly_canonical(c.audit.dir);
    const std::filesystem::path keys = std::filesystem::weakly_canonical(c.audit.keys);
    if (keys == dir || keys.string().starts_with(dir.string() + "/")) {
      return InvalidArgumentError("audit: the keys must be kept outside the log directory");
    }
    if (!c.audit.content_dir.empty() &&
        std::filesystem::weakly_canonical(c.audit.content_dir) == dir) {
      return InvalidArgumentError("audit: content_dir must be a directory apart from the log");
    }
  }
  std::set<std::string> hashes;
  for (const ApiKeyConfig& k : c.api_keys) {
    if (!hashes.insert(k.hash).second) {
      return InvalidArgumentError("api_keys: the hash of key '" + k.id + "' appears twice");
    }
  }
  return Status::Ok();
}

}  // namespace parapet::gateway
