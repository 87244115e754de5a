// Sampler::Sample() cost per generated token (Google Benchmark), for Mistral's 32000-token and
// Llama-3's 128256-token vocabularies, with the common sampling settings, and with top-5
// log-probabilities requested or not. "flat" logits (N(0, 3^2)) are the worst case for top-p.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "engine/sampler.h"

namespace parapet::engine {
namespace {

std::vector<float> Logits(int32_t n_vocab, bool flat) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, flat ? 3.0f : 1.0f);
  std::vector<float> v(static_cast<size_t>(n_vocab));
  for (float& x : v) x = normal(rng);
  if (!flat) {
    for (int i = 0; i < 20; ++i) v[rng() % v.size()] += 12.0f;  // a few likely tokens
  }
  return v;
}

// args: n_vocab, setting, n_logprobs, flat
void BM_Sample(benchmark::State& state) {
  const auto n_vocab = static_cast<int32_t>(state.range(0));
  SamplingParams p;
  switch (state.range(1)) {
    case 0:
      p.temperature = 0;  // greedy
      break;
    case 1:
      p.temperature = 0.7f;
      break;
    case 2:
      p.temperature = 0.7f;
      p.top_k = 40;
      p.top_p = 0.9f;
      break;
    case 3:
      p.temperature = 0.7f;
      p.top_p = 0.9f;
      break;
    default:
      p.temperature = 0.7f;
      p.min_p = 0.05f;
  }
  p.n_logprobs = static_cast<int32_t>(state.range(2));
  const std::vector<float> logits = Logits(n_vocab, state.range(3) != 0);
  Sampler sampler(p, n_vocab);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.Sample(logits).id);
}

// Settings: 0 greedy, 1 T=0.7, 2 T=0.7 top_k=40 top_p=0.9, 3 T=0.7 top_p=0.9, 4 T=0.7 min_p=0.05.
BENCHMARK(BM_Sample)
    ->ArgNames({"vocab", "setting", "logprobs", "flat"})
    ->ArgsProduct({{32000, 128256}, {0, 1, 2, 3, 4}, {0, 5}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace parapet::engine

BENCHMARK_MAIN();
