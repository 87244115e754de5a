// Guard-model check cost: a Llama Guard 3 prompt (S1–S14 taxonomy, one user turn) scored by a
// synthesised dense guard model of Llama-3.2-1B shape (random weights; speed does not depend on
// them), with the instruction prefix's KV cache reused (what the gateway does) and, as the
// baseline in the same run, with every check evaluating its whole prompt. Prints per-check
// latency (p50 over --checks runs, one at a time: what one request's input check adds) and the
// aggregate checks/s of --concurrency checks at once (batched by the guard's scheduler), and the
// latency of a check whose verdict asks for the category line. Then a streamed response judged at
// every sentence end, with and without the recent checks' caches.
//   parapet_guard_bench [--dir DIR] [--threads N] [--checks N] [--concurrency K]
//                       [--encoding Q8_0|Q4_0|Q4_K_M] [--layers L] [--vocab GGUF]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/synthetic_model.h"
#include "gateway/guard_models.h"
#include "pipeline/internal/guard_prompt.h"

namespace {

using Clock = std::chrono::steady_clock;
using parapet::pipeline::GuardCheck;
using parapet::pipeline::internal::GuardPromptRenderer;
using parapet::pipeline::internal::GuardRole;
using parapet::pipeline::internal::GuardTurn;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// p50 latency of `n` checks made by `make` (one at a time) and the prompt tokens the last one
// evaluated; !ok (and the error on stderr) when a check fails.
struct Timing {
  bool ok = true;
  double p50 = 0;
  int64_t evaluated = 0;
};
template <typename MakeCheck>
Timing Time(const parapet::gateway::GuardModel& model, int n, MakeCheck make) {
  Timing t;
  std::vector<double> s;
  for (int i = 0; i < n; ++i) {
    const GuardCheck c = make(i);
    const Clock::time_point t0 = Clock::now();
    auto r = model.Score(c);
    s.push_back(Seconds(t0, Clock::now()));
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      t.ok = false;
      return t;
    }
    t.evaluated = r->prompt_tokens_evaluated;
  }
  std::sort(s.begin(), s.end());
  t.p50 = s[s.size() / 2];
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "bench-models", encoding = "Q8_0";
  std::string vocab = std::string(PARAPET_SHARED_DIR) + "/data/tokenizer/ggml-vocab-llama-bpe.gguf";
  int threads = 0, checks = 3, concurrency = 4, layers = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--checks") == 0) checks = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--concurrency") == 0) {
      concurrency = std::max(1, std::atoi(argv[i + 1]));
    }
    if (std::strcmp(argv[i], "--encoding") == 0) encoding = argv[i + 1];
    if (std::strcmp(argv[i], "--layers") == 0) layers = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--vocab") == 0) vocab = argv[i + 1];
  }
  // Llama 3.2 1B (Llama Guard 3 1B's base): d_model 2048, 16 layers, 32 heads / 8 KV heads, FFN
  // 8192, and Llama 3's tokenizer (128256 tokens) from `--vocab`.
  parapet::bench::SyntheticShape shape;
  shape.n_embd = 2048;
  shape.n_layer = layers;
  shape.n_head = 32;
  shape.n_head_kv = 8;
  shape.n_ff = 8192;
  shape.n_expert = 0;
  shape.n_expert_used = 0;
  shape.n_ctx = 4096;
  shape.vocab_from = vocab;
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/guard-1b-" + std::to_string(layers) + "L-" + encoding + ".gguf";
  if (!std::filesystem::exists(path)) {
    std::printf("writing %s ...\n", path.c_str());
    parapet::Status s = parapet::bench::WriteSyntheticModel(path, shape, encoding);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 2;
    }
  }
  const GuardPromptRenderer renderer(parapet::pipeline::GuardTemplate::kLlamaGuard3, {});
  auto check_for = [&](int i) {
    const std::string text = "Request " + std::to_string(i) +
                             ": how do I get my neighbour's dog to stop barking at night without "
                             "hurting it? We have tried everything our vet suggested.";
    const GuardTurn turn{GuardRole::kUser, text};
    GuardCheck c;
    c.prompt = renderer.Render(GuardRole::kUser, {&turn, 1});
    c.continue_at = 2;  // the score only: one forward pass over the prompt
    return c;
  };
  std::printf(
      "guard model %s (%d layers, d_model 2048), %s threads, one check at a time x %d, "
      "then %d at once\n",
      path.c_str(), layers, threads == 0 ? "all" : std::to_string(threads).c_str(), checks,
      concurrency);
  // The synthetic model with `gc`'s settings on a scheduler of its own; null (and the error on
  // stderr) when it cannot load.
  auto load = [&](parapet::gateway::GuardModelConfig gc) {
    gc.path = path;
    parapet::engine::ModelOptions mo;
    mo.n_threads = threads;
    auto model = parapet::gateway::GuardModel::Load(gc, mo);
    if (!model.ok()) std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return model.ok() ? *model : nullptr;
  };
  double p50[2] = {0, 0};
  for (const bool reuse : {false, true}) {
    parapet::gateway::GuardModelConfig gc;
    gc.max_sequences = concurrency;
    gc.reuse_prefix = reuse;
    const std::shared_ptr<parapet::gateway::GuardModel> model = load(gc);
    if (model == nullptr) return 2;
    // Warm-up: page in the weights; with reuse, also build the prefix's KV once.
    (void)model->Score(check_for(-1));
    const Timing safe = Time(*model, checks, check_for);
    // An unsafe verdict: the category line as well ("unsafe" forced, then 3 greedy tokens, about
    // what a real guard writes: "\nS1" and the end of turn). With reuse it continues from the
    // verdict's cache; the baseline evaluates the whole prompt again.
    const Timing unsafe = Time(*model, checks, [&](int i) {
      GuardCheck c = check_for(500 + i);
      c.continue_at = 0;
      c.max_continuation_tokens = 3;
      return c;
    });
    if (!safe.ok || !unsafe.ok) return 2;
    p50[reuse] = safe.p50;
    // Throughput: `concurrency` threads, `checks` checks each.
    const Clock::time_point t0 = Clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < concurrency; ++w) {
      workers.emplace_back([&, w] {
        for (int i = 0; i < checks; ++i) (void)model->Score(check_for(1000 * (w + 1) + i));
      });
    }
    for (std::thread& t : workers) t.join();
    const double secs = Seconds(t0, Clock::now());
    std::printf(
        "%-22s one check: p50 %7.3f s (%lld prompt tokens evaluated)   %d at once: %6.2f "
        "checks/s   unsafe, with the category line: p50 %7.3f s (%lld evaluated)\n",
        reuse ? "prefix reused" : "whole prompt (baseline)", safe.p50,
        static_cast<long long>(safe.evaluated), concurrency, concurrency * checks / secs,
        unsafe.p50, static_cast<long long>(unsafe.evaluated));
  }
  std::printf("prefix reuse: one check %.2fx faster\n", p50[0] / p50[1]);

  // A streamed response judged at every sentence end, as the output guard does: each check is
  // the whole response so far, answering one user turn. Without, then with, the recent checks'
  // caches (the instruction prefix is reused either way).
  const char* sentences[] = {
      "To keep a dog calm at night, start with a long walk in the evening.",
      " A tired dog barks less, so add a game of fetch if you can.",
      " Keep the curtains closed so it cannot see people passing by.",
      " A radio playing quietly can cover the noises that set it off.",
      " Reward quiet moments with a treat, and ignore the barking itself.",
      " If it barks at a door, teach it to go to its bed instead.",
      " Ask your neighbour to tell you when it happens, so you can see a pattern.",
      " If nothing helps after a few weeks, a trainer can look at the cause."};
  double stream_secs[2] = {0, 0};
  for (const int cached : {0, 4}) {
    parapet::gateway::GuardModelConfig gc;
    gc.cached_checks = cached;
    const std::shared_ptr<parapet::gateway::GuardModel> model = load(gc);
    if (model == nullptr) return 2;
    (void)model->Score(check_for(-1));  // the instruction prefix, built once
    const std::string question = "How do I stop my dog barking at night?";
    std::string response;
    int64_t evaluated = 0;
    const Clock::time_point t0 = Clock::now();
    for (const char* sentence : sentences) {
      response += sentence;
      const GuardTurn turns[] = {{GuardRole::kUser, question}, {GuardRole::kAgent, response}};
      GuardCheck c;
      c.prompt = renderer.Render(GuardRole::kAgent, turns);
      c.continue_at = 2;
      auto r = model->Score(c);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 2;
      }
      evaluated += r->prompt_tokens_evaluated;
    }
    stream_secs[cached > 0] = Seconds(t0, Clock::now());
    std::printf(
        "stream of %zu sentences, %-28s %7.3f s for its checks (%lld prompt tokens evaluated)\n",
        std::size(sentences), cached > 0 ? "recent checks cached:" : "each check from the prefix:",
        stream_secs[cached > 0], static_cast<long long>(evaluated));
  }
  std::printf("recent checks cached: a stream's checks %.2fx faster\n",
              stream_secs[0] / stream_secs[1]);
  return 0;
}
