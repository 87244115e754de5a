#include "gateway/config.h"

#include <gtest/gtest.h>

#include <string>

namespace parapet::gateway {
namespace {

const char* kHash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

std::string Error(std::string_view yaml) {
  Result<GatewayConfig> c = ParseGatewayConfig(yaml, "p.yaml");
  return c.ok() ? "OK" : c.status().message();
}

TEST(GatewayConfig, ParsesEverySection) {
  const std::string yaml = std::string(R"(
version: 1
listen: {host: 0.0.0.0, port: 9443}
tls: {cert: certs/c.pem, key: /abs/k.pem, client_ca: ca.pem, hsts_max_age_s: 600}
limits: {max_header_bytes: 8192, max_body_bytes: 65536, max_connections: 10,
         stream_buffer_bytes: 8192}
timeouts: {handshake_ms: 1, header_ms: 2, body_ms: 3, idle_ms: 4, request_ms: 5,
           sse_keepalive_ms: 600, shutdown_grace_ms: 7}
model: {path: m.gguf, id: demo, chat_template: llama2}
engine: {threads: 2, ctx: 128, max_sequences: 4, max_batch_tokens: 64, kv_pool_tokens: 512,
         max_queue: 3, default_max_tokens: 50, io_threads: 1}
api_keys:
  - id: ci
    hash: )") + kHash + R"(
    tenant: acme
    requests_per_second: 2.5
    burst: 5
    tokens_per_minute: 1000
)";
  Result<GatewayConfig> r = ParseGatewayConfig(yaml, "p.yaml", "/etc/parapet");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GatewayConfig& c = *r;
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 9443);
  EXPECT_EQ(c.tls.cert_file, "/etc/parapet/certs/c.pem");
  EXPECT_EQ(c.tls.key_file, "/abs/k.pem");
  EXPECT_EQ(c.tls.client_ca_file, "/etc/parapet/ca.pem");
  EXPECT_EQ(c.tls.hsts_max_age_s, 600);
  EXPECT_EQ(c.limits.max_body_bytes, 65536);
  EXPECT_EQ(c.timeouts.sse_keepalive_ms, 600);
  EXPECT_EQ(c.timeouts.shutdown_grace_ms, 7);
  EXPECT_EQ(c.model.path, "/etc/parapet/m.gguf");
  EXPECT_EQ(c.model.id, "demo");
  EXPECT_EQ(c.engine.max_sequences, 4);
  EXPECT_EQ(c.engine.kv_pool_tokens, 512);
  ASSERT_EQ(c.api_keys.size(), 1u);
  EXPECT_EQ(c.api_keys[0].tenant, "acme");
  EXPECT_DOUBLE_EQ(c.api_keys[0].requests_per_second, 2.5);
  EXPECT_EQ(c.api_keys[0].tokens_per_minute, 1000);
  EXPECT_TRUE(ValidateGatewayConfig(c).ok());
}

TEST(GatewayConfig, EmptyFileIsAllDefaults) {
  Result<GatewayConfig> c = ParseGatewayConfig("", "p.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen.port, 8443);
  EXPECT_EQ(c->engine.max_sequences, 8);
  // ...but a server needs a model.
  EXPECT_NE(ValidateGatewayConfig(*c).message().find("no model"), std::string::npos);
}

TEST(GatewayConfig, ErrorsNameFileLineAndField) {
  EXPECT_EQ(Error("listen:\n  hots: x\n"), "p.yaml:2:3: listen.hots: unknown key");
  EXPECT_EQ(Error("engine:\n  max_sequences: many\n"),
            "p.yaml:2:18: engine.max_sequences: must be an integer");
  EXPECT_EQ(Error("engine:\n  max_sequences: 0\n"),
            "p.yaml:2:18: engine.max_sequences: must be in [1, 4096], got 0");
  EXPECT_EQ(Error("listen: {port: 70000}"),
            "p.yaml:1:16: listen.port: must be in [0, 65535], got 70000");
  EXPECT_EQ(Error("tls: {insecure_http: maybe}"),
            "p.yaml:1:22: tls.insecure_http: must be true or false");
  EXPECT_EQ(Error("version: 2"), "p.yaml:1:10: version: must be in [1, 1], got 2");
  EXPECT_EQ(Error("polices: {}"), "p.yaml:1:1: polices: unknown key");
  EXPECT_EQ(Error("- a\n- b\n"), "p.yaml:1:1: the document: must be a mapping");
  EXPECT_EQ(Error("engine: [1]"), "p.yaml:1:9: engine: must be a mapping");
  EXPECT_EQ(Error("api_keys: {a: 1}"), "p.yaml:1:11: api_keys: must be a list");
  EXPECT_EQ(Error("engine: {max_sequences: 8, max_batch_tokens: 4}"),
            "p.yaml:1:46: engine.max_batch_tokens: must be >= max_sequences");
  EXPECT_NE(Error("listen: {host: [}").find("p.yaml:1:"), std::string::npos);  // syntax
}

TEST(GatewayConfig, GuardModels) {
  Result<GatewayConfig> c = ParseGatewayConfig(
      "guard_models:\n  - {path: guards/lg3.gguf, id: llama-guard-3, max_sequences: 2,\n"
      "     max_batch_tokens: 128, kv_reserve_tokens: 2048, reuse_prefix: false,\n"
      "     cached_checks: 0}\n"
      "  - {path: /abs/lg2.gguf}\npolicy_threads: 8\n",
      "p.yaml", "/etc/parapet");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->guard_models.size(), 2u);
  EXPECT_EQ(c->guard_models[0].path, "/etc/parapet/guards/lg3.gguf");
  EXPECT_EQ(c->guard_models[0].id, "llama-guard-3");
  EXPECT_EQ(c->guard_models[0].max_sequences, 2);
  EXPECT_EQ(c->guard_models[1].path, "/abs/lg2.gguf");
  EXPECT_EQ(c->guard_models[1].ctx, 4096);
  EXPECT_EQ(c->guard_models[0].max_batch_tokens, 128);
  EXPECT_EQ(c->guard_models[0].kv_reserve_tokens, 2048);
  EXPECT_EQ(c->guard_models[1].max_batch_tokens, 512);
  EXPECT_EQ(c->guard_models[1].kv_reserve_tokens, 0);
  EXPECT_FALSE(c->guard_models[0].reuse_prefix);
  EXPECT_TRUE(c->guard_models[1].reuse_prefix);
  EXPECT_EQ(c->guard_models[0].cached_checks, 0);
  EXPECT_EQ(c->guard_models[1].cached_checks, 4);
  EXPECT_EQ(c->policy_threads, 8);
  EXPECT_EQ(Error("guard_models:\n  - {id: g}\n"),
            "p.yaml:2:5: guard_models[0].path: a guard model needs a GGUF file");
  EXPECT_EQ(Error("guard_models:\n  - {path: g.gguf, ctx: 8}\n"),
            "p.yaml:2:25: guard_models[0].ctx: must be in [64, 1048576], got 8");
  EXPECT_EQ(Error("guard_models:\n  - {path: g.gguf, max_sequences: 8, max_batch_tokens: 4}\n"),
            "p.yaml:2:56: guard_models[0].max_batch_tokens: must be >= max_sequences");
  EXPECT_EQ(Error("guard_models:\n  - {path: g.gguf, cached_checks: 2000}\n"),
            "p.yaml:2:35: guard_models[0].cached_checks: must be in [0, 1024], got 2000");
  EXPECT_EQ(Error("guard_models:\n  - {path: g.gguf, kv_reserve_tokens: -1}\n"),
            "p.yaml:2:39: guard_models[0].kv_reserve_tokens: must be in [0, 4294967296], got -1");
  EXPECT_EQ(Error("policy_threads: 0"), "p.yaml:1:17: policy_threads: must be in [1, 256], got 0");
}

TEST(GatewayConfig, ApiKeysAreChecked) {
  EXPECT_EQ(Error("api_keys:\n  - {tenant: a}\n"),
            "p.yaml:2:5: api_keys[0].hash: is required (\"sha256:<hex>\", see `parapet key new`)");
  EXPECT_EQ(
      Error("api_keys:\n  - {tenant: a, hash: sha256:abc}\n"),
      "p.yaml:2:23: api_keys[0].hash: must be \"sha256:\" followed by 64 lowercase hex digits");
  EXPECT_EQ(Error(std::string("api_keys:\n  - {hash: ") + kHash + "}\n"),
            "p.yaml:2:5: api_keys[0].tenant: is required");
  EXPECT_EQ(Error(std::string("api_keys:\n  - {hash: ") + kHash + ", tenant: a, color: red}\n"),
            "p.yaml:2:96: api_keys[0].color: unknown key");
  Result<GatewayConfig> twice =
      ParseGatewayConfig(std::string("model: {path: m}\napi_keys:\n  - {id: a, hash: ") + kHash +
                             ", tenant: a}\n  - {id: b, hash: " + kHash + ", tenant: b}\n",
                         "p.yaml");
  ASSERT_TRUE(twice.ok());
  EXPECT_NE(ValidateGatewayConfig(*twice).message().find("appears twice"), std::string::npos);
}

TEST(GatewayConfig, CrossFieldChecks) {
  GatewayConfig c;
  c.model.path = "m.gguf";
  c.tls.cert_file = "c.pem";
  EXPECT_FALSE(ValidateGatewayConfig(c).ok());
  c.tls.key_file = "k.pem";
  EXPECT_TRUE(ValidateGatewayConfig(c).ok());
  c.tls.insecure_http = true;
  EXPECT_FALSE(ValidateGatewayConfig(c).ok());
}

TEST(GatewayConfig, MissingFileIsNotFound) {
  Result<GatewayConfig> c = LoadGatewayConfig("/nonexistent/parapet.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace parapet::gateway
