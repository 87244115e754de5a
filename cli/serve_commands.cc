// `parapet serve` (the gateway) and `parapet key new` (API keys).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/logging.h"
#include "gateway/api_keys.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/signals.h"

namespace parapet::cli {
namespace {

struct ServeArgs {
  std::string config;
  std::string model, model_id, chat_template, host, tls_cert, tls_key, tls_client_ca, backend;
  std::string policy;
  std::string audit_dir, audit_keys, audit_on_failure;
  std::vector<std::string> api_key_hashes;
  std::vector<std::string> guard_models;
  int32_t port = 0, threads = 0, ctx = 0, max_seqs = 0, max_queue = 0, io_threads = 0;
  bool insecure_http = false;
};

// Flags given on the command line override the file's values.
Result<gateway::GatewayConfig> BuildConfig(const ServeArgs& a, const CLI::App& cmd) {
  gateway::GatewayConfig c;
  if (!a.config.empty()) {
    PARAPET_ASSIGN_OR_RETURN(c, gateway::LoadGatewayConfig(a.config));
  }
  auto given = [&cmd](const char* flag) { return cmd.count(flag) > 0; };
  if (given("--model")) c.model.path = a.model;
  if (given("--model-id")) c.model.id = a.model_id;
  if (given("--chat-template")) c.model.chat_template = a.chat_template;
  if (given("--host")) c.listen.host = a.host;
  if (given("--port")) c.listen.port = a.port;
  if (given("--tls-cert")) c.tls.cert_file = a.tls_cert;
  if (given("--tls-key")) c.tls.key_file = a.tls_key;
  if (given("--tls-client-ca")) c.tls.client_ca_file = a.tls_client_ca;
  if (given("--insecure-http")) c.tls.insecure_http = a.insecure_http;
  if (given("--backend")) c.engine.backend = a.backend;
  if (given("--policy")) c.policies.file = a.policy;
  if (given("--audit-dir")) c.audit.dir = a.audit_dir;
  if (given("--audit-keys")) c.audit.keys = a.audit_keys;
  if (given("--audit-on-failure")) c.audit.reject_on_failure = a.audit_on_failure == "reject";
  if (given("--threads")) c.engine.threads = a.threads;
  if (given("--ctx")) c.engine.ctx = a.ctx;
  if (given("--max-seqs")) {
    c.engine.max_sequences = a.max_seqs;
    c.engine.max_batch_tokens = std::max(c.engine.max_batch_tokens, a.max_seqs);
  }
  if (given("--max-queue")) c.engine.max_queue = a.max_queue;
  if (given("--io-threads")) c.engine.io_threads = a.io_threads;
  for (const std::string& g : a.guard_models) c.guard_models.push_back({g});
  for (size_t i = 0; i < a.api_key_hashes.size(); ++i) {
    c.api_keys.push_back(gateway::ApiKeyConfig{"--api-key-hash[" + std::to_string(i) + "]",
                                               a.api_key_hashes[i], "default"});
  }
  return c;
}

int RunServe(const ServeArgs& a, const CLI::App& cmd) {
  // Signals are caught from here on, so a SIGTERM during model load is not lost.
  gateway::SignalWatcher signals;
  Result<gateway::GatewayConfig> config = BuildConfig(a, cmd);
  if (!config.ok()) return InputError(config.status().message());
  Result<std::unique_ptr<gateway::Gateway>> started = gateway::Gateway::Start(*config);
  if (!started.ok()) return InputError(started.status().message());
  gateway::Gateway& gw = **started;
  // One line on stdout that scripts (and the tests) wait for, then how to try it.
  std::printf("parapet: serving %s on %s\n", gw.model_id().c_str(), gw.url().c_str());
  const std::string cacert =
      gw.generated_cert_file().empty() ? "" : " --cacert " + gw.generated_cert_file();
  std::printf(
      "try: curl -s%s %s/v1/chat/completions -H 'Content-Type: application/json'%s -d "
      "'{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
      "\"max_tokens\":40}'\n",
      cacert.c_str(), gw.url().c_str(),
      config->api_keys.empty() ? "" : " -H \"Authorization: Bearer $PARAPET_API_KEY\"",
      gw.model_id().c_str());
  std::fflush(stdout);
  const int sig = signals.Run([&gw] { (void)gw.Reload(); });
  PARAPET_LOG(kInfo) << "signal " << sig << ": shutting down (grace "
                     << config->timeouts.shutdown_grace_ms << " ms)";
  gw.Shutdown();
  PARAPET_LOG(kInfo) << "stopped";
  return 0;
}

int RunKeyNew(bool json) {
  Result<gateway::NewKey> k = gateway::NewApiKey();
  if (!k.ok()) return InputError(k.status().message());
  if (json) {
    std::printf("{\"key\":\"%s\",\"hash\":\"%s\"}\n", k->key.c_str(), k->hash.c_str());
  } else {
    std::printf(
        "key:  %s\nhash: %s\n\nGive the key to the client (it is shown only now); put the hash "
        "in the server's configuration:\n  api_keys:\n    - {id: my-app, tenant: my-team, "
        "hash: \"%s\"}\nor start with: parapet serve ... --api-key-hash %s\n",
        k->key.c_str(), k->hash.c_str(), k->hash.c_str(), k->hash.c_str());
  }
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, Action* run) {
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the gateway: an OpenAI-compatible HTTPS API on the built-in engine");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--config", a->config, "YAML configuration file (see gateway/CONFIG.md)");
  cmd->add_option("--model", a->model, "GGUF model to serve (overrides model.path)");
  cmd->add_option("--model-id", a->model_id, "model name clients use (default: file stem)");
  cmd->add_option("--chat-template", a->chat_template,
                  "mistral | llama2 | chatml | llama3 (default: from the model)");
  cmd->add_option("--host", a->host, "address to bind (default 127.0.0.1)");
  cmd->add_option("--port", a->port, "TCP port (default 8443; 0 = any free port)");
  cmd->add_option("--tls-cert", a->tls_cert, "PEM certificate chain");
  cmd->add_option("--tls-key", a->tls_key, "PEM private key");
  cmd->add_option("--tls-client-ca", a->tls_client_ca, "require client certificates from this CA");
  cmd->add_flag("--insecure-http", a->insecure_http, "serve plain HTTP (development only)");
  cmd->add_option("--api-key-hash", a->api_key_hashes,
                  "accept the key with this hash (sha256:<hex>, from `parapet key new`)");
  cmd->add_option("--policy", a->policy, "policy file (overrides policies.file)");
  cmd->add_option("--guard-model", a->guard_models,
                  "a guard model (GGUF) for guard_model policy stages, named by its file stem "
                  "(repeatable; adds to guard_models)");
  cmd->add_option("--audit-dir", a->audit_dir, "audit log directory (audit.dir)");
  cmd->add_option("--audit-keys", a->audit_keys,
                  "keys from `parapet audit keygen`, outside the log directory (audit.keys)");
  cmd->add_option("--audit-on-failure", a->audit_on_failure,
                  "reject (503 while the log cannot be written) | degrade")
      ->check(CLI::IsMember({"reject", "degrade"}));
  cmd->add_option("--backend", a->backend, "compute backend: cpu or cuda");
  cmd->add_option("--threads", a->threads, "compute threads (default: all)");
  cmd->add_option("--ctx", a->ctx, "largest context per request (default: the model's)");
  cmd->add_option("--max-seqs", a->max_seqs, "sequences decoded together (default 8)");
  cmd->add_option("--max-queue", a->max_queue, "requests waiting before 503 (default 64)");
  cmd->add_option("--io-threads", a->io_threads, "network threads (default 2)");
  cmd->callback([a, run, cmd] { *run = [a, cmd] { return RunServe(*a, *cmd); }; });

  CLI::App* key = app.add_subcommand("key", "API keys");
  key->require_subcommand(1);
  CLI::App* key_new = key->add_subcommand("new", "Print a new random API key and its hash");
  auto json = std::make_shared<bool>(false);
  key_new->add_flag("--json", *json, "print {\"key\":...,\"hash\":...}");
  key_new->callback([json, run] { *run = [json] { return RunKeyNew(*json); }; });
}

}  // namespace parapet::cli
