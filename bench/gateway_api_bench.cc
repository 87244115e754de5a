// Cost of the gateway's per-request API work (Google Benchmark): strict JSON decoding and request
// parsing for a typical and a long chat body, response and chunk encoding, API-key lookup, rate
// limiting and metrics. Figures in bench/README.md.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "gateway/api_keys.h"
#include "gateway/json_strict.h"
#include "gateway/metrics.h"
#include "gateway/openai_request.h"
#include "gateway/openai_response.h"
#include "gateway/rate_limiter.h"

namespace parapet::gateway {
namespace {

// What the openai clients send for a short chat (about 300 bytes).
const std::string kShortChat =
    R"({"messages":[{"role":"system","content":"You are a helpful assistant."},)"
    R"({"role":"user","content":"Write a haiku about the sea, please. Keep it short."}],)"
    R"("model":"mixtral","max_tokens":64,"temperature":0.7,"top_p":0.95,"stream":true,)"
    R"("stream_options":{"include_usage":true},"seed":42,"stop":["\n\n"]})";

// A 40-turn conversation of about 16 KB, with escapes and non-ASCII text.
std::string LongChat() {
  std::string body = R"({"model":"mixtral","messages":[)";
  for (int i = 0; i < 40; ++i) {
    if (i) body += ",";
    body += R"({"role":")" + std::string(i % 2 ? "assistant" : "user") + R"(","content":")";
    for (int j = 0; j < 8; ++j) body += R"(Line \"quoted\" über café \u00e9 and more text.\n)";
    body += R"("})";
  }
  return body + R"(],"max_tokens":256})";
}

void BM_ParseStrictJson(benchmark::State& state) {
  std::string body = state.range(0) ? LongChat() : kShortChat;
  for (auto _ : state) {
    auto v = ParseStrictJson(body);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseStrictJson)->Arg(0)->Arg(1);

void BM_ParseChatCompletionRequest(benchmark::State& state) {
  std::string body = state.range(0) ? LongChat() : kShortChat;
  for (auto _ : state) {
    auto r = ParseChatCompletionRequest(std::string_view(body));
    if (!r.ok()) state.SkipWithError("rejected");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseChatCompletionRequest)->Arg(0)->Arg(1);

ResponseMeta Meta() { return {NewResponseId("chatcmpl-"), 1700000000, "mixtral", "fp_0123abcd"}; }

void BM_ContentChunk(benchmark::State& state) {
  ChatChunkEncoder enc(Meta(), true, state.range(0) > 0);
  std::vector<TokenLogprob> lp = {{" sea", -0.25, {}}};
  for (int i = 0; i < state.range(0); ++i) lp[0].top.push_back({" tok" + std::to_string(i), -2.0});
  for (auto _ : state) {
    std::string s = SseData(enc.ContentChunk(" sea", lp));
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_ContentChunk)->Arg(0)->Arg(5);

void BM_EncodeChatCompletion(benchmark::State& state) {
  ChatCompletion c;
  c.meta = Meta();
  c.content = std::string(1000, 'x');
  c.finish_reason = "stop";
  c.usage = {300, 250};
  for (auto _ : state) {
    std::string s = EncodeChatCompletion(c);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_EncodeChatCompletion);

void BM_KeyStoreAuthenticate(benchmark::State& state) {
  std::vector<ApiKeyEntry> entries;
  std::string last;
  for (int i = 0; i < state.range(0); ++i) {
    auto k = NewApiKey();
    last = k->key;
    entries.push_back({"", k->hash, "t" + std::to_string(i), {}});
  }
  auto store = KeyStore::Create(std::move(entries));
  std::string header = "Bearer " + last;
  for (auto _ : state) {
    auto e = store->Authenticate(header);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_KeyStoreAuthenticate)->Arg(1)->Arg(100);

void BM_RateLimiterAcquireRelease(benchmark::State& state) {
  RateLimiter limiter;
  RateLimits limits{1e9, 1000000000, 1000000000000};
  for (auto _ : state) {
    Admission a = limiter.TryAcquire("sha256:key", limits, 300);
    limiter.Release("sha256:key", a, 100);
  }
}
BENCHMARK(BM_RateLimiterAcquireRelease)->Threads(1)->Threads(2);

void BM_MetricsCounterWithLabels(benchmark::State& state) {
  MetricsRegistry reg;
  auto& family = reg.AddCounter("requests_total", "R.", {"route", "status"});
  for (auto _ : state) family.WithLabels({"/v1/chat/completions", "200"}).Inc();
}
BENCHMARK(BM_MetricsCounterWithLabels);

void BM_MetricsRender(benchmark::State& state) {
  MetricsRegistry reg;
  auto& family = reg.AddCounter("requests_total", "R.", {"route", "status"});
  auto& hist = reg.AddHistogram("latency_seconds", "L.", LatencyBucketsSeconds(), {"route"});
  for (const char* route : {"chat", "completions", "models", "metrics"}) {
    for (const char* status : {"200", "400", "401", "429", "503"})
      family.WithLabels({route, status}).Inc();
    hist.WithLabels({route}).Observe(0.2);
  }
  reg.AddCallbackGauge("queue_depth", "Q.", [] { return 3.0; });
  for (auto _ : state) {
    std::string s = reg.Render();
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_MetricsRender);

}  // namespace
}  // namespace parapet::gateway

BENCHMARK_MAIN();
