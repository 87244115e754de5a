// End-to-end tests of `parapet serve`: the real binary on a loopback port, real TLS handshakes,
// real clients (the official `openai` npm package, openssl s_client, raw HTTP/1.1).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/engine/test_data_util.h"
#include "tests/gateway/http_client_util.h"
#include "tests/integration/gateway_process_util.h"

namespace parapet::gateway::testing {
namespace {

const std::string kDemoModel = std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf";

std::string Request(std::string_view method, std::string_view path, std::string_view body,
                    std::string_view extra_headers = "") {
  std::string r = std::string(method) + " " + std::string(path) +
                  " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                  std::string(extra_headers);
  if (method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + std::string(body);
}

// SSE "data:" payloads of a streamed body, in order.
std::vector<std::string> SseData(const TestResponse& r) {
  std::string all;
  for (const std::string& c : r.chunks) all += c;
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = all.find("data: ", pos)) != std::string::npos) {
    const size_t end = all.find("\n\n", pos);
    out.push_back(all.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

// The generated text of a streamed completion (text_completion chunks).
std::string StreamedText(const TestResponse& r) {
  std::string text;
  for (const std::string& d : SseData(r)) {
    if (d == "[DONE]") break;
    boost::json::value v = boost::json::parse(d);
    const boost::json::array& choices = v.at("choices").as_array();
    if (!choices.empty()) text += choices[0].at("text").as_string().c_str();
  }
  return text;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // writes to a connection the server closed must not kill the test
    dir_ = MakeTempDir();
    ASSERT_TRUE(WriteCert(dir_, "server", -1, 30));
    tls_.ca_file = dir_ + "/server.crt";
  }

  void StartServer(std::vector<std::string> args) {
    args.insert(args.end(), {"--port", "0", "--tls-cert", dir_ + "/server.crt", "--tls-key",
                             dir_ + "/server.key"});
    std::string error;
    server_ = GatewayProcess::Start(args, &error);
    ASSERT_NE(server_, nullptr) << error;
  }

  void TearDown() override {
    // A sanitizer build of the server reports into its log; any report fails the test.
    if (server_ != nullptr && server_->log().find("Sanitizer") != std::string::npos) {
      ADD_FAILURE() << "sanitizer report in the server log:\n" << server_->log();
    }
  }

  std::unique_ptr<TestClient> Connect() {
    std::string error;
    auto c = TestClient::ConnectTls(server_->port(), tls_, &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }

  // One request on a fresh connection; the whole response (chunked bodies included).
  TestResponse Send(const std::string& raw, int timeout_ms = 30000) {
    auto c = Connect();
    if (c == nullptr) return {};
    // Sending may fail part-way when the server answers early and closes (431, 413).
    (void)c->Send(raw);
    std::optional<TestResponse> r = c->ReadResponse(timeout_ms);
    EXPECT_TRUE(r.has_value()) << "no response to " << raw.substr(0, 80);
    return r.value_or(TestResponse{});
  }

  std::map<std::string, double> Metrics() {
    return ParseMetrics(Send(Request("GET", "/metrics", "")).body);
  }

  // A request's counters are updated just after its last byte is sent (or, for a cancel, after
  // the engine counts it): poll until `name` reaches `at_least`, for up to five seconds.
  std::map<std::string, double> MetricsOnceAtLeast(const std::string& name, double at_least) {
    std::map<std::string, double> m;
    for (int i = 0; i < 100; ++i) {
      m = Metrics();
      if (m[name] >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m;
  }

  std::string dir_;
  TlsClientOptions tls_;
  std::unique_ptr<GatewayProcess> server_;
};

// ---- the official OpenAI client ----

TEST_F(GatewayTest, OfficialOpenAiClientWithAndWithoutApiKey) {
  const std::string node_dir = std::string(PARAPET_SOURCE_DIR) + "/tests/integration";
  std::string out;
  if (RunCommand("node --version", &out) != 0 ||
      RunCommand("test -d " + node_dir + "/node_modules/openai", &out) != 0) {
    GTEST_SKIP() << "node or the openai npm package is missing: run scripts/setup.sh (it runs "
                    "npm ci in tests/integration)";
  }
  ASSERT_EQ(RunCommand(ParapetBinary() + " key new --json", &out), 0) << out;
  boost::json::value key = boost::json::parse(out);
  const std::string secret = key.at("key").as_string().c_str();
  const std::string hash = key.at("hash").as_string().c_str();

  for (bool with_key : {true, false}) {
    SCOPED_TRACE(with_key ? "with an API key" : "without API keys");
    std::vector<std::string> args = {"--model", kDemoModel, "--chat-template", "llama2"};
    if (with_key) args.insert(args.end(), {"--api-key-hash", hash});
    StartServer(args);
    const std::string cmd = "NODE_EXTRA_CA_CERTS=" + tls_.ca_file + " node " + node_dir +
                            "/openai_client.mjs " + server_->url() + " stories260K " +
                            (with_key ? secret : "unused") + (with_key ? " --expect-auth" : "");
    const int rc = RunCommand(cmd, &out);
    EXPECT_EQ(rc, 0) << out << "\nserver log:\n" << server_->log();
    EXPECT_NE(out.find("all ok"), std::string::npos) << out;
    EXPECT_EQ(server_->Stop(), 0);
  }
}

// ---- TLS ----

TEST_F(GatewayTest, TlsVersionsAndCertificateReload) {
  StartServer({"--model", kDemoModel});
  std::string out;
  const std::string s_client =
      "echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(server_->port()) +
      " -servername localhost ";
  EXPECT_NE(RunCommand(s_client + "-tls1_1", &out), 0) << "TLS 1.1 was accepted:\n" << out;
  EXPECT_EQ(RunCommand(s_client + "-tls1_3", &out), 0) << out;
  EXPECT_NE(out.find("TLSv1.3"), std::string::npos) << out;

  auto fingerprint = [&] {
    TlsClientOptions no_verify = tls_;
    no_verify.ca_file.clear();
    auto c = TestClient::ConnectTls(server_->port(), no_verify);
    return c == nullptr ? std::string() : c->PeerFingerprint();
  };
  const std::string original = fingerprint();
  ASSERT_FALSE(original.empty());
  auto replace_with = [&](const std::string& name, bool key_too) {
    std::filesystem::copy_file(dir_ + "/" + name + ".crt", dir_ + "/server.crt",
                               std::filesystem::copy_options::overwrite_existing);
    if (key_too) {
      std::filesystem::copy_file(dir_ + "/" + name + ".key", dir_ + "/server.key",
                                 std::filesystem::copy_options::overwrite_existing);
    }
    server_->Signal(SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  std::filesystem::copy_file(dir_ + "/server.key", dir_ + "/original.key");
  std::filesystem::copy_file(dir_ + "/server.crt", dir_ + "/original.crt");
  ASSERT_TRUE(WriteCert(dir_, "expired", -10, -1));
  ASSERT_TRUE(WriteCert(dir_, "other", -1, 30));
  replace_with("expired", true);
  EXPECT_EQ(fingerprint(), original) << "an expired certificate was taken";
  replace_with("other", false);  // the new certificate with the old key: mismatched
  EXPECT_EQ(fingerprint(), original) << "a certificate not matching its key was taken";
  EXPECT_NE(server_->log().find("TLS reload failed"), std::string::npos) << server_->log();
  replace_with("other", true);
  EXPECT_NE(fingerprint(), original) << "a good certificate was not taken";
  EXPECT_EQ(Send(Request("GET", "/healthz", "")).status, 200);  // verified against the new one
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// ---- batching, cancellation ----

std::string CompletionBody(std::string_view prompt, int max_tokens, bool stream) {
  return std::string(R"({"model":"peaky-moe-Q8_0","prompt":")") + std::string(prompt) +
         R"(","max_tokens":)" + std::to_string(max_tokens) + R"(,"temperature":0,"stream":)" +
         (stream ? "true" : "false") + "}";
}

TEST_F(GatewayTest, SixteenConcurrentGreedyStreamsEqualSequentialRuns) {
  PARAPET_REQUIRE_FIXTURE(model, "peaky-moe-Q8_0.gguf");
  StartServer({"--model", model, "--max-seqs", "16", "--threads", "2"});
  constexpr int kStreams = 16;
  std::vector<std::string> prompts;
  for (int i = 0; i < kStreams; ++i) {
    prompts.push_back("story number " + std::to_string(i * 7 + 3) + " begins");
  }
  auto run = [&](int i) {
    return StreamedText(
        Send(Request("POST", "/v1/completions", CompletionBody(prompts[i], 48, true))));
  };
  std::vector<std::string> sequential(kStreams), concurrent(kStreams);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kStreams; ++i) sequential[i] = run(i);
  const auto t1 = std::chrono::steady_clock::now();
  const std::map<std::string, double> before = Metrics();
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) threads.emplace_back([&, i] { concurrent[i] = run(i); });
  for (std::thread& t : threads) t.join();
  const auto t2 = std::chrono::steady_clock::now();
  const std::map<std::string, double> after = Metrics();
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_FALSE(sequential[i].empty()) << i;
    EXPECT_EQ(concurrent[i], sequential[i]) << "stream " << i << " depends on its batch";
  }
  // Batched: far fewer forward passes than tokens generated.
  const double passes =
      after.at("parapet_engine_forward_passes") - before.at("parapet_engine_forward_passes");
  const double tokens =
      after.at("parapet_engine_tokens_generated") - before.at("parapet_engine_tokens_generated");
  EXPECT_LT(passes * 4, tokens) << passes << " passes for " << tokens << " tokens";
  const double seq_s = std::chrono::duration<double>(t1 - t0).count();
  const double con_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf(
      "16 streams x 48 tokens: sequential %.2f s, concurrent %.2f s (%.2fx); %.0f passes "
      "for %.0f tokens\n",
      seq_s, con_s, seq_s / con_s, passes, tokens);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(GatewayTest, ClientDisconnectStopsGenerationWithinOneStep) {
  PARAPET_REQUIRE_FIXTURE(model, "peaky-moe-Q8_0.gguf");
  StartServer({"--model", model, "--threads", "1"});
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(
      c->Send(Request("POST", "/v1/completions", CompletionBody("hello world", 480, true))));
  ASSERT_TRUE(c->ReadHead().has_value());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(c->ReadChunk().has_value());
  c->Close(/*reset=*/true);
  // The engine counts the cancel before the request's completion counts the reason.
  MetricsOnceAtLeast("parapet_engine_cancelled_sequences", 1);
  std::map<std::string, double> m =
      MetricsOnceAtLeast("parapet_generations_cancelled_total{reason=\"client_gone\"}", 1);
  EXPECT_EQ(m["parapet_engine_cancelled_sequences"], 1);
  EXPECT_LE(m["parapet_engine_cancel_passes_max"], 1) << "generation ran on after the cancel";
  EXPECT_EQ(m["parapet_generations_cancelled_total{reason=\"client_gone\"}"], 1);
  EXPECT_LT(m["parapet_engine_tokens_generated"], 480);
  EXPECT_EQ(m["parapet_engine_kv_tokens_in_use"], 0);
  EXPECT_EQ(m["parapet_engine_active_sequences"], 0);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(GatewayTest, FullQueueGets503WhileQueuedStreamsGetKeepalives) {
  PARAPET_REQUIRE_FIXTURE(model, "peaky-moe-Q8_0.gguf");
  std::ofstream(dir_ + "/p.yaml") << "timeouts: {sse_keepalive_ms: 100}\n";
  StartServer({"--config", dir_ + "/p.yaml", "--model", model, "--threads", "1", "--max-seqs", "1",
               "--max-queue", "1"});
  auto running = Connect();
  ASSERT_TRUE(running->Send(Request("POST", "/v1/completions", CompletionBody("a", 480, true))));
  ASSERT_TRUE(running->ReadHead().has_value());
  ASSERT_TRUE(running->ReadChunk().has_value());
  auto queued = Connect();
  ASSERT_TRUE(queued->Send(Request("POST", "/v1/completions", CompletionBody("b", 8, true))));
  ASSERT_TRUE(queued->ReadHead().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const TestResponse refused =
      Send(Request("POST", "/v1/completions", CompletionBody("c", 8, false)));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_NE(refused.body.find("\"type\":\"server_error\""), std::string::npos) << refused.body;
  // The queued stream hears keepalive comments, then its tokens once the first one finishes.
  std::string queued_body;
  for (int i = 0; i < 200; ++i) {
    std::optional<std::string> chunk = queued->ReadChunk(5000);
    if (!chunk || chunk->empty()) break;
    queued_body += *chunk;
  }
  EXPECT_NE(queued_body.find(": keepalive\n\n"), std::string::npos) << queued_body;
  EXPECT_NE(queued_body.find("data: [DONE]"), std::string::npos) << queued_body;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(GatewayTest, DeadlineCancelsAndRateLimitsAnswer429) {
  PARAPET_REQUIRE_FIXTURE(model, "peaky-moe-Q8_0.gguf");
  std::string out;
  ASSERT_EQ(RunCommand(ParapetBinary() + " key new --json", &out), 0);
  boost::json::value key = boost::json::parse(out);
  const std::string secret = key.at("key").as_string().c_str();
  std::ofstream(dir_ + "/p.yaml") << "timeouts: {request_ms: 150}\napi_keys:\n  - {id: t, tenant: "
                                     "acme, requests_per_second: 0.5, burst: 2, hash: \""
                                  << key.at("hash").as_string().c_str() << "\"}\n";
  StartServer({"--config", dir_ + "/p.yaml", "--model", model, "--threads", "1"});
  const std::string auth = "Authorization: Bearer " + secret + "\r\n";
  const TestResponse slow =
      Send(Request("POST", "/v1/completions", CompletionBody("x", 480, false), auth));
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_NE(slow.body.find("request_timeout"), std::string::npos) << slow.body;
  const TestResponse quick =
      Send(Request("POST", "/v1/completions", CompletionBody("x", 2, false), auth));
  EXPECT_EQ(quick.status, 200) << quick.body;
  const TestResponse limited =
      Send(Request("POST", "/v1/completions", CompletionBody("x", 2, false), auth));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(Send(Request("POST", "/v1/completions", CompletionBody("x", 2, false))).status, 401);
  const std::map<std::string, double> m =
      MetricsOnceAtLeast("parapet_generations_cancelled_total{reason=\"deadline\"}", 1);
  EXPECT_EQ(m.at("parapet_generations_cancelled_total{reason=\"deadline\"}"), 1);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// ---- bad input ----

TEST_F(GatewayTest, BadRequestsGetTheRight4xxAndTheServerStaysHealthy) {
  std::ofstream(dir_ + "/p.yaml")
      << "timeouts: {header_ms: 500}\nlimits: {max_body_bytes: 65536}\n";
  StartServer({"--config", dir_ + "/p.yaml", "--model", kDemoModel, "--chat-template", "llama2"});
  const std::string chat = "/v1/chat/completions";
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  struct Case {
    std::string name;
    std::string raw;
    int status;
    std::string in_body;
  };
  const std::vector<Case> cases = {
      {"malformed JSON", Request("POST", chat, R"({"model":"stories260K",)"), 400, "invalid_json"},
      {"invalid UTF-8",
       Request("POST", chat,
               "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"\xff\xfe\"}]}"),
       400, "invalid_json"},
      {"duplicate key", Request("POST", chat, R"({"model":"a","model":"b",)" + msgs + "}"), 400,
       "invalid_json"},
      {"100 KB header",
       Request("GET", "/healthz", "", "X-Big: " + std::string(100 * 1024, 'a') + "\r\n"), 431, ""},
      {"oversized body",
       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413,
       ""},
      {"n=2", Request("POST", chat, R"({"model":"stories260K","n":2,)" + msgs + "}"), 400,
       "\"param\":\"n\""},
      {"unknown model", Request("POST", chat, R"({"model":"gpt-4",)" + msgs + "}"), 404,
       "model_not_found"},
      {"negative max_tokens",
       Request("POST", chat, R"({"model":"stories260K","max_tokens":-5,)" + msgs + "}"), 400,
       "\"param\":\"max_tokens\""},
      {"context exceeded",
       Request("POST", chat, R"({"model":"stories260K","max_tokens":100000,)" + msgs + "}"), 400,
       "context_length_exceeded"},
      {"unknown parameter",
       Request("POST", chat, R"({"model":"stories260K","frobnicate":1,)" + msgs + "}"), 400,
       "\"param\":\"frobnicate\""},
      {"tools", Request("POST", chat, R"({"model":"stories260K","tools":[{}],)" + msgs + "}"), 400,
       "\"param\":\"tools\""},
      {"bad token id",
       Request("POST", "/v1/completions", R"({"model":"stories260K","prompt":[1,99999]})"), 400,
       "\"param\":\"prompt\""},
      {"wrong method", Request("GET", chat, ""), 405, ""},
      {"unknown route", Request("GET", "/v1/nothing", ""), 404, "unknown_url"},
      {"malformed HTTP", "GARBAGE\r\n\r\n", 400, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const TestResponse r = Send(c.raw);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.in_body.empty()) {
      EXPECT_NE(r.body.find(c.in_body), std::string::npos) << r.body;
    }
    if (c.status != 0 && !r.body.empty()) {
      EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
    }
  }
  // Slowloris: headers trickled slower than the header deadline are cut off.
  auto slow = Connect();
  ASSERT_NE(slow, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (char ch : std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa")) {
    if (!slow->Send(std::string(1, ch))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(3)) break;
  }
  EXPECT_TRUE(closed || slow->WaitClosed(2000)) << "a slowloris client kept its connection";
  // Cut off at the 500 ms header deadline (the 408 the server sends first may be lost to the
  // reset our next trickled byte provokes).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  // Still healthy, still generating.
  EXPECT_EQ(Send(Request("GET", "/healthz", "")).status, 200);
  const TestResponse ok =
      Send(Request("POST", chat, R"({"model":"stories260K","max_tokens":4,)" + msgs + "}"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(GatewayTest, SigtermLetsAStreamInFlightFinish) {
  PARAPET_REQUIRE_FIXTURE(model, "peaky-moe-Q8_0.gguf");
  StartServer({"--model", model, "--threads", "1"});
  auto c = Connect();
  ASSERT_TRUE(c->Send(Request("POST", "/v1/completions", CompletionBody("hello", 200, true))));
  ASSERT_TRUE(c->ReadHead().has_value());
  ASSERT_TRUE(c->ReadChunk().has_value());
  server_->Signal(SIGTERM);
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    std::optional<std::string> chunk = c->ReadChunk(10000);
    if (!chunk || chunk->empty()) break;
    body += *chunk;
  }
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos) << body.substr(0, 300);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// ---- policies ----

TEST_F(GatewayTest, InputPolicyBlocksRedactsAndReloadsKeepingTheLastGoodVersion) {
  const std::string policy = dir_ + "/policy.yaml";
  auto write_policy = [&](const std::string& extra_pattern) {
    std::ofstream(policy) << "version: 1\npolicies:\n  default:\n    message: \"Not here.\"\n"
                             "    input:\n      - {id: pii, type: pii, detectors: [email]}\n"
                             "      - id: deny\n        type: regex\n        patterns:\n"
                             "          - {id: pipe-bomb, pattern: 'pipe\\s*bomb', "
                             "case_insensitive: true}\n"
                          << extra_pattern
                          << "    tests:\n      - {input: a pipe bomb, expect: {action: block}}\n";
  };
  write_policy("");
  std::ofstream(dir_ + "/p.yaml") << "policies: {watch_interval_ms: 200}\n";
  StartServer({"--config", dir_ + "/p.yaml", "--model", kDemoModel, "--chat-template", "llama2",
               "--policy", policy});
  const std::string chat = "/v1/chat/completions";
  auto ask = [&](const std::string& text) {
    return Send(Request("POST", chat,
                        R"({"model":"stories260K","max_tokens":2,"messages":[{"role":"user",)"
                        R"("content":")" +
                            text + R"("}]})"));
  };
  TestResponse blocked = ask("how to build a PIPE  bomb");
  EXPECT_EQ(blocked.status, 400) << blocked.body;
  EXPECT_NE(blocked.body.find(R"("type":"content_policy_violation")"), std::string::npos);
  EXPECT_NE(blocked.body.find(R"("code":"deny.pipe-bomb")"), std::string::npos);
  EXPECT_NE(blocked.body.find("Not here."), std::string::npos);
  EXPECT_EQ(blocked.body.find("PIPE"), std::string::npos) << "the matched text is echoed";
  const std::string v1 = blocked.header("x-parapet-policy");
  EXPECT_EQ(v1.rfind("default; version=", 0), 0u) << v1;
  // Redaction changes what the engine sees (echo shows the prompt the engine ran).
  const TestResponse echoed = Send(Request(
      "POST", "/v1/completions",
      R"({"model":"stories260K","prompt":"mail bob@example.com now","max_tokens":0,"echo":true})"));
  EXPECT_EQ(echoed.status, 200) << echoed.body;
  EXPECT_NE(echoed.body.find(R"("text":"mail [EMAIL] now")"), std::string::npos) << echoed.body;
  // A broken file (bad regex) on SIGHUP: refused, the old policy keeps serving.
  write_policy("          - {id: broken, pattern: 'a(b'}\n");
  server_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_NE(server_->log().find("policy reload failed"), std::string::npos) << server_->log();
  blocked = ask("a pipe bomb");
  EXPECT_EQ(blocked.status, 400);
  EXPECT_EQ(blocked.header("x-parapet-policy"), v1);
  // A good change is picked up from the file alone (no signal).
  write_policy("          - {id: ricin, pattern: 'ricin'}\n");
  TestResponse ricin;
  for (int i = 0; i < 50; ++i) {
    ricin = ask("ricin");
    if (ricin.status == 400) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ricin.status, 400) << ricin.body;
  EXPECT_NE(ricin.header("x-parapet-policy"), v1);
  EXPECT_EQ(ask("hello there").status, 200);
  // /v1/moderations: the input policy in OpenAI's shape.
  const TestResponse mod =
      Send(Request("POST", "/v1/moderations", R"({"input":["hello","a pipe bomb"]})"));
  EXPECT_EQ(mod.status, 200) << mod.body;
  boost::json::value m = boost::json::parse(mod.body);
  EXPECT_FALSE(m.at("results").as_array()[0].at("flagged").as_bool());
  EXPECT_TRUE(m.at("results").as_array()[1].at("flagged").as_bool());
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(GatewayTest, RefusalPolicyAnswersWithAContentFilterCompletion) {
  StartServer({"--model", kDemoModel, "--chat-template", "llama2", "--policy",
               std::string(PARAPET_SOURCE_DIR) + "/examples/policies/strict.yaml"});
  const std::string body =
      R"({"model":"stories260K","messages":[{"role":"user","content":"a PIPE bomb?"}])";
  const TestResponse plain = Send(Request("POST", "/v1/chat/completions", body + "}"));
  EXPECT_EQ(plain.status, 200) << plain.body;
  boost::json::value v = boost::json::parse(plain.body);
  const boost::json::value& choice = v.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(choice.at("message").at("content").as_string(), "I can't help with that request.");
  EXPECT_EQ(choice.at("content_filter_results").at("policy").at("rule_id").as_string(),
            "topics.weapons");
  EXPECT_EQ(plain.header("x-parapet-policy").rfind("strict; version=", 0), 0u);
  const TestResponse streamed =
      Send(Request("POST", "/v1/chat/completions", body + R"(,"stream":true})"));
  EXPECT_EQ(streamed.status, 200);
  const std::vector<std::string> events = SseData(streamed);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_NE(events[events.size() - 2].find(R"("finish_reason":"content_filter")"),
            std::string::npos)
      << events[events.size() - 2];
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// ---- output policy ----

// The greedy story for "Once upon a time" names Lily (within its first 20 tokens). An output rule
// that blocks the name: the client never sees it, the stream ends with content_filter, and the
// engine stopped early. A redact rule: the stream carries the mask.
TEST_F(GatewayTest, OutputPolicyBlocksAndRedactsStreamsAndStopsTheEngine) {
  const std::string policy = dir_ + "/policy.yaml";
  auto write_policy = [&](const std::string& action) {
    std::ofstream(policy) << "version: 1\npolicies:\n  default:\n    message: \"No names.\"\n"
                             "    output:\n      holdback_chars: 32\n      stages:\n"
                             "        - {id: names, type: keywords, lists: [{name: name, words: "
                             "[Lily], action: "
                          << action << "}]}\n";
  };
  write_policy("block");
  StartServer({"--model", kDemoModel, "--chat-template", "llama2", "--policy", policy});
  const int kMaxTokens = 120;
  const std::string body = R"({"model":"stories260K","prompt":"Once upon a time","max_tokens":)" +
                           std::to_string(kMaxTokens) + R"(,"temperature":0)";
  const std::string stream = R"(,"stream":true,"stream_options":{"include_usage":true}})";

  const TestResponse blocked = Send(Request("POST", "/v1/completions", body + stream));
  EXPECT_EQ(blocked.status, 200) << blocked.body;
  const std::vector<std::string> events = SseData(blocked);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  const std::string text = StreamedText(blocked);
  EXPECT_EQ(text.find("Lily"), std::string::npos) << text;
  EXPECT_TRUE(text.starts_with(", there was a little girl named")) << text;
  boost::json::value finish = boost::json::parse(events[events.size() - 3]);
  const boost::json::value& choice = finish.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(choice.at("content_filter_results").at("policy").at("rule_id").as_string(),
            "names.name");
  EXPECT_EQ(choice.at("content_filter_results").at("policy").at("message").as_string(),
            "No names.");
  boost::json::value usage = boost::json::parse(events[events.size() - 2]);
  const int64_t generated = usage.at("usage").at("completion_tokens").as_int64();
  EXPECT_GT(generated, 0);
  EXPECT_LT(generated, kMaxTokens / 2) << "the engine should stop soon after the name";

  // The same on a whole response.
  const TestResponse whole = Send(Request("POST", "/v1/completions", body + "}"));
  EXPECT_EQ(whole.status, 200) << whole.body;
  boost::json::value w = boost::json::parse(whole.body);
  const boost::json::value& wc = w.at("choices").as_array()[0];
  EXPECT_EQ(wc.at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(std::string(wc.at("text").as_string().c_str()).find("Lily"), std::string::npos);
  EXPECT_LT(w.at("usage").at("completion_tokens").as_int64(), kMaxTokens / 2);

  // Logprobs would carry generated text past the guard: refused under an output policy.
  const TestResponse lp = Send(Request("POST", "/v1/completions", body + R"(,"logprobs":1})"));
  EXPECT_EQ(lp.status, 400) << lp.body;
  EXPECT_NE(lp.body.find(R"("param":"logprobs")"), std::string::npos) << lp.body;

  std::map<std::string, double> m =
      MetricsOnceAtLeast("parapet_generations_cancelled_total{reason=\"content_filter\"}", 2);
  EXPECT_EQ(m["parapet_generations_cancelled_total{reason=\"content_filter\"}"], 2)
      << Send(Request("GET", "/metrics", "")).body;
  EXPECT_EQ(m["parapet_output_rule_actions_total{rule=\"names.name\",action=\"block\"}"], 2);
  EXPECT_EQ(m["parapet_output_decisions_total{policy=\"default\",action=\"block\"}"], 2);
  EXPECT_GT(m["parapet_output_release_seconds_count"], 10);

  // The official client ends the stream normally and can read why.
  const std::string node_dir = std::string(PARAPET_SOURCE_DIR) + "/tests/integration";
  std::string out;
  if (RunCommand("node --version", &out) == 0 &&
      RunCommand("test -d " + node_dir + "/node_modules/openai", &out) == 0) {
    const std::string cmd = "NODE_EXTRA_CA_CERTS=" + tls_.ca_file + " node " + node_dir +
                            "/openai_stream_filter.mjs " + server_->url() +
                            " stories260K 'Once upon a time' " + std::to_string(kMaxTokens);
    ASSERT_EQ(RunCommand(cmd, &out), 0) << out;
    boost::json::value r = boost::json::parse(out);
    EXPECT_EQ(r.at("finish_reason").as_string(), "content_filter") << out;
    EXPECT_EQ(r.at("filter").at("policy").at("rule_id").as_string(), "names.name") << out;
    EXPECT_EQ(std::string(r.at("text").as_string().c_str()).find("Lily"), std::string::npos);
  } else {
    ADD_FAILURE() << "node or the openai npm package is missing: run scripts/setup.sh";
  }

  // Redact instead (reloaded): the mask replaces the name, the story goes on to max_tokens.
  write_policy("redact");
  server_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const TestResponse redacted = Send(Request("POST", "/v1/completions", body + stream));
  const std::string rtext = StreamedText(redacted);
  EXPECT_EQ(rtext.find("Lily"), std::string::npos) << rtext;
  EXPECT_NE(rtext.find("a little girl named [NAME]. She"), std::string::npos) << rtext;
  EXPECT_NE(redacted.chunks.size(), 0u);
  const std::vector<std::string> revents = SseData(redacted);
  ASSERT_GE(revents.size(), 3u);
  EXPECT_NE(revents[revents.size() - 3].find(R"("finish_reason":"length")"), std::string::npos)
      << revents[revents.size() - 3];
  const TestResponse rwhole = Send(Request("POST", "/v1/completions", body + "}"));
  EXPECT_EQ(boost::json::parse(rwhole.body).at("choices").as_array()[0].at("text").as_string(),
            rtext);

  // Chat streams go through the same guard: a rule that blocks on any letter stops the answer
  // before its first word, in a chat.completion.chunk with the content filter result.
  std::ofstream(policy) << "version: 1\npolicies:\n  default:\n    output:\n      stages:\n"
                           "        - {id: any, type: regex, patterns: [{id: letter, pattern: "
                           "'[A-Za-z]'}]}\n";
  server_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const TestResponse chat = Send(Request(
      "POST", "/v1/chat/completions",
      R"({"model":"stories260K","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"Tell me a story"}]})"));
  const std::vector<std::string> cevents = SseData(chat);
  ASSERT_GE(cevents.size(), 3u) << chat.body;
  EXPECT_EQ(cevents.back(), "[DONE]");
  std::string content;
  for (size_t i = 0; i + 1 < cevents.size(); ++i) {
    boost::json::value c = boost::json::parse(cevents[i]);
    const boost::json::object& delta = c.at("choices").as_array()[0].at("delta").as_object();
    if (delta.contains("content")) content += delta.at("content").as_string().c_str();
  }
  EXPECT_EQ(content.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            std::string::npos)
      << content;
  boost::json::value cfinish = boost::json::parse(cevents[cevents.size() - 2]);
  const boost::json::value& cchoice = cfinish.at("choices").as_array()[0];
  EXPECT_EQ(cchoice.at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(cchoice.at("content_filter_results").at("policy").at("rule_id").as_string(),
            "any.letter");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// The README's main command serves examples/demo.yaml: it must start and answer as described.
TEST_F(GatewayTest, DemoConfigurationServesWithTheDefaultPolicy) {
  StartServer({"--config", std::string(PARAPET_SOURCE_DIR) + "/examples/demo.yaml"});
  const std::string chat = "/v1/chat/completions";
  const TestResponse ok = Send(Request(
      "POST", chat,
      R"({"model":"stories260K","max_tokens":20,"messages":[{"role":"user","content":"Tell me a story"}]})"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("x-parapet-policy").rfind("default; version=", 0), 0u);
  const TestResponse blocked = Send(Request(
      "POST", chat,
      R"({"model":"stories260K","messages":[{"role":"user","content":"my key AKIAIOSFODNN7EXAMPLE"}]})"));
  EXPECT_EQ(blocked.status, 400) << blocked.body;
  EXPECT_NE(blocked.body.find("pii.aws_key"), std::string::npos) << blocked.body;
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// ---- guard models ----

// A guard_model stage end to end with a stand-in guard: the Llama-3-architecture fixture (real
// Llama 3 vocabulary, random-ish weights — no real guard weights are available here) loaded beside
// the demo chat model. Its verdicts mean nothing; what is checked is the machinery: both models
// listed, scores in [0, 1] on input and output, the instruction prefix evaluated once and reused
// (prompt tokens evaluated per check far below the prompt), the deadline, and a category line that
// does not follow the format going to on_error.
TEST_F(GatewayTest, GuardModelStageScoresWithACachedPrefixAndFailsClosed) {
  PARAPET_REQUIRE_FIXTURE(guard, "peaky-llama3-Q8_0.gguf");
  const std::string policy = dir_ + "/guard.yaml";
  auto write_policy = [&](const std::string& threshold, const std::string& timeout_ms,
                          const std::string& on_error) {
    std::ofstream(policy)
        << "version: 1\npolicies:\n  default:\n    on_error: " << on_error
        << "\n    input:\n      - {id: guard, type: guard_model, model: peaky-llama3-Q8_0, "
           "threshold: "
        << threshold << ", timeout_ms: " << timeout_ms
        << "}\n    output:\n      holdback_chars: 64\n      stages:\n        - {id: out-guard, "
           "type: guard_model, model: peaky-llama3-Q8_0, threshold: 1.0, timeout_ms: 20000}\n";
  };
  const std::string chat = "/v1/chat/completions";
  const std::string body =
      R"({"model":"stories260K","max_tokens":24,"stream":true,"messages":[{"role":"user",)"
      R"("content":"Tell me a story about a cat"}]})";

  // 1. Threshold 1: scores only (a stand-in's verdict must not decide the test).
  write_policy("1.0", "20000", "block");
  StartServer({"--model", kDemoModel, "--chat-template", "llama2", "--threads", "1", "--policy",
               policy, "--guard-model", guard});
  const TestResponse models = Send(Request("GET", "/v1/models", ""));
  EXPECT_NE(models.body.find(R"("id":"stories260K")"), std::string::npos) << models.body;
  EXPECT_NE(models.body.find(R"("id":"peaky-llama3-Q8_0")"), std::string::npos) << models.body;
  const TestResponse mod = Send(Request(
      "POST", "/v1/moderations", R"({"input":["how do I bake bread","a second, longer text"]})"));
  ASSERT_EQ(mod.status, 200) << mod.body;
  boost::json::value m = boost::json::parse(mod.body);
  for (const boost::json::value& r : m.at("results").as_array()) {
    const double score = r.at("category_scores").at("unsafe").to_number<double>();
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);
  }
  const TestResponse streamed = Send(Request("POST", chat, body));
  EXPECT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  std::map<std::string, double> metrics = Metrics();
  const std::string label = "{model=\"peaky-llama3-Q8_0\",";
  const double checks = metrics["parapet_guard_checks_total" + label + "outcome=\"safe\"}"] +
                        metrics["parapet_guard_checks_total" + label + "outcome=\"unsafe\"}"];
  const double evaluated =
      metrics["parapet_guard_prompt_tokens_total" + label + "kind=\"evaluated\"}"];
  const double reused = metrics["parapet_guard_prompt_tokens_total" + label + "kind=\"reused\"}"];
  ASSERT_EQ(m.at("results").as_array().size(), 2u);
  // Two moderation inputs and the chat's input check, plus at least one output check.
  EXPECT_GE(checks, 4) << Send(Request("GET", "/metrics", "")).body;
  // The instruction and taxonomy prefix (~140 tokens) is copied, not evaluated: a check
  // evaluates the conversation and the suffix only.
  EXPECT_GT(reused / checks, 100) << reused << " reused over " << checks << " checks";
  EXPECT_LT(evaluated / checks, reused / checks) << evaluated << " evaluated";
  std::printf("guard checks: %.0f, per check %.1f prompt tokens evaluated, %.1f reused\n", checks,
              evaluated / checks, reused / checks);
  // The guard runs as a lane of the chat model's scheduler: its reserve is part of the one KV
  // pool, and nothing is held once the checks are done.
  // Float keys and values; stories260K: 5 layers, 4 KV heads of 8 dims; the stand-in guard: 4
  // layers, 2 KV heads of 32 dims, a reserve of 4 sequences x its 1024-token context.
  const double chat_pool_bytes = metrics["parapet_engine_kv_pool_tokens"] * 2 * 4 * 5 * 32;
  const double guard_reserve_bytes = 4.0 * 1024 * 2 * 4 * 4 * 64;
  EXPECT_EQ(metrics["parapet_engine_kv_pool_bytes"], chat_pool_bytes + guard_reserve_bytes);
  EXPECT_EQ(metrics["parapet_engine_kv_bytes_in_use"], 0);
  EXPECT_EQ(metrics.count("parapet_guard_kv_tokens_in_use{model=\"peaky-llama3-Q8_0\"}"), 1u);
  EXPECT_EQ(metrics["parapet_guard_kv_tokens_in_use{model=\"peaky-llama3-Q8_0\"}"], 0);
  EXPECT_EQ(metrics["parapet_guard_checks_running{model=\"peaky-llama3-Q8_0\"}"], 0);
  // A text longer than the stand-in's 1024-token context: its end is judged, no error.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "the quick brown fox jumps. ";
  const TestResponse long_mod =
      Send(Request("POST", "/v1/moderations", R"({"input":")" + long_text + R"("})"));
  EXPECT_EQ(long_mod.status, 200) << long_mod.body;
  EXPECT_NE(long_mod.body.find(R"("unsafe":)"), std::string::npos) << long_mod.body;
  metrics = Metrics();
  EXPECT_EQ(metrics["parapet_guard_checks_total" + label + "outcome=\"error\"}"], 0);
  EXPECT_EQ(server_->Stop(), 0) << server_->log();

  // A check that cannot decide: on_error (block) answers the request; `outcome` was counted.
  auto expect_undecided = [&](const std::string& threshold, const std::string& timeout_ms,
                              const std::string& outcome) {
    write_policy(threshold, timeout_ms, "block");
    StartServer({"--model", kDemoModel, "--chat-template", "llama2", "--threads", "1", "--policy",
                 policy, "--guard-model", guard});
    const TestResponse r = Send(Request("POST", chat, body));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find(R"("code":"guard.error")"), std::string::npos) << r.body;
    EXPECT_GE(Metrics()["parapet_guard_checks_total" + label + "outcome=\"" + outcome + "\"}"], 1)
        << outcome;
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
  };
  // 2. A deadline no check can meet.
  expect_undecided("1.0", "1", "timeout");
  // 3. Threshold 0: every check asks for the category line, which the stand-in does not write in
  // the guard's format.
  expect_undecided("0.0", "20000", "unsafe");

  // A policy naming a model the server did not load: one clear error at start.
  std::ofstream(dir_ + "/unknown.yaml")
      << "version: 1\npolicies:\n  default:\n    input:\n      - {id: g, type: guard_model, "
         "model: llama-guard-9}\n";
  std::string out;
  EXPECT_EQ(
      RunCommand(ParapetBinary() + " serve --model " + kDemoModel + " --insecure-http " +
                     "--port 0 --policy " + dir_ + "/unknown.yaml --guard-model " + guard + " 2>&1",
                 &out),
      2)
      << out;
  EXPECT_NE(out.find("no guard model 'llama-guard-9' is loaded (loaded: peaky-llama3-Q8_0)"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace parapet::gateway::testing
